"""docs/control-plane.md is exactly what the contract renders, and the contract stays pure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gateway.control.contract import docgen

ROOT = Path(__file__).resolve().parents[2]


def test_document_matches_the_contract() -> None:
    committed = (ROOT / "docs" / "control-plane.md").read_text(encoding="utf-8")
    assert committed == docgen.render(), (
        "docs/control-plane.md is out of date: run "
        "`.venv/bin/python -m gateway.control.contract.docgen > docs/control-plane.md`"
    )


def test_every_command_and_topic_appears_in_the_document() -> None:
    from gateway.control import contract as c

    text = docgen.render()
    for name in c.CommandName:
        assert f"`{name.value}`" in text
    for message_type in c.PAYLOAD_TYPES.values():
        assert f"### `{message_type.__name__}`" in text


def test_field_docs_reads_continuation_lines() -> None:
    class Example:
        """Summary.

        Attributes:
            first: one line
                that goes on.
            second: another.
        """

    assert docgen.field_docs(Example) == {"first": "one line that goes on.", "second": "another."}


def test_importing_the_contract_loads_no_other_daemon_module() -> None:
    code = (
        "import sys; import gateway.control.contract; "
        "print(sorted(m for m in sys.modules if m.startswith(('gateway', 'sparkplug', 'drivers', 'paho'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    loaded = eval(out)  # a printed list of str
    assert all(m == "gateway" or m.startswith("gateway.control") for m in loaded), loaded
    assert not any(
        m.startswith("gateway.control.") and not m.startswith("gateway.control.contract") for m in loaded
    )
