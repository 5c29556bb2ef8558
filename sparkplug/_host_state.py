"""Primary Host STATE validity (§9), with memory per (server, host) that outlives connections.

A STATE message counts only if its topic names our primary host, its payload decodes, and (3.0 form)
its timestamp is >= the last one accepted from that host on that server; equality is valid because a
host's Will and birth carry the same timestamp (`message-flow-edge-node-birth-publish-phid-wait-timestamp`).
The memory is kept across reconnects: the TCK replays an old online STATE after a valid offline and
expects no birth. The 2.2 form has no timestamp, so the newest message always wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from sparkplug.edge_types import StateFormat
from sparkplug.errors import SparkplugDecodeError
from sparkplug.state import decode_legacy_state, decode_state
from sparkplug.topics import Topic, state_topic


class Verdict(Enum):
    ONLINE = "online"
    OFFLINE = "offline"
    IGNORED = "ignored"


@dataclass(frozen=True, slots=True)
class StateVerdict:
    verdict: Verdict
    reason: str


class PrimaryHostTracker:
    """Judges STATE messages for one configured primary host."""

    def __init__(self, host_id: str, state_format: StateFormat) -> None:
        self.host_id = host_id
        self.state_format = state_format
        self._last_ts: dict[str, int] = {}  # server -> last accepted 3.0 STATE timestamp

    def topics(self) -> list[str]:
        """STATE topics to subscribe to (QoS 1), per the configured format."""
        topics = []
        if self.state_format in (StateFormat.V3, StateFormat.BOTH):
            topics.append(state_topic(self.host_id))
        if self.state_format in (StateFormat.V2_2, StateFormat.BOTH):
            topics.append(state_topic(self.host_id, legacy=True))
        return topics

    def last_timestamp(self, server: str) -> int | None:
        return self._last_ts.get(server)

    def judge(self, server: str, topic: Topic, payload: bytes) -> StateVerdict:
        """Decide what a STATE message means; updates the per-server memory when it is accepted."""
        if topic.host_id != self.host_id:
            return StateVerdict(Verdict.IGNORED, f"STATE for host {topic.host_id!r}, not {self.host_id!r}")
        if topic.legacy_state:
            if self.state_format is StateFormat.V3:
                return StateVerdict(Verdict.IGNORED, "2.2 STATE ignored: state_format is v3")
            try:
                legacy = decode_legacy_state(payload)
            except SparkplugDecodeError as exc:
                return StateVerdict(Verdict.IGNORED, f"malformed 2.2 STATE: {exc}")
            return StateVerdict(Verdict.ONLINE if legacy.online else Verdict.OFFLINE, "2.2 STATE")
        if self.state_format is StateFormat.V2_2:
            return StateVerdict(Verdict.IGNORED, "3.0 STATE ignored: state_format is v2_2")
        try:
            state = decode_state(payload)
        except SparkplugDecodeError as exc:
            # Empty (retained value deleted) or malformed: no birth, keep what we had (§9 [impl]).
            return StateVerdict(Verdict.IGNORED, f"malformed STATE: {exc}")
        assert state.timestamp is not None
        last = self._last_ts.get(server)
        if last is not None and state.timestamp < last:
            word = "online" if state.online else "offline"
            return StateVerdict(
                Verdict.IGNORED,
                f"stale {word} STATE: timestamp {state.timestamp} < last accepted {last} on {server}",
            )
        self._last_ts[server] = state.timestamp
        return StateVerdict(
            Verdict.ONLINE if state.online else Verdict.OFFLINE, f"timestamp {state.timestamp}"
        )
