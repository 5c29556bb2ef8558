"""Rows of the broker screen: clients, each followed by its subscription filters, and retained topics.

A client and its subscriptions form a group: the ``s`` sort orders groups by the client's cells and the
subscriptions stay under their client. The ``/`` filter shows a client with all its subscriptions when
the client matches (id, user, address), and otherwise the client with only the subscriptions whose
filter matches; a client with neither is hidden. Retained rows match on their topic.
"""

from __future__ import annotations

from dataclasses import dataclass

from tui._contract import c
from tui.viewmodel.badges import Cell
from tui.viewmodel.filtering import RowFilter
from tui.viewmodel.format import age_s, format_age, format_bytes, format_count
from tui.viewmodel.model import GatewayModel
from tui.viewmodel.rows import Row
from tui.viewmodel.sorting import SortOrder

Line = tuple[str, Cell]

BROKER_CLIENT_COLUMNS = (
    "client id / filter",
    "user / QoS",
    "subs",
    "infl/q",
    "since",
    "proto",
    "address / options",
)
RETAINED_COLUMNS = ("retained topic", "size", "QoS", "age")
CLIENT_KEY, SUBSCRIPTION_KEY = "c:", "s:"


@dataclass(frozen=True, slots=True)
class ClientGroup:
    """A client row and the rows of the subscriptions shown under it."""

    client: Row
    subscriptions: tuple[Row, ...]


def options_text(sub: c.SubscriptionInfo) -> str:
    """The MQTT 5 options that differ from the defaults, in short words (``"-"`` for none)."""
    words = []
    if sub.no_local:
        words.append("no-local")
    if sub.retain_as_published:
        words.append("retain-as-published")
    if sub.retain_handling:
        words.append("retained: new only" if sub.retain_handling == 1 else "retained: never")
    return ", ".join(words) or "-"


def client_groups(model: GatewayModel, now_ms: int, row_filter: RowFilter) -> list[ClientGroup]:
    """The clients of the last broker status, each with its listed subscriptions, as filtered."""
    if model.broker is None:
        return []
    groups = []
    for cl in model.broker.message.clients:
        client_hit = row_filter.matches(cl.client_id, cl.username or "", cl.address)
        subs = [
            _subscription_row(cl.client_id, sub)
            for sub in cl.subscription_filters
            if client_hit or row_filter.matches(sub.topic_filter)
        ]
        if not client_hit and not subs:
            continue
        unlisted = cl.subscriptions - len(cl.subscription_filters)
        if client_hit and unlisted > 0:
            more = Cell(f"  ... {unlisted} more not listed", "bright_black")
            subs.append(Row(f"{SUBSCRIPTION_KEY}{cl.client_id}\x00+", (more, *_blank(6))))
        cells = (
            Cell(cl.client_id, "bold"),
            Cell(cl.username or "-"),
            Cell(str(cl.subscriptions)),
            Cell(f"{cl.inflight}/{cl.queued}", "yellow" if cl.queued else ""),
            Cell(format_age(age_s(now_ms, cl.connected_at_ms))),
            Cell(cl.protocol),
            Cell(cl.address),
        )
        groups.append(ClientGroup(Row(f"{CLIENT_KEY}{cl.client_id}", cells), tuple(subs)))
    return groups


def _subscription_row(client_id: str, sub: c.SubscriptionInfo) -> Row:
    cells = (
        Cell(f"  {sub.topic_filter}", "cyan"),
        Cell(f"QoS {sub.qos}"),
        *_blank(4),
        Cell(options_text(sub), "bright_black"),
    )
    return Row(f"{SUBSCRIPTION_KEY}{client_id}\x00{sub.topic_filter}", cells)


def _blank(n: int) -> tuple[Cell, ...]:
    return (Cell(""),) * n


def client_rows_sorted(groups: list[ClientGroup], order: SortOrder) -> list[Row]:
    """Groups in ``order`` (by the client's cells), flattened: each client, then its subscriptions."""
    ordered = order.apply(groups, lambda group, column: group.client.cells[column].text)
    return [row for group in ordered for row in (group.client, *group.subscriptions)]


def row_value(key: str) -> str:
    """What ``y`` copies for a row key: the client id, or the subscription's filter."""
    if key.startswith(CLIENT_KEY):
        return key[len(CLIENT_KEY) :]
    if key.startswith(SUBSCRIPTION_KEY):
        return key[len(SUBSCRIPTION_KEY) :].partition("\x00")[2]
    return key


def retained_rows(model: GatewayModel, now_ms: int, row_filter: RowFilter) -> list[Row]:
    """The listed retained messages of the last broker status, as filtered (on the topic)."""
    if model.broker is None:
        return []
    rows = []
    for message in model.broker.message.retained:
        if not row_filter.matches(message.topic):
            continue
        cells = (
            Cell(message.topic),
            Cell(format_bytes(message.bytes)),
            Cell(str(message.qos)),
            Cell(format_age(age_s(now_ms, message.since_ms)) if message.since_ms is not None else "-"),
        )
        rows.append(Row(message.topic, cells))
    return rows


def retained_title(model: GatewayModel) -> str:
    """``"retained: 14 topics"``, or ``"retained: 200 of 1,234 topics listed"`` when capped."""
    if model.broker is None:
        return "retained"
    b = model.broker.message
    if len(b.retained) < b.retained_count:
        return f"retained: {len(b.retained):,} of {b.retained_count:,} topics listed"
    return f"retained: {b.retained_count:,} topics"


def clients_title(model: GatewayModel) -> str:
    """``"clients: 2 connected, 10 subscriptions"`` (with how many are listed when capped)."""
    if model.broker is None:
        return "clients"
    b = model.broker.message
    listed = f" ({len(b.clients):,} listed)" if len(b.clients) < b.client_count else ""
    return f"clients: {b.client_count:,} connected{listed}, {b.subscription_count:,} subscriptions"


def panel_lines(model: GatewayModel, now_ms: int) -> list[Line]:
    """The broker panel, four lines so the two tables fit an 80x24 terminal: listeners, traffic and
    drops, the ``$SYS`` figures on one line, and the snapshot's age (client and retained counts are
    in the tables' titles)."""
    if model.broker is None:
        return [("broker", Cell("no status yet", "magenta"))]
    b = model.broker.message
    listeners = ", ".join(f"{li.name} {li.host}:{li.port}{' tls' if li.tls else ''}" for li in b.listeners)
    traffic = (
        f"{format_count(b.messages_in)} in ({format_bytes(b.bytes_in)}), "
        f"{format_count(b.messages_out)} out ({format_bytes(b.bytes_out)}), {format_count(b.dropped)} dropped"
    )
    figures = ", ".join(f"{name} {b.sys[name]:g}" for name in sorted(b.sys))
    stale = model.is_stale(b.timestamp_ms, now_ms)
    age = f"as of {format_age(age_s(now_ms, b.timestamp_ms))} ago"
    return [
        ("listeners", Cell(listeners or "none")),
        ("messages", Cell(traffic, "bold red" if b.dropped else "")),
        ("$SYS", Cell(figures or "-")),
        ("", Cell(f"{age} (STALE)" if stale else age, "bold yellow" if stale else "bright_black")),
    ]
