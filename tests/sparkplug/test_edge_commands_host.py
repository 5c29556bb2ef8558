"""Edge-node commands (§8, NCMD/DCMD) and Primary Host STATE handling (§9, §10)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from sparkplug import (
    Connected,
    ConnectStarting,
    DataType,
    DeviceOnline,
    Disconnect,
    Disconnected,
    EdgeNodeConfig,
    EdgeNodeUsageError,
    MessageReceived,
    MessageType,
    Metric,
    MetricSpec,
    NextServer,
    Notice,
    Publish,
    Reboot,
    SessionState,
    SetScanRate,
    SetWill,
    StateFormat,
    Subscribe,
    Subscribed,
    Tick,
    WriteMetric,
)
from tests.sparkplug.edge_harness import Harness, by_name, of_type, payload_of, published

NODE = (MetricSpec("Setpoint", DataType.Float, writable=True), MetricSpec("ReadOnly", DataType.Int32))
DEVICE = (
    MetricSpec("Valve", DataType.Boolean, writable=True),
    MetricSpec("Level", DataType.UInt16, writable=True),
)
CONFIG = EdgeNodeConfig(
    "G", "E", node_metrics=NODE, reboot_control=True, scan_rate_ms=1000, rebirth_debounce_ms=5000
)
HOSTED = EdgeNodeConfig("G", "E", node_metrics=NODE, primary_host_id="H", primary_host_timeout_ms=30_000)


def born(config: EdgeNodeConfig = CONFIG) -> Harness:
    harness = Harness(config)
    harness.feed(DeviceOnline("D1", DEVICE))
    harness.connect()
    return harness


def types(outputs: Sequence[object]) -> list[str]:
    return [
        type(o).__name__ + (f":{o.message_type.value}" if isinstance(o, Publish) else "") for o in outputs
    ]


# --------------------------------------------------------------------------- Rebirth


def test_operational_behavior_data_commands_rebirth_action() -> None:
    """operational-behavior-data-commands-rebirth-action-1/-2/-3: on Rebirth=true publish NBIRTH (seq 0,
    same bdSeq) and a DBIRTH for every online device, with no DATA in between."""
    harness = born()
    outputs = harness.rebirth()
    assert types(outputs) == ["Publish:NBIRTH", "Publish:DBIRTH", "FlushHistory"]
    assert [p.seq for p in published(outputs)] == [0, 1]
    assert (
        by_name(payload_of(published(outputs)[0]))["bdSeq"].value == of_type(harness.log, SetWill)[0].bd_seq
    )


def test_rebirth_by_name_without_timestamp_and_false_is_ignored() -> None:
    """§19.14: the TCK's Rebirth has no timestamps and may carry the datatype; false does nothing."""
    harness = born()
    assert harness.ncmd(Metric(name="Node Control/Rebirth", datatype=DataType.Boolean, value=False)) == []
    # no datatype and no timestamp on the wire
    outputs = harness.ncmd(
        Metric(name="Node Control/Rebirth", datatype=DataType.Boolean, value=True), with_datatype=False
    )
    assert published(outputs, MessageType.NBIRTH)


def test_rebirth_debounce_never_ignores_the_first_and_coalesces_a_burst() -> None:
    """§19.15: the first request is honoured at once; a burst within the debounce yields one more birth."""
    harness = born()
    assert published(harness.rebirth(), MessageType.NBIRTH)
    deferred = harness.rebirth()
    assert types(deferred) == ["Notice"]
    assert harness.rebirth() == []
    deadline = harness.node.next_deadline()
    assert deadline is not None
    harness.now = deadline - 2
    assert harness.feed(Tick()) == []
    assert published(harness.feed(Tick()), MessageType.NBIRTH)
    assert harness.node.next_deadline() is None


def test_rebirth_is_ignored_when_not_born() -> None:
    harness = Harness(HOSTED)
    harness.connect()
    outputs = harness.rebirth()
    assert types(outputs) == ["Notice"] and "not born" in outputs[0].message  # type: ignore[union-attr]


# --------------------------------------------------------------------------- Next Server, Reboot, Scan Rate


def test_node_control_next_server() -> None:
    """§8: Next Server=true -> NDEATH, Disconnect, NextServer; the next CONNECT uses bdSeq+1."""
    harness = born()
    alias = harness.node.alias_of(None, "Node Control/Next Server")
    outputs = harness.ncmd(Metric(alias=alias, datatype=DataType.Boolean, value=True), with_datatype=False)
    assert types(outputs) == ["Publish:NDEATH", "Disconnect", "NextServer"]
    harness.feed(Disconnected())
    assert of_type(harness.connect("s2"), SetWill)[0].bd_seq == 1


def test_node_control_reboot() -> None:
    harness = born()
    outputs = harness.ncmd(Metric(name="Node Control/Reboot", datatype=DataType.Boolean, value=True))
    assert types(outputs) == ["Publish:NDEATH", "Disconnect", "Reboot"]
    assert isinstance(outputs[-1], Reboot)


def test_node_control_reboot_not_declared_is_not_honoured() -> None:
    harness = born(EdgeNodeConfig("G", "E", node_metrics=NODE))
    nbirth = payload_of(published(harness.log, MessageType.NBIRTH)[0])
    assert "Node Control/Reboot" not in by_name(nbirth)
    outputs = harness.ncmd(Metric(name="Node Control/Reboot", datatype=DataType.Boolean, value=True))
    assert types(outputs) == ["Notice"]


def test_node_control_scan_rate() -> None:
    """§8: Scan Rate (Int64 ms) in NBIRTH; a write applies it and reports it through NDATA."""
    harness = born()
    assert (
        by_name(payload_of(published(harness.log, MessageType.NBIRTH)[0]))["Node Control/Scan Rate"].value
        == 1000
    )
    outputs = harness.ncmd(Metric(name="Node Control/Scan Rate", datatype=DataType.Int64, value=250))
    assert outputs[0] == SetScanRate(None, 250)
    metric = payload_of(published(outputs, MessageType.NDATA)[0]).metrics[0]
    assert metric.alias == harness.node.alias_of(None, "Node Control/Scan Rate")
    refused = harness.ncmd(Metric(name="Node Control/Scan Rate", datatype=DataType.Int64, value=-5))
    assert types(refused) == ["Notice"]
    assert published(harness.rebirth())  # the new rate is in the next birth
    assert (
        by_name(payload_of(published(harness.log, MessageType.NBIRTH)[-1]))["Node Control/Scan Rate"].value
        == 250
    )


# --------------------------------------------------------------------------- writes


def test_ncmd_and_dcmd_writes_by_alias_and_by_name() -> None:
    """§5 NCMD/DCMD: resolve by alias first, then by name; the value is typed from the birth."""
    harness = born()
    by_alias = harness.ncmd(
        Metric(alias=harness.node.alias_of(None, "Setpoint"), datatype=DataType.Float, value=2.5),
        with_datatype=False,
    )
    assert by_alias == [WriteMetric(None, "Setpoint", DataType.Float, 2.5)]
    by_name_ = harness.dcmd("D1", Metric(name="Level", datatype=DataType.UInt16, value=300))
    assert by_name_ == [WriteMetric("D1", "Level", DataType.UInt16, 300)]
    valve = harness.dcmd(
        "D1",
        Metric(alias=harness.node.alias_of("D1", "Valve"), datatype=DataType.Boolean, value=True),
        with_datatype=False,
    )
    assert valve == [WriteMetric("D1", "Valve", DataType.Boolean, True)]


def test_bad_commands_are_ignored_with_a_notice() -> None:
    """§5 [SHOULD] be resilient: unknown names/aliases, read-only metrics, wrong types, garbage payloads,
    other nodes' topics and devices not born are logged, never raised."""
    harness = born()
    cases = [
        harness.ncmd(Metric(name="Nope", datatype=DataType.Int32, value=1)),
        harness.ncmd(Metric(alias=9999, datatype=DataType.Int32, value=1), with_datatype=False),
        harness.ncmd(Metric(name="ReadOnly", datatype=DataType.Int32, value=1)),
        harness.ncmd(Metric(name="Setpoint", datatype=DataType.String, value="x")),
        harness.dcmd("D1", Metric(name="Level", datatype=DataType.String, value="high"), with_datatype=False),
        harness.dcmd("D1", Metric(name="Level", datatype=DataType.Int32, value=70000)),
        harness.dcmd("D9", Metric(name="Valve", datatype=DataType.Boolean, value=True)),
        # An alias of D1 used on the node: aliases are resolved within the addressed owner.
        harness.ncmd(
            Metric(alias=harness.node.alias_of("D1", "Valve"), datatype=DataType.Boolean, value=True),
            with_datatype=False,
        ),
        harness.feed(MessageReceived("spBv1.0/G/NCMD/E", b"\xff\xff")),
        harness.feed(MessageReceived("spBv1.0/G/NCMD/Other", b"")),
        harness.feed(MessageReceived("spBv1.0/G/NDATA/E", b"")),
        harness.feed(MessageReceived("not/sparkplug", b"")),
    ]
    for outputs in cases:
        assert types(outputs) == ["Notice"], outputs


def test_device_rebirth_via_dcmd() -> None:
    harness = born()
    outputs = harness.dcmd("D1", Metric(name="Device Control/Rebirth", datatype=DataType.Boolean, value=True))
    assert types(outputs) == ["Publish:DBIRTH"]


# --------------------------------------------------------------------------- Primary Host STATE (§9)


def test_message_flow_edge_node_birth_publish_phid_wait() -> None:
    """message-flow-edge-node-birth-publish-phid-wait, operational-behavior-edge-node-birth-sequence-wait:
    subscribe to STATE (QoS 1) and publish no birth before a valid online STATE."""
    harness = Harness(HOSTED)
    outputs = harness.connect()
    assert Subscribe("spBv1.0/STATE/H", 1) in outputs
    assert not published(outputs)
    assert harness.node.state is SessionState.WAITING_FOR_HOST
    assert published(harness.state(True, 100), MessageType.NBIRTH)


def test_phid_wait_id_other_hosts_are_ignored() -> None:
    """message-flow-edge-node-birth-publish-phid-wait-id: only the configured host's STATE counts."""
    harness = Harness(HOSTED)
    harness.connect()
    assert types(harness.state(True, 100, host="Other")) == ["Notice"]
    assert harness.node.state is SessionState.WAITING_FOR_HOST


def test_phid_wait_timestamp_equal_is_valid_older_is_not() -> None:
    """message-flow-edge-node-birth-publish-phid-wait-timestamp: accept timestamp >= last accepted."""
    harness = Harness(HOSTED)
    harness.connect()
    assert types(harness.state(False, 500)) == ["Disconnect", "NextServer"]  # valid offline while waiting
    harness.feed(Disconnected())
    harness.connect()
    assert types(harness.state(True, 499)) == ["Notice"]  # older online: ignored
    assert published(harness.state(True, 500), MessageType.NBIRTH)  # equal: valid


def test_operational_behavior_edge_node_termination_host_offline() -> None:
    """operational-behavior-edge-node-termination-host-offline(-reconnect): a valid offline STATE while born
    -> NDEATH, Disconnect, next server."""
    harness = Harness(HOSTED)
    harness.connect()
    harness.state(True, 100)
    outputs = harness.state(False, 100)
    assert types(outputs) == ["Publish:NDEATH", "Disconnect", "NextServer"]


def test_operational_behavior_edge_node_termination_host_offline_timestamp() -> None:
    """operational-behavior-edge-node-termination-host-offline-timestamp: an offline STATE older than the
    last online is a stale Will: do not disconnect."""
    harness = Harness(HOSTED)
    harness.connect()
    harness.state(True, 100)
    assert types(harness.state(False, 99)) == ["Notice"]
    assert harness.node.state is SessionState.ONLINE


def test_state_memory_survives_reconnects_per_server() -> None:
    """§9 [impl]: the TCK sends an old online STATE (16671135) after a valid offline and expects no birth,
    although the edge reconnected in between. Memory is per (server, host)."""
    harness = Harness(HOSTED)
    harness.connect("s1")
    harness.state(True, 1_700_000_000_000)
    harness.state(False, 1_700_000_000_100)
    harness.feed(Disconnected())
    harness.connect("s1")
    assert types(harness.state(True, 16671135)) == ["Notice"]
    assert harness.node.state is SessionState.WAITING_FOR_HOST
    harness.feed(Disconnected())
    harness.connect("s2")  # another server: its own memory
    assert published(harness.state(True, 16671135), MessageType.NBIRTH)


def test_state_seen_before_suback_births_on_subscribed() -> None:
    harness = Harness(HOSTED)
    harness.feed(ConnectStarting("s1"))
    harness.feed(Connected())
    assert harness.state(True, 5) == []
    assert published(harness.feed(Subscribed()), MessageType.NBIRTH)


def test_offline_state_before_suback_walks_to_next_server() -> None:
    harness = Harness(HOSTED)
    harness.feed(ConnectStarting("s1"))
    harness.feed(Connected())
    assert types(harness.state(False, 5)) == ["Disconnect", "NextServer"]


def test_malformed_or_empty_state_does_not_birth() -> None:
    """§9 [impl]: an empty (deleted retained) or malformed STATE is logged; no birth."""
    harness = Harness(HOSTED)
    harness.connect()
    for payload in (b"", b"{", b'{"online":true}'):
        outputs = harness.feed(MessageReceived("spBv1.0/STATE/H", payload))
        assert types(outputs) == ["Notice"]
    assert harness.node.state is SessionState.WAITING_FOR_HOST


def test_primary_host_timeout_walks_to_next_server() -> None:
    """§9 [impl] (Tahu: 30 s): no valid online STATE in time -> disconnect and try the next server."""
    harness = Harness(HOSTED)
    harness.connect()
    deadline = harness.node.next_deadline()
    assert deadline == harness.now + 30_000 - 0
    harness.now = deadline - 1
    outputs = harness.feed(Tick())
    assert types(outputs) == ["Notice", "Disconnect", "NextServer"]
    assert not published(outputs)


def test_legacy_22_state_option() -> None:
    """§9, §18: 2.2 STATE/<id> with ONLINE/OFFLINE, newest wins; honoured only when configured."""
    config = EdgeNodeConfig("G", "E", primary_host_id="H", state_format=StateFormat.BOTH)
    harness = Harness(config)
    outputs = harness.connect()
    assert Subscribe("STATE/H", 1) in outputs and Subscribe("spBv1.0/STATE/H", 1) in outputs
    assert published(harness.state(True, 0, legacy=True), MessageType.NBIRTH)
    assert types(harness.state(False, 0, legacy=True)) == ["Publish:NDEATH", "Disconnect", "NextServer"]
    v3_only = Harness(HOSTED)
    v3_only.connect()
    assert types(v3_only.state(True, 0, legacy=True)) == ["Notice"]
    legacy_only = Harness(EdgeNodeConfig("G", "E", primary_host_id="H", state_format=StateFormat.V2_2))
    assert Subscribe("spBv1.0/STATE/H", 1) not in legacy_only.connect()
    assert types(legacy_only.state(True, 5)) == ["Notice"]
    assert types(legacy_only.feed(MessageReceived("STATE/H", b"maybe"))) == ["Notice"]


def test_state_without_primary_host_configured_is_ignored() -> None:
    harness = born()
    assert types(harness.state(False, 10)) == ["Notice"]
    assert harness.node.state is SessionState.ONLINE


def test_never_connected_to_two_servers_next_server_only_after_disconnect() -> None:
    """operational-behavior-primary-application-state-with-multiple-servers-single-server: the core asks for
    NextServer only together with a Disconnect, and refuses a new CONNECT before Disconnected."""
    harness = Harness(HOSTED)
    harness.connect()
    outputs = harness.state(False, 1)
    assert isinstance(outputs[0], Disconnect) and isinstance(outputs[1], NextServer)
    assert harness.node.state is SessionState.DISCONNECTING
    assert types(harness.rebirth()) == ["Notice"]
    assert isinstance(of_type(harness.state(True, 2), Notice)[0], Notice)
    with pytest.raises(EdgeNodeUsageError):
        harness.feed(ConnectStarting("s2"))
    harness.feed(Disconnected())
    assert harness.node.state.value == "disconnected"
    harness.feed(ConnectStarting("s2"))
    assert harness.node.state.value == "connecting"
