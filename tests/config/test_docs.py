"""docs/configuration.md is exactly what the configuration model renders."""

from __future__ import annotations

from pathlib import Path

from gateway.config import docgen

ROOT = Path(__file__).resolve().parents[2]


def test_configuration_reference_matches_the_model() -> None:
    committed = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert committed == docgen.render(), (
        "docs/configuration.md is out of date: run "
        "`.venv/bin/python -m gateway.config.docgen > docs/configuration.md`"
    )


def test_every_section_is_documented() -> None:
    text = docgen.render()
    for section in (
        "GatewayConfig",
        "IdentityConfig",
        "BrokerConfig",
        "ModbusDeviceConfig",
        "OpcUaTagConfig",
    ):
        assert f"## {section}" in text
