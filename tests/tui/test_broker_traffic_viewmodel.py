"""The broker screen's rows (clients with their filters, retained topics) and the traffic feed (local and
relayed Sparkplug, each message once)."""

from __future__ import annotations

from tests.tui.support import sample
from tui._contract import c
from tui.connection.events import Received
from tui.viewmodel import broker_rows as br
from tui.viewmodel.filtering import RowFilter
from tui.viewmodel.model import GatewayModel
from tui.viewmodel.rows import Row
from tui.viewmodel.sorting import SortOrder
from tui.viewmodel.traffic import direction_cell, traffic_matches
from tui.viewmodel.traffic_feed import TrafficFeed, TrafficRecord

T0 = sample.T0
EVERYTHING = RowFilter.parse("")


def _model() -> GatewayModel:
    model = GatewayModel()
    model.apply(Received(c.BROKER_TOPIC, c.encode_message(sample.broker_status()), True, T0))
    return model


def _texts(rows: list[Row]) -> list[str]:
    return [row.cells[0].text.strip() for row in rows]


def test_each_client_is_followed_by_its_filters_and_what_was_not_listed() -> None:
    rows = br.client_rows_sorted(
        br.client_groups(_model(), T0, EVERYTHING), SortOrder(br.BROKER_CLIENT_COLUMNS)
    )
    assert _texts(rows) == [
        "edge-gateway-tui-1",
        "$GW/v1/status/#",
        "spBv1.0/#",
        "$GW/v1/sparkplug/#",
        "... 4 more not listed",
        "hmi-line-1",
        "plant/line1/#",
        "$share/hmi/alarms/+",
        "... 1 more not listed",
    ]
    shared = rows[7]
    assert shared.cells[1].text == "QoS 2" and shared.cells[-1].text == "no-local, retained: never"
    assert br.row_value(rows[0].key) == "edge-gateway-tui-1"
    assert br.row_value(rows[7].key) == "$share/hmi/alarms/+"


def test_sorting_moves_clients_with_their_filters() -> None:
    order = SortOrder(br.BROKER_CLIENT_COLUMNS, br.BROKER_CLIENT_COLUMNS.index("infl/q"))
    rows = br.client_rows_sorted(br.client_groups(_model(), T0, EVERYTHING), order)
    assert _texts(rows)[:2] == ["edge-gateway-tui-1", "$GW/v1/status/#"]  # "0/0" before "1/4"
    order = SortOrder(br.BROKER_CLIENT_COLUMNS, br.BROKER_CLIENT_COLUMNS.index("proto"))  # "3.1.1" < "5"
    rows = br.client_rows_sorted(br.client_groups(_model(), T0, EVERYTHING), order)
    assert _texts(rows)[:3] == ["hmi-line-1", "plant/line1/#", "$share/hmi/alarms/+"]


def test_the_filter_shows_a_matching_client_whole_or_only_matching_filters() -> None:
    model = _model()
    by_client = br.client_groups(model, T0, RowFilter.parse("hmi-line"))
    assert [g.client.cells[0].text for g in by_client] == ["hmi-line-1"]
    assert len(by_client[0].subscriptions) == 3  # both filters and the "more" row
    by_filter = br.client_groups(model, T0, RowFilter.parse("sparkplug"))
    assert [(g.client.cells[0].text, _texts(list(g.subscriptions))) for g in by_filter] == [
        ("edge-gateway-tui-1", ["$GW/v1/sparkplug/#"])
    ]
    assert br.client_groups(model, T0, RowFilter.parse("nothing-matches")) == []


def test_retained_rows_show_size_qos_age_and_filter_on_topic() -> None:
    model = _model()
    rows = br.retained_rows(model, T0, EVERYTHING)
    assert [tuple(cell.text for cell in row.cells) for row in rows] == [
        ("$GW/v1/state", "96 B", "1", "1h00m"),
        ("plant/line1/setpoint", "5 B", "1", "2m05s"),
        ("spBv1.0/STATE/scada-1", "41 B", "1", "4.0s"),
    ]
    assert [r.key for r in br.retained_rows(model, T0, RowFilter.parse("plant"))] == ["plant/line1/setpoint"]
    assert br.retained_title(model) == "retained: 3 of 14 topics listed"
    assert br.clients_title(model) == "clients: 2 connected, 10 subscriptions"


def test_no_broker_status_yet_shows_nothing() -> None:
    model = GatewayModel()
    assert br.client_groups(model, T0, EVERYTHING) == [] and br.retained_rows(model, T0, EVERYTHING) == []
    assert br.panel_lines(model, T0)[0][1].text == "no status yet"


def test_relayed_messages_keep_direction_and_server() -> None:
    feed = TrafficFeed()
    topic = c.sparkplug_relay_topic(c.RelayDirection.SENT, "site-a", "spBv1.0/G/NBIRTH/E")
    record = feed.record(topic, b"birth", T0, False)
    assert record == TrafficRecord("spBv1.0/G/NBIRTH/E", b"birth", T0, False, "sent", "site-a")
    assert direction_cell(record).text == "to site-a"
    received = feed.record(
        c.sparkplug_relay_topic(c.RelayDirection.RECEIVED, "site-a", "spBv1.0/G/NCMD/E"), b"cmd", T0, False
    )
    assert received is not None and direction_cell(received).text == "from site-a"
    local = feed.record("spBv1.0/G/NDATA/E", b"data", T0, False)
    assert local is not None and direction_cell(local).text == "local"
    assert traffic_matches(record, RowFilter.parse("to site")) and not traffic_matches(
        local, RowFilter.parse("to site")
    )
    assert feed.record(f"{c.ROOT}/sparkplug/sideways/s/x", b"", T0, False) is None


def test_the_same_message_from_both_sources_is_shown_once() -> None:
    feed = TrafficFeed()
    relay = c.sparkplug_relay_topic(c.RelayDirection.SENT, "own-broker", "spBv1.0/G/NDATA/E")
    assert feed.record(relay, b"seq 7", T0, False) is not None
    assert feed.record("spBv1.0/G/NDATA/E", b"seq 7", T0, False) is None  # the broker's copy of it
    assert feed.duplicates == 1
    # the other order, and a repeat from one source is not a duplicate (it is a real repeat)
    assert feed.record("spBv1.0/G/NDATA/E", b"seq 8", T0, False) is not None
    assert feed.record(relay, b"seq 8", T0, False) is None
    assert feed.record("spBv1.0/G/NDATA/E", b"seq 8", T0, False) is not None
    assert feed.record("spBv1.0/G/NDATA/E", b"seq 9", T0, False) is not None
    assert feed.record("spBv1.0/G/NDATA/E", b"seq 9", T0, False) is not None
    assert feed.duplicates == 2


def test_the_duplicate_window_is_bounded() -> None:
    feed = TrafficFeed(window=2)
    relay = c.sparkplug_relay_topic(c.RelayDirection.SENT, "s", "spBv1.0/G/NDATA/E")
    feed.record(relay, b"1", T0, False)
    feed.record(relay, b"2", T0, False)
    feed.record(relay, b"3", T0, False)  # "1" leaves the window
    assert feed.record("spBv1.0/G/NDATA/E", b"1", T0, False) is not None
    assert feed.record("spBv1.0/G/NDATA/E", b"3", T0, False) is None


def test_the_model_counts_relayed_traffic_and_drops_duplicates() -> None:
    model = GatewayModel()
    relay = c.sparkplug_relay_topic(c.RelayDirection.SENT, "s", "spBv1.0/G/NDATA/E")
    model.apply(Received(relay, b"x", False, T0))
    model.apply(Received("spBv1.0/G/NDATA/E", b"x", False, T0 + 1))
    assert model.traffic_total == 1 and [r.direction for r in model.traffic] == ["sent"]
    assert model.decode_errors == 0
