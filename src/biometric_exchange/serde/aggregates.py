"""Aggregate counts on the wire: AggregatesRequest / AggregatesResponse ↔ domain.

A request names an inclusive range of UTC days (at most ``MAX_RANGE_DAYS``);
a reply carries daily counts by nationality and border point and the
suppression threshold the holder applied. Replies are checked: days in the
range, no duplicates, no count under the declared threshold.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from biometric_exchange.domain import DailyCount
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.serde.common import parse_message, to_bytes
from biometric_exchange.v1 import exchange_pb2 as pb

MAX_RANGE_DAYS = 90
"""The longest inclusive day range one request may cover."""
MAX_LABEL_CHARS = 64
"""Longest nationality or border point code accepted from the partner."""


@dataclass(frozen=True)
class DayRange:
    """An inclusive, non-reversed range of at most ``MAX_RANGE_DAYS`` UTC days."""

    first_day: dt.date
    last_day: dt.date

    def __post_init__(self) -> None:
        if self.last_day < self.first_day:
            raise InvalidInput("aggregates: last_day is before first_day")
        if (self.last_day - self.first_day).days + 1 > MAX_RANGE_DAYS:
            raise InvalidInput(f"aggregates: the range exceeds {MAX_RANGE_DAYS} days")

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and self.first_day <= day <= self.last_day


@dataclass(frozen=True)
class SharedCounts:
    """The counts a holder shares, and the threshold under which it left counts out."""

    counts: list[DailyCount]
    suppression_threshold: int


def parse_day(text: str, *, field_name: str) -> dt.date:
    """An ISO 8601 calendar day (YYYY-MM-DD), or InvalidInput naming the field."""
    try:
        if len(text) != 10:
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(f"aggregates: {field_name} must be a YYYY-MM-DD day") from exc


def aggregates_request_to_bytes(days: DayRange) -> bytes:
    return to_bytes(
        pb.AggregatesRequest(
            first_day=days.first_day.isoformat(), last_day=days.last_day.isoformat()
        )
    )


def aggregates_request_from_bytes(body: bytes) -> DayRange:
    request = parse_message(pb.AggregatesRequest, body, "aggregates: malformed request")
    return DayRange(
        parse_day(request.first_day, field_name="first_day"),
        parse_day(request.last_day, field_name="last_day"),
    )


def aggregates_response_to_bytes(shared: SharedCounts) -> bytes:
    return to_bytes(
        pb.AggregatesResponse(
            counts=[
                pb.AggregateCount(
                    day=c.day.isoformat(),
                    nationality=c.nationality,
                    border_point=c.border_point,
                    count=c.count,
                )
                for c in shared.counts
            ],
            suppression_threshold=shared.suppression_threshold,
        )
    )


def _label(value: str, field_name: str) -> str:
    if not value or len(value) > MAX_LABEL_CHARS or not value.isprintable():
        raise InvalidInput(f"aggregates: malformed {field_name} in the reply")
    return value


def aggregates_response_from_bytes(body: bytes, days: DayRange) -> SharedCounts:
    """The partner's counts, checked: days in ``days``, no duplicates, none under the
    threshold the partner declared."""
    response = parse_message(pb.AggregatesResponse, body, "aggregates: malformed reply")
    counts: dict[tuple[dt.date, str, str], DailyCount] = {}
    for item in response.counts:
        day = parse_day(item.day, field_name="day")
        if day not in days:
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
    return SharedCounts(list(counts.values()), int(response.suppression_threshold))
