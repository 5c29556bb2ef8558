"""A fixed picture of a small plant as contract messages (built WITH the contract module).

Used by the view-model tests, the recorded stream of the snapshot tests, and the contract test
publisher. ``T0`` is the frozen "now" of snapshot tests: 2026-01-01 00:00:00 UTC.
"""

from __future__ import annotations

from gateway.control import contract as c

T0 = 1_767_225_600_000
CONFIG_TEXT = """\
identity:
  group_id: Demo
  edge_node_id: demo-gateway

devices:
  - id: skid-1
    protocol: modbus_tcp
    host: 127.0.0.1
    port: 5020
    tags:
      - {name: temperature, address: 40001, type: float32, unit: degC}
      - {name: setpoint, address: 40011, type: float32, writable: true}

  - id: line-1
    protocol: opcua
    endpoint: opc.tcp://127.0.0.1:4840/demo
    tags:
      - {name: Running, node_id: "ns=2;s=Line1.Running"}

data_dir: ./demo-data
"""


def daemon_state(online: bool = True, at: int = T0 - 3_600_000) -> c.DaemonState:
    return c.DaemonState(online=online, timestamp_ms=at, version="0.1.0", pid=4242)


def gateway_status(now: int = T0) -> c.GatewayStatus:
    return c.GatewayStatus(
        timestamp_ms=now - 400,
        group_id="Demo",
        edge_node_id="demo-gateway",
        version="0.1.0",
        started_at_ms=T0 - 3_600_000,
        uptime_s=3600.0,
        config_file="/etc/edge-gateway/edge-gateway.yaml",
        last_reload=c.ReloadResult(T0 - 3_600_000, True, "startup", "applied: 3 devices"),
        hostname="edge-pi-7",
    )


def uplink_status(now: int = T0, active: str = "site-a") -> c.UplinkStatus:
    servers = tuple(
        c.ServerStatus(
            name=name,
            host=host,
            port=8883,
            tls=True,
            mqtt_version="5",
            state=c.ServerState.CONNECTED if name == active else c.ServerState.IDLE,
            active=name == active,
            connected_since_ms=T0 - 1_800_000 if name == active else None,
            rtt_ms=12.5 if name == active else None,
            connect_count=2 if name == active else 1,
            failure_count=1 if name == "site-b" else 0,
            last_error="connection refused" if name == "site-b" else None,
            last_error_at_ms=T0 - 2_000_000 if name == "site-b" else None,
        )
        for name, host in (("site-a", "mqtt-a.plant.example"), ("site-b", "mqtt-b.plant.example"))
    )
    return c.UplinkStatus(
        timestamp_ms=now - 300,
        servers=servers,
        active_server=active,
        session_state=c.SessionState.ONLINE,
        bd_seq=3,
        seq=117,
        primary_host=c.PrimaryHostStatus("scada-1", True, T0 - 1_790_000, T0 - 1_789_000),
        switches=(
            c.SwitchRecord(T0 - 3_590_000, None, "site-a", "start-up", 850),
            c.SwitchRecord(T0 - 2_000_000, "site-a", "site-b", "connection lost", 1_450),
            c.SwitchRecord(T0 - 1_800_000, "site-b", "site-a", "primary host offline (STATE)", 2_100),
        ),
        failover_count=2,
        births=3,
    )


def store_status(now: int = T0) -> c.StoreStatus:
    return c.StoreStatus(
        timestamp_ms=now - 200,
        mode=c.StoreMode.DRAINING,
        depth=12_400,
        bytes=3_100_000,
        oldest_age_s=754.0,
        drain_rate_per_s=220.0,
        write_rate_per_s=20.0,
        dropped=0,
        capacity_messages=2_000_000,
        capacity_bytes=1 << 30,
        db_bytes=5_300_000,
    )


def broker_status(now: int = T0) -> c.BrokerStatus:
    return c.BrokerStatus(
        timestamp_ms=now - 500,
        listeners=(c.ListenerStatus("local", "127.0.0.1", 1883, False),),
        client_count=2,
        clients=(
            c.ClientInfo(
                "edge-gateway-tui-1",
                "technician",
                "127.0.0.1:50412",
                "5",
                10,
                7,
                0,
                0,
                T0 - 60_000,
                (
                    c.SubscriptionInfo("$GW/v1/status/#", 0),
                    c.SubscriptionInfo("spBv1.0/#", 0),
                    c.SubscriptionInfo("$GW/v1/sparkplug/#", 0),
                ),
            ),
            c.ClientInfo(
                "hmi-line-1",
                None,
                "10.0.0.31:40001",
                "3.1.1",
                60,
                3,
                1,
                4,
                T0 - 900_000,
                (
                    c.SubscriptionInfo("plant/line1/#", 1),
                    c.SubscriptionInfo("$share/hmi/alarms/+", 2, no_local=True, retain_handling=2),
                ),
            ),
        ),
        subscription_count=10,
        retained_count=14,
        retained=(
            c.RetainedInfo("$GW/v1/state", 96, 1, T0 - 3_600_000),
            c.RetainedInfo("plant/line1/setpoint", 5, 1, T0 - 125_000),
            c.RetainedInfo("spBv1.0/STATE/scada-1", 41, 1, T0 - 4_000),
        ),
        messages_in=123_456,
        messages_out=234_567,
        bytes_in=12_345_678,
        bytes_out=23_456_789,
        sys={"load/messages/received/1min": 41.5, "uptime": 3600.0},
    )


def device_statuses(now: int = T0) -> list[c.DeviceStatus]:
    return [
        c.DeviceStatus(
            timestamp_ms=now - 100,
            device_id="skid-1",
            protocol="modbus_tcp",
            endpoint="127.0.0.1:5020 unit 1",
            enabled=True,
            health=c.DeviceHealth.OK,
            born=True,
            tag_count=3,
            poll_interval_ms=1000,
            last_poll_ms=now - 300,
            last_good_poll_ms=now - 300,
            polls=3600,
            errors=2,
            timeouts=1,
            response_ms_p50=4.0,
            response_ms_p99=19.0,
        ),
        c.DeviceStatus(
            timestamp_ms=now - 100,
            device_id="press-2",
            protocol="modbus_tcp",
            endpoint="10.0.10.22:502 unit 1",
            enabled=True,
            health=c.DeviceHealth.DOWN,
            born=False,
            tag_count=2,
            poll_interval_ms=500,
            last_poll_ms=now - 500,
            last_good_poll_ms=T0 - 95_000,
            polls=7000,
            errors=190,
            timeouts=190,
            consecutive_errors=190,
            last_error="timeout after 1.0 s reading holding 0-9",
            last_error_at_ms=now - 500,
        ),
        c.DeviceStatus(
            timestamp_ms=now - 100,
            device_id="line-1",
            protocol="opcua",
            endpoint="opc.tcp://127.0.0.1:4840/demo",
            enabled=True,
            health=c.DeviceHealth.OK,
            born=True,
            tag_count=2,
            poll_interval_ms=1000,
            last_good_poll_ms=now - 700,
            polls=3600,
        ),
    ]


def tag_snapshots(now: int = T0) -> list[c.TagSnapshot]:
    good, bad = c.Quality.GOOD, c.Quality.BAD
    return [
        c.TagSnapshot(
            now - 900,
            "skid-1",
            (
                c.TagValue("temperature", 21.5, good, now - 900, "Float", unit="degC"),
                c.TagValue("level", 73.2, good, now - 900, "Float", unit="%"),
                c.TagValue("setpoint", 40.0, good, now - 900, "Float", writable=True, unit="degC"),
            ),
        ),
        c.TagSnapshot(
            now - 95_000,
            "press-2",
            (
                c.TagValue("Hydraulics/Pressure", 181.0, bad, T0 - 95_000, "Float", unit="bar"),
                c.TagValue("Counters/Strokes", 88_201, bad, T0 - 95_000, "UInt32"),
            ),
        ),
        c.TagSnapshot(
            now - 700,
            "line-1",
            (
                c.TagValue("Running", True, good, now - 700, "Boolean"),
                c.TagValue("Speed", 1200, good, now - 700, "Int32", writable=True, unit="rpm"),
            ),
        ),
    ]


def events() -> list[c.Event]:
    sev = c.Severity
    return [
        c.Event(T0 - 3_600_000, sev.INFO, "gateway", "started", "gateway started (demo-gateway)"),
        c.Event(
            T0 - 2_000_000,
            sev.WARNING,
            "uplink",
            "server_switch",
            "switched site-a -> site-b",
            {"server": "site-b"},
        ),
        c.Event(
            T0 - 1_800_000,
            sev.INFO,
            "uplink",
            "server_switch",
            "switched site-b -> site-a",
            {"server": "site-a"},
        ),
        c.Event(
            T0 - 95_000,
            sev.ERROR,
            "device",
            "device_down",
            "press-2 is down: timeout after 1.0 s",
            {"device": "press-2"},
        ),
    ]


def log_batch(now: int = T0) -> c.LogBatch:
    return c.LogBatch(
        now - 1_000,
        (
            c.LogLine(now - 2_000, c.Severity.INFO, "gateway.uplink", "NBIRTH sent on site-a (bdSeq 3)"),
            c.LogLine(
                now - 1_500,
                c.Severity.WARNING,
                "drivers.modbus",
                "press-2: timeout reading holding 0-9",
                {"device": "press-2"},
            ),
            c.LogLine(now - 1_200, c.Severity.DEBUG, "gateway.broker", "client hmi-line-1 pinged"),
        ),
    )


def retained_messages(now: int = T0) -> list[tuple[str, object]]:
    """(topic, message) pairs of everything the daemon keeps retained, in publishing order."""
    out: list[tuple[str, object]] = [
        (c.STATE_TOPIC, daemon_state()),
        (c.GATEWAY_TOPIC, gateway_status(now)),
        (c.UPLINK_TOPIC, uplink_status(now)),
        (c.STORE_TOPIC, store_status(now)),
        (c.BROKER_TOPIC, broker_status(now)),
    ]
    out += [(c.device_status_topic(d.device_id), d) for d in device_statuses(now)]
    out += [(c.tags_topic(s.device_id), s) for s in tag_snapshots(now)]
    out.append((c.RECENT_EVENTS_TOPIC, c.RecentEvents(now, tuple(events()))))
    return out


def stream(now: int = T0) -> list[tuple[str, bytes]]:
    """The whole picture as (topic, payload) pairs, encoded with the contract."""
    out = [(topic, c.encode_message(msg)) for topic, msg in retained_messages(now)]
    out.append((c.LOGS_TOPIC, c.encode_message(log_batch(now))))
    return out
