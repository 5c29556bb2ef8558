"""Primary Host STATE gate (Sparkplug 3.0 §9), a core without I/O, for sessions that forward plain data.

A STATE message is acted on only when it is *valid*: the topic names our configured host, the payload
decodes, and (3.0) its timestamp is >= the last one we accepted from that host **on that server**
(``…phid-wait-timestamp``: equality is valid, because a host's Will and birth carry the same timestamp).
An older offline is a stale Will from a previous host session and must not make us leave
(``operational-behavior-edge-node-termination-host-offline-timestamp``). The memory is kept across
reconnects, keyed by server. The 2.2 form has no timestamp: the newest message wins.
"""

from __future__ import annotations

import enum
import logging

from sparkplug.errors import SparkplugDecodeError
from sparkplug.state import decode_legacy_state, decode_state
from sparkplug.topics import state_topic

log = logging.getLogger(__name__)


class HostVerdict(enum.Enum):
    ONLINE = "online"
    OFFLINE = "offline"
    IGNORED = "ignored"


class PrimaryHostGate:
    """Args: host_id: the configured Primary Host Application id; legacy: also accept 2.2 ``STATE/<id>``."""

    def __init__(self, host_id: str, *, legacy: bool = False) -> None:
        self.host_id = host_id
        self.topics = {state_topic(host_id): False}
        if legacy:
            self.topics[state_topic(host_id, legacy=True)] = True
        self._last_ts: dict[str, int] = {}

    def feed(self, server: str, topic: str, payload: bytes) -> HostVerdict:
        """Judge one STATE message received on ``server``."""
        legacy = self.topics.get(topic)
        if legacy is None:
            return HostVerdict.IGNORED
        try:
            state = decode_legacy_state(payload) if legacy else decode_state(payload)
        except SparkplugDecodeError as error:
            # Empty (retained STATE deleted) or malformed: not a reason to birth or to leave (§9 [impl]).
            log.warning("ignoring STATE of primary host %s on %s: %s", self.host_id, server, error)
            return HostVerdict.IGNORED
        if state.timestamp is not None:
            last = self._last_ts.get(server)
            if last is not None and state.timestamp < last:
                log.info(
                    "ignoring stale STATE of %s on %s (timestamp %d < %d)",
                    self.host_id,
                    server,
                    state.timestamp,
                    last,
                )
                return HostVerdict.IGNORED
            self._last_ts[server] = state.timestamp
        return HostVerdict.ONLINE if state.online else HostVerdict.OFFLINE
