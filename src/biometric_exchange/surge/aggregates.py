"""Aggregate daily counts: ours from the encounters table, the partner's by ``ExchangeAggregates``.

A count is the number of our encounters on one UTC day of one nationality at
one border point. Before counts leave the node, those under
``SUPPRESSION_THRESHOLD`` are left out entirely (statistical disclosure
control), so only aggregate numbers of at least 5 cross the wire: no ids,
names, templates or times. The holder answers an inclusive range of at most
``MAX_RANGE_DAYS`` days; both sides audit the exchange like every other. The
requester replaces its stored copy of the partner's counts for the range
(``partner_counts``); a day without a row there is a day under the threshold.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.node.inbound import accept_request, seal_reply
from biometric_exchange.node.outbound import RoundTrip, round_trip
from biometric_exchange.node.runtime import Node
from biometric_exchange.serde import parse_message
from biometric_exchange.store.audit import AuditEvent
from biometric_exchange.v1 import exchange_pb2 as pb

SUPPRESSION_THRESHOLD = 5
"""Counts under this never leave the node."""
MAX_RANGE_DAYS = 90
"""The longest inclusive day range one request may cover."""
MAX_LABEL_CHARS = 64
"""Longest nationality or border point code accepted from the partner."""

AGGREGATES = RoundTrip(
    pb.MESSAGE_TYPE_AGGREGATES_REQUEST,
    pb.MESSAGE_TYPE_AGGREGATES_RESPONSE,
    AuditEvent.AGGREGATES_SENT,
    AuditEvent.AGGREGATES_RECEIVED,
)


@dataclass(frozen=True)
class DailyCount:
    """Encounters of one nationality at one border point on one UTC day."""

    day: dt.date
    nationality: str
    border_point: str
    count: int

    def to_proto(self) -> pb.AggregateCount:
        return pb.AggregateCount(
            day=self.day.isoformat(),
            nationality=self.nationality,
            border_point=self.border_point,
            count=self.count,
        )


def parse_day(text: str, *, field_name: str) -> dt.date:
    """An ISO 8601 calendar day (YYYY-MM-DD), or InvalidInput naming the field."""
    try:
        if len(text) != 10:
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(f"aggregates: {field_name} must be a YYYY-MM-DD day") from exc


def check_range(first_day: dt.date, last_day: dt.date) -> None:
    """An inclusive, non-reversed range of at most ``MAX_RANGE_DAYS`` days."""
    if last_day < first_day:
        raise InvalidInput("aggregates: last_day is before first_day")
    if (last_day - first_day).days + 1 > MAX_RANGE_DAYS:
        raise InvalidInput(f"aggregates: the range exceeds {MAX_RANGE_DAYS} days")


def local_counts(node: Node, first_day: dt.date, last_day: dt.date) -> list[DailyCount]:
    """Our own daily counts in [first_day, last_day], unsuppressed (for local use)."""
    rows = node.database.connection.execute(
        "SELECT date(encountered_at) AS day, nationality, border_point, count(*) AS n "
        "FROM encounters WHERE date(encountered_at) BETWEEN ? AND ? "
        "GROUP BY day, nationality, border_point ORDER BY day, nationality, border_point",
        (first_day.isoformat(), last_day.isoformat()),
    ).fetchall()
    return [
        DailyCount(
            dt.date.fromisoformat(row["day"]), row["nationality"], row["border_point"], row["n"]
        )
        for row in rows
    ]


def first_local_day(node: Node) -> dt.date | None:
    """The UTC day of our earliest encounter (where our series start)."""
    row = node.database.connection.execute(
        "SELECT min(date(encountered_at)) FROM encounters"
    ).fetchone()
    return dt.date.fromisoformat(row[0]) if row and row[0] else None


def suppress(
    counts: Iterable[DailyCount], threshold: int = SUPPRESSION_THRESHOLD
) -> list[DailyCount]:
    """``counts`` without those under ``threshold``."""
    return [c for c in counts if c.count >= threshold]


def shareable_counts(node: Node, first_day: dt.date, last_day: dt.date) -> pb.AggregatesResponse:
    """What we may tell the partner about [first_day, last_day]: suppressed counts only."""
    kept = suppress(local_counts(node, first_day, last_day))
    return pb.AggregatesResponse(
        counts=[c.to_proto() for c in kept], suppression_threshold=SUPPRESSION_THRESHOLD
    )


class AggregatesHandler:
    """The holder's side of ``ExchangeAggregates``: open, check, count, suppress, seal."""

    def __init__(self, node: Node) -> None:
        self._node = node

    def handle(self, envelope: pb.SealedEnvelope) -> pb.SealedEnvelope:
        node = self._node
        message_id, (first_day, last_day) = accept_request(
            node,
            envelope,
            expected_type=pb.MESSAGE_TYPE_AGGREGATES_REQUEST,
            event=AuditEvent.AGGREGATES_RECEIVED,
            check=_requested_range,
            describe=lambda days: {
                "first_day": days[0].isoformat(),
                "last_day": days[1].isoformat(),
            },
        )
        response = shareable_counts(node, first_day, last_day)
        return seal_reply(
            node,
            pb.MESSAGE_TYPE_AGGREGATES_RESPONSE,
            response.SerializeToString(deterministic=True),
            in_reply_to=message_id,
            event=AuditEvent.AGGREGATES_SENT,
            counts=len(response.counts),
            suppression_threshold=SUPPRESSION_THRESHOLD,
        )


def _requested_range(body: bytes) -> tuple[dt.date, dt.date]:
    request = parse_message(pb.AggregatesRequest, body, "aggregates: malformed request")
    first_day = parse_day(request.first_day, field_name="first_day")
    last_day = parse_day(request.last_day, field_name="last_day")
    check_range(first_day, last_day)
    return first_day, last_day


def _label(value: str, field_name: str) -> str:
    if not value or len(value) > MAX_LABEL_CHARS or not value.isprintable():
        raise InvalidInput(f"aggregates: malformed {field_name} in the reply")
    return value


def parse_response(reply: bytes, first_day: dt.date, last_day: dt.date) -> list[DailyCount]:
    """The partner's counts, checked: days in range, no duplicates, none under the
    threshold the partner declared."""
    response = parse_message(pb.AggregatesResponse, reply, "aggregates: malformed reply")
    counts: dict[tuple[dt.date, str, str], DailyCount] = {}
    for item in response.counts:
        day = parse_day(item.day, field_name="day")
        if not first_day <= day <= last_day:
            raise InvalidInput("aggregates: a count outside the requested range")
        if item.count < max(response.suppression_threshold, 1):
            raise InvalidInput("aggregates: a count under the declared suppression threshold")
        count = DailyCount(
            day,
            _label(item.nationality, "nationality"),
            _label(item.border_point, "border_point"),
            item.count,
        )
        key = (count.day, count.nationality, count.border_point)
        if key in counts:
            raise InvalidInput("aggregates: a duplicate count in the reply")
        counts[key] = count
    return list(counts.values())


def store_partner_counts(
    node: Node, party: str, first_day: dt.date, last_day: dt.date, counts: Iterable[DailyCount]
) -> int:
    """Replace ``party``'s stored counts for [first_day, last_day] with ``counts``
    (upserted; rows of the range not in ``counts`` are removed). Return how many."""
    received_at = dt.datetime.fromtimestamp(node.clock() / 1000, tz=dt.UTC).isoformat()
    rows = [
        (party, c.day.isoformat(), c.nationality, c.border_point, c.count, received_at)
        for c in counts
    ]
    with node.database.transaction() as connection:
        connection.execute(
            "DELETE FROM partner_counts WHERE party = ? AND day BETWEEN ? AND ?",
            (party, first_day.isoformat(), last_day.isoformat()),
        )
        connection.executemany(
            "INSERT INTO partner_counts (party, day, nationality, border_point, count, "
            "received_at) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (party, day, nationality, border_point) DO UPDATE SET "
            "count = excluded.count, received_at = excluded.received_at",
            rows,
        )
    return len(rows)


def stored_partner_counts(
    node: Node, party: str, first_day: dt.date, last_day: dt.date
) -> list[DailyCount]:
    """``party``'s stored counts in [first_day, last_day]."""
    rows = node.database.connection.execute(
        "SELECT day, nationality, border_point, count FROM partner_counts "
        "WHERE party = ? AND day BETWEEN ? AND ? ORDER BY day, nationality, border_point",
        (party, first_day.isoformat(), last_day.isoformat()),
    ).fetchall()
    return [
        DailyCount(
            dt.date.fromisoformat(row["day"]), row["nationality"], row["border_point"], row["count"]
        )
        for row in rows
    ]


def first_partner_day(node: Node, party: str) -> dt.date | None:
    """The earliest day we hold a count of ``party`` for (where its series start)."""
    row = node.database.connection.execute(
        "SELECT min(day) FROM partner_counts WHERE party = ?", (party,)
    ).fetchone()
    return dt.date.fromisoformat(row[0]) if row and row[0] else None


def request_aggregates(
    node: Node,
    call: Callable[[pb.SealedEnvelope], pb.SealedEnvelope],
    first_day: dt.date,
    last_day: dt.date,
) -> list[DailyCount]:
    """Ask the partner, through ``call``, for its counts of [first_day, last_day];
    store them as the partner's counts for that range and return them."""
    check_range(first_day, last_day)
    body = pb.AggregatesRequest(first_day=first_day.isoformat(), last_day=last_day.isoformat())
    counts = round_trip(
        node,
        AGGREGATES,
        body.SerializeToString(deterministic=True),
        call,
        lambda reply: parse_response(reply, first_day, last_day),
        sent={"first_day": first_day.isoformat(), "last_day": last_day.isoformat()},
        summary=lambda received: {"counts": len(received)},
    )
    store_partner_counts(node, node.partner.code, first_day, last_day, counts)
    return counts
