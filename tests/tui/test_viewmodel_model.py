"""The model built from contract messages: snapshots, tags, events, staleness, bad input."""

from __future__ import annotations

from gateway.control import contract as c
from tests.tui.support import sample
from tests.tui.support.sample import T0
from tui.connection.events import LinkDown, LinkUp, Received
from tui.viewmodel import summary
from tui.viewmodel.filtering import RowFilter
from tui.viewmodel.model import GatewayModel
from tui.viewmodel.rows import device_rows, server_rows, switch_rows, tag_cells, tag_keys


def loaded(now: int = T0) -> GatewayModel:
    model = GatewayModel()
    model.apply(LinkUp("127.0.0.1:1883", now - 5_000))
    for topic, payload in sample.stream(now):
        model.apply(Received(topic, payload, True, now - 50))
    return model


def test_snapshots_land_and_dirty_areas_are_reported_once() -> None:
    model = loaded()
    assert model.gateway is not None and model.gateway.message.edge_node_id == "demo-gateway"
    assert set(model.devices) == {"skid-1", "press-2", "line-1"}
    assert model.tag_count() == 7
    assert len(model.events) == 4 and len(model.logs) == 3
    dirty, changed = model.take_dirty()
    assert {"gateway", "uplink", "store", "broker", "device", "tags", "events", "logs", "link"} <= dirty
    assert ("skid-1", "setpoint") in changed
    assert model.take_dirty() == (set(), set())


def test_tag_changes_update_in_place_and_keep_history() -> None:
    model = loaded()
    version = model.tag_set_version
    for i in range(3):
        batch = c.TagChanges(
            T0 + i, "skid-1", (c.TagValue("temperature", 22.0 + i, c.Quality.GOOD, T0 + i, "Float"),)
        )
        model.apply(Received(c.tag_changes_topic("skid-1"), c.encode_message(batch), False, T0 + i))
    entry = model.tags["skid-1"]["temperature"]
    assert entry.value == 24.0 and list(entry.history) == [21.5, 22.0, 23.0, 24.0]
    assert model.tag_set_version == version  # no new rows: screens update cells, not rebuild
    new = c.TagChanges(T0, "skid-1", (c.TagValue("new_tag", 1, c.Quality.GOOD, T0, "Int32"),))
    model.apply(Received(c.tag_changes_topic("skid-1"), c.encode_message(new), False, T0))
    assert model.tag_set_version == version + 1


def test_removed_device_clears_its_rows() -> None:
    model = loaded()
    model.apply(Received(c.device_status_topic("press-2"), b"", True, T0))
    model.apply(Received(c.tags_topic("press-2"), b"", True, T0))
    assert "press-2" not in model.devices and "press-2" not in model.tags


def test_recent_events_do_not_duplicate_live_ones() -> None:
    model = loaded()
    ring = c.RecentEvents(T0, tuple(sample.events()))
    model.apply(Received(c.RECENT_EVENTS_TOPIC, c.encode_message(ring), True, T0))
    assert len(model.events) == 4


def test_schema_mismatch_is_reported_in_words_and_garbage_is_counted() -> None:
    model = loaded()
    model.apply(Received(c.GATEWAY_TOPIC, b'{"schema":2,"kind":"gateway_status","data":{}}', True, T0))
    assert model.protocol_problem is not None and "v1" in model.protocol_problem
    banner = summary.link_banner(model, T0)
    assert banner is not None and "upgrade" in banner.text
    model.apply(Received(c.STORE_TOPIC, b"not json", True, T0))
    assert model.decode_errors == 1 and "not JSON" in model.last_decode_error
    assert model.store is not None  # the last good snapshot is kept


def test_staleness_link_down_daemon_offline_and_old_snapshots() -> None:
    model = loaded()
    assert not model.is_stale(T0 - 400, T0)
    assert model.is_stale(T0 - 21_000, T0)  # two missed heartbeats
    model.apply(Received(c.STATE_TOPIC, c.encode_message(sample.daemon_state(False)), True, T0))
    assert model.is_stale(T0, T0)
    banner = summary.link_banner(model, T0)
    assert banner is not None and "OFFLINE" in banner.text
    model.apply(
        LinkDown(
            "127.0.0.1:1883",
            "connection refused on 127.0.0.1:1883",
            "is the gateway running?",
            T0 - 3_000,
            2.0,
        )
    )
    banner = summary.link_banner(model, T0)
    assert banner is not None
    assert "connection refused on 127.0.0.1:1883" in banner.text and "is the gateway running?" in banner.text
    rows = device_rows(model, T0, RowFilter.parse(""))
    assert all("dim" in cell.style for cell in rows[0].cells)


def test_rows_show_health_age_and_last_error() -> None:
    model = loaded()
    rows = {r.key: r for r in device_rows(model, T0, RowFilter.parse(""))}
    press = rows["press-2"].cells
    assert press[2].text == "DOWN" and press[3].text == "1m35s"
    assert "timeout after 1.0 s" in press[6].text
    assert [r.key for r in device_rows(model, T0, RowFilter.parse("down"))] == ["press-2"]
    keys = tag_keys(model, "skid-1", RowFilter.parse("temp"))
    assert keys == [("skid-1", "temperature")]
    cells = tag_cells(model.tags["skid-1"]["setpoint"], T0, False)
    assert cells[1].text == "40 degC" and cells[6].text == "W" and cells[4].text == "0.9s"


def test_uplink_rows_and_summaries() -> None:
    model = loaded()
    servers = server_rows(model, T0)
    assert [r.cells[0].text for r in servers] == ["*", ""]
    assert "connection refused" in servers[1].cells[7].text
    switches = switch_rows(model)
    assert switches[0].cells[2].text == "site-a" and switches[0].cells[3].text == "2.1 s"
    store = dict(summary.store_lines(model, T0))
    assert store["time to empty"].text == "1m02s"
    assert "12,400 of 2,000,000 messages" in store["backlog"].text
    overview = summary.device_counts(model)
    assert overview.text.startswith("1 ok") is False and "1 down" in overview.text
    problems = summary.problem_devices(model, T0)
    assert problems[0][0] == "press-2"
    assert [e.kind for e in summary.alarm_events(model)] == ["device_down", "server_switch"]
