"""Regenerate ``sparkplug_b_pb2.py`` from ``sparkplug/sparkplug_b.proto``.

Run from the repository root::

    .venv/bin/python -m sparkplug._generated.regenerate

It calls ``python -m grpc_tools.protoc -I sparkplug --python_out=sparkplug/_generated sparkplug_b.proto``
(protoc from the ``grpcio-tools`` wheel, in the ``test`` extra) and prepends a header saying so. The test
``tests/sparkplug/test_generated.py`` regenerates into a temporary directory and fails if the checked-in
module differs, so edit the ``.proto`` and run this, never edit the generated module by hand.

The generated code calls ``ValidateProtobufRuntimeVersion`` with the protobuf version of the protoc that
made it; ``pyproject.toml``'s protobuf lower bound must be at least that version.
"""

from __future__ import annotations

import sys
from pathlib import Path

PROTO_DIR = Path(__file__).resolve().parent.parent
PROTO_NAME = "sparkplug_b.proto"
MODULE_NAME = "sparkplug_b_pb2.py"
HEADER = (
    "# Generated from sparkplug/sparkplug_b.proto; do not edit by hand. Regenerate with:\n"
    "#     .venv/bin/python -m sparkplug._generated.regenerate\n"
    "# which runs: python -m grpc_tools.protoc -I sparkplug \\\n"
    "#     --python_out=sparkplug/_generated sparkplug_b.proto\n"
)


def regenerate(out_dir: Path) -> Path:
    """Write ``sparkplug_b_pb2.py`` (with our header) into ``out_dir`` and return its path.

    Raises:
        RuntimeError: protoc failed (its exit code is in the message).
    """
    from grpc_tools import protoc

    out_dir.mkdir(parents=True, exist_ok=True)
    code = protoc.main(["grpc_tools.protoc", f"-I{PROTO_DIR}", f"--python_out={out_dir}", PROTO_NAME])
    if code != 0:
        raise RuntimeError(f"protoc failed with exit code {code} on {PROTO_DIR / PROTO_NAME}")
    target = out_dir / MODULE_NAME
    target.write_text(HEADER + target.read_text(encoding="utf-8"), encoding="utf-8")
    return target


if __name__ == "__main__":
    written = regenerate(Path(__file__).resolve().parent)
    print(f"wrote {written}", file=sys.stderr)
