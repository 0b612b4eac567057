"""Asking a partner for its daily counts (surge detection), and storing them."""

from __future__ import annotations

import datetime as dt

from biometric_exchange.domain import DailyCount
from biometric_exchange.node.link import Link
from biometric_exchange.node.rpc import EXCHANGE_AGGREGATES
from biometric_exchange.node.send.round_trip import round_trip
from biometric_exchange.node.transport import PeerTransport
from biometric_exchange.serde.aggregates import (
    DayRange,
    SharedCounts,
    aggregates_request_to_bytes,
    aggregates_response_from_bytes,
)


def request_aggregates(link: Link, transport: PeerTransport, days: DayRange) -> list[DailyCount]:
    """Ask ``link``'s partner for its counts of ``days``; store them as that partner's
    counts for the range (replacing what was stored) and return them."""
    shared: SharedCounts = round_trip(
        link,
        transport,
        EXCHANGE_AGGREGATES,
        aggregates_request_to_bytes(days),
        lambda reply: aggregates_response_from_bytes(reply, days),
        sent={"first_day": days.first_day.isoformat(), "last_day": days.last_day.isoformat()},
        summary=lambda received: {"counts": len(received.counts)},
    )
    node = link.node
    received_at = dt.datetime.fromtimestamp(node.clock() / 1000, tz=dt.UTC)
    node.counts.replace_partner(
        link.code, days.first_day, days.last_day, shared.counts, received_at=received_at
    )
    return shared.counts
