"""The edge-node core as the daemon runs it: :class:`sparkplug.EdgeNode` plus two counters the control
plane shows and the core keeps to itself.

- ``seq``: the ``seq`` of the last NBIRTH/DBIRTH/NDATA/DDATA/DDEATH the core produced (0..255), or
  ``None`` before the first NBIRTH. One counter for node and devices, reset to 0 by every NBIRTH
  (`payloads-sequence-num-incrementing`, `payloads-nbirth-seq`).
- ``nbirths`` / ``rebirths``: NBIRTHs produced since start, and those that were not the first of
  their MQTT session (a host's NCMD ``Node Control/Rebirth``, the control plane's ``rebirth``).

Only the outputs of :meth:`EdgeNode.handle` are looked at; the core's behaviour is unchanged. Time and
I/O stay with the caller, as for the core itself.
"""

from __future__ import annotations

from sparkplug import EdgeNode, Event, MessageType, Output, Publish, SetWill


class ObservedEdgeNode(EdgeNode):
    """``EdgeNode`` whose outputs are counted (see the module docstring)."""

    seq: int | None = None  # instance attributes below; class default for mypy
    nbirths: int = 0
    rebirths: int = 0
    _born_in_session: bool = False

    def handle(self, event: Event, now: int) -> list[Output]:
        outputs = super().handle(event, now)
        for output in outputs:
            if isinstance(output, SetWill):
                # ConnectStarting: a new MQTT session begins; its first NBIRTH is not a rebirth
                self._born_in_session = False
            if not isinstance(output, Publish):
                continue
            if output.message_type is MessageType.NBIRTH:
                self.nbirths += 1
                if self._born_in_session:
                    self.rebirths += 1
                self._born_in_session = True
            if output.seq is not None:
                self.seq = output.seq
        return outputs
