"""Configuration editing helpers: the diff shown before apply, and a Modbus device from a form.

The configuration is YAML (see ``config/*.yaml``). A device added through the form is inserted as
text at the end of the top-level ``devices:`` list, so the person's comments and layout survive; the
daemon then validates the whole text (``validate_config``) before anything is applied.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass

_TOP_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\s*:")
_DEVICE_ID = re.compile(r"^[A-Za-z0-9_.\-]+$")
MODBUS_TYPES = (
    "bool",
    "int16",
    "uint16",
    "int32",
    "uint32",
    "int64",
    "uint64",
    "float32",
    "float64",
    "string",
)


def unified_diff(old: str, new: str, path: str = "config") -> list[str]:
    """The lines of a unified diff from ``old`` to ``new`` (empty when they are equal)."""
    return list(
        difflib.unified_diff(
            old.splitlines(), new.splitlines(), f"{path} (running)", f"{path} (edited)", lineterm=""
        )
    )


@dataclass(frozen=True, slots=True)
class ModbusTagForm:
    """One tag of the add-device form."""

    name: str
    address: int
    data_type: str = "uint16"
    unit: str = ""
    writable: bool = False


@dataclass(frozen=True, slots=True)
class ModbusDeviceForm:
    """The add-a-Modbus-TCP-device form."""

    device_id: str
    host: str
    port: int = 502
    unit: int = 1
    poll_interval_s: float = 1.0
    byte_order: str = "ABCD"
    tags: tuple[ModbusTagForm, ...] = ()


def form_problems(form: ModbusDeviceForm) -> list[str]:
    """Every problem of the form that is clear before asking the daemon (which checks the rest)."""
    problems = []
    if not _DEVICE_ID.match(form.device_id):
        problems.append(f"device id {form.device_id!r}: use letters, digits, '.', '_' or '-' (no spaces)")
    if not form.host.strip():
        problems.append("host: empty; give the device's IP address or name")
    if not 1 <= form.port <= 65535:
        problems.append(f"port {form.port}: expected 1..65535")
    if not 0 <= form.unit <= 255:
        problems.append(f"unit {form.unit}: expected 0..255")
    if form.poll_interval_s <= 0:
        problems.append(f"poll interval {form.poll_interval_s}: expected more than 0 s")
    if not form.tags:
        problems.append("tags: add at least one tag")
    seen: set[str] = set()
    for i, tag in enumerate(form.tags):
        if not tag.name.strip():
            problems.append(f"tag {i + 1}: the name is empty")
        if tag.name in seen:
            problems.append(f"tag {i + 1}: the name {tag.name!r} is used twice")
        seen.add(tag.name)
        if tag.data_type not in MODBUS_TYPES:
            allowed = ", ".join(MODBUS_TYPES)
            problems.append(f"tag {tag.name!r}: type {tag.data_type!r}, expected one of {allowed}")
        if tag.address < 0:
            problems.append(f"tag {tag.name!r}: address {tag.address} is negative")
    return problems


def _q(text: str) -> str:
    """A YAML scalar that is always read back as this exact string (JSON strings are YAML)."""
    return json.dumps(text, ensure_ascii=False)


def render_device(form: ModbusDeviceForm, indent: str = "  ") -> list[str]:
    """The YAML lines of one device as an item of the ``devices:`` list."""
    lines = [
        f"{indent}- id: {_q(form.device_id)}",
        f"{indent}  protocol: modbus_tcp",
        f"{indent}  host: {_q(form.host)}",
        f"{indent}  port: {form.port}",
        f"{indent}  unit: {form.unit}",
        f"{indent}  poll_interval_s: {form.poll_interval_s:g}",
        f"{indent}  byte_order: {form.byte_order}",
        f"{indent}  tags:",
    ]
    for tag in form.tags:
        extra = (f", unit: {_q(tag.unit)}" if tag.unit else "") + (", writable: true" if tag.writable else "")
        lines.append(
            f"{indent}    - {{name: {_q(tag.name)}, address: {tag.address}, type: {tag.data_type}{extra}}}"
        )
    return lines


def add_modbus_device(text: str, form: ModbusDeviceForm) -> str:
    """Return ``text`` with the device appended to its top-level ``devices:`` list.

    An empty ``devices: []`` is replaced by a block list; a file without ``devices:`` gets one at the
    end. Everything else of the text is kept byte for byte.
    """
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if re.match(r"^devices\s*:", line)), None)
    if start is None:
        body = [*lines, "", "devices:", *render_device(form)]
        return "\n".join(body) + "\n"
    if re.match(r"^devices\s*:\s*\[\s*\]\s*(#.*)?$", lines[start]):
        lines[start] = "devices:"
    end = start + 1
    while end < len(lines) and not _TOP_KEY.match(lines[end]):
        end += 1
    # keep blank lines and comments that precede the next top-level key after the new device
    insert_at = end
    while insert_at - 1 > start and (not lines[insert_at - 1].strip() or lines[insert_at - 1][0] == "#"):
        insert_at -= 1
    indent = "  "
    for line in lines[start + 1 : end]:
        m = re.match(r"^(\s*)- ", line)
        if m:
            indent = m.group(1)
            break
    new = [*lines[:insert_at], "", *render_device(form, indent), *lines[insert_at:]]
    return "\n".join(new) + "\n"


def parse_tag_lines(text: str) -> tuple[list[ModbusTagForm], list[str]]:
    """Parse the add-device form's tag box: one tag a line, ``name address type [unit] [w]``.

    ``w`` (or ``writable``) as the last word marks the tag writable; ``#`` starts a comment.
    Returns the tags and every problem, each naming its line.
    """
    tags: list[ModbusTagForm] = []
    problems: list[str] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        writable = words[-1].lower() in ("w", "writable")
        if writable:
            words = words[:-1]
        if len(words) not in (3, 4):
            problems.append(f"line {number}: expected `name address type [unit] [w]`, found {raw.strip()!r}")
            continue
        name, address, data_type = words[0], words[1], words[2].lower()
        unit = words[3] if len(words) == 4 else ""
        try:
            number_address = int(address, 0)
        except ValueError:
            problems.append(f"line {number}: address {address!r} is not a number")
            continue
        tags.append(ModbusTagForm(name, number_address, data_type, unit, writable))
    return tags, problems


def add_tags_to_device(text: str, device_id: str, tag_lines: list[str]) -> str:
    """Append ``tag_lines`` (YAML flow mappings) to the ``tags:`` list of device ``device_id``.

    Raises:
        ValueError: no device with that id, or it has no block ``tags:`` list to append to.
    """
    lines = text.splitlines()
    id_pattern = re.compile(r"^(\s*)-\s+id:\s*[\"']?" + re.escape(device_id) + r"[\"']?\s*(#.*)?$")
    start = next((i for i, line in enumerate(lines) if id_pattern.match(line)), None)
    if start is None:
        raise ValueError(f"no device {device_id!r} in the configuration")
    item_indent = len(id_pattern.match(lines[start]).group(1))  # type: ignore[union-attr]
    end = start + 1
    while end < len(lines):
        line = lines[end]
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if stripped and not stripped.startswith("#") and indent <= item_indent:
            break
        end += 1
    tags_at = next((i for i in range(start, end) if re.match(r"^\s*tags:\s*$", lines[i])), None)
    if tags_at is None:
        raise ValueError(f"device {device_id!r} has no `tags:` block list to add to; add the tags by hand")
    last = tags_at
    for i in range(tags_at + 1, end):
        if lines[i].strip() and not lines[i].lstrip().startswith("#"):
            last = i
    tag_indent = " " * (len(lines[tags_at]) - len(lines[tags_at].lstrip()) + 2)
    new = [*lines[: last + 1], *(f"{tag_indent}- {t}" for t in tag_lines), *lines[last + 1 :]]
    return "\n".join(new) + "\n"


def opcua_tag_line(name: str, node_id: str, writable: bool) -> str:
    """One OPC UA tag as a YAML flow mapping."""
    return f"{{name: {_q(name)}, node_id: {_q(node_id)}" + (", writable: true}" if writable else "}")
