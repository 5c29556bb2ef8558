"""What the Sparkplug births seen so far declare, so that DATA and CMD metrics show as ``name=value``.

A metric in NDATA/DDATA/NCMD/DCMD normally carries only its alias and no datatype (§7), so on its own
it reads ``#14=4294966808`` where the technician expects ``motor_speed=-488``. The tracker decodes each
NBIRTH/DBIRTH when it arrives (births are rare; every other message stays raw until its row is shown)
and hands each message the declarations current for its node or device. A record keeps the mapping it
was given, and a birth replaces the mapping rather than changing it, so a row shown later still reads
its message with the birth that message belonged to, even after a rebirth that reassigned aliases.

A UI that attached after the births has no declarations until the next birth (births are not retained;
R on the Uplink screen asks for one): such metrics keep showing as ``#alias=raw value``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from sparkplug import SparkplugError, decode_payload
from sparkplug.datatypes import DataType


@dataclass(frozen=True, slots=True)
class Declared:
    """One metric as its birth declared it."""

    name: str
    datatype: DataType


Declarations = Mapping[int | str, Declared]
"""By alias (int) and by name (str)."""

_Source = tuple[str, str, str | None]  # group, edge node, device


class BirthTracker:
    """Per node and device, the declarations of the current birth; deaths forget them."""

    def __init__(self) -> None:
        self._current: dict[_Source, Declarations] = {}
        self.births = 0
        """Births decoded so far (none: every alias-only metric shows as ``#alias``)."""

    def declarations_for(self, topic: str, payload: bytes) -> Declarations | None:
        """Track ``topic``'s message (a ``spBv1.0/...`` topic) and return the declarations it is read with,
        or ``None`` when no birth is known for its sender."""
        parts = topic.split("/")
        if len(parts) < 4:
            return None  # STATE or not Sparkplug: nothing declared
        kind = parts[2]
        source: _Source = (parts[1], parts[3], parts[4] if len(parts) > 4 else None)
        if kind in {"NBIRTH", "DBIRTH"}:
            if kind == "NBIRTH":
                self._forget_node(source)
            try:
                declared = _declare(payload)
            except SparkplugError:
                self._current.pop(source, None)  # an undecodable birth: its predecessor is void too
                return None
            self._current[source] = declared
            self.births += 1
            return declared
        if kind == "NDEATH":
            self._forget_node(source)
            return None
        if kind == "DDEATH":
            return self._current.pop(source, None)
        return self._current.get(source)

    def _forget_node(self, source: _Source) -> None:
        group, node = source[0], source[1]
        for known in [s for s in self._current if s[0] == group and s[1] == node]:
            del self._current[known]


def _declare(payload: bytes) -> Declarations:
    declared: dict[int | str, Declared] = {}
    for metric in decode_payload(payload).metrics:
        if metric.name is None:
            continue
        entry = Declared(metric.name, metric.datatype)
        declared[metric.name] = entry
        if metric.alias is not None:
            declared[metric.alias] = entry
    return MappingProxyType(declared)
