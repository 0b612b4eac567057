"""The holder's side of ``ExchangeAggregates``: our daily counts, suppressed.

A count is the number of our encounters on one UTC day of one nationality at
one border point. Counts under ``SUPPRESSION_THRESHOLD`` are left out entirely
before anything leaves the node: no ids, names, templates or times cross.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from biometric_exchange.node.link import Link
from biometric_exchange.node.rpc import EXCHANGE_AGGREGATES
from biometric_exchange.node.serve.sealed import serve_sealed
from biometric_exchange.serde.aggregates import (
    DayRange,
    SharedCounts,
    aggregates_request_from_bytes,
    aggregates_response_to_bytes,
)
from biometric_exchange.surge.suppression import SUPPRESSION_THRESHOLD, suppress
from biometric_exchange.v1 import exchange_pb2 as pb

_Shared = tuple[DayRange, SharedCounts]


def shareable_counts(link: Link, days: DayRange) -> SharedCounts:
    """What we may tell the partner about ``days``: suppressed counts only."""
    counts = link.node.counts.local(days.first_day, days.last_day)
    return SharedCounts(suppress(counts), SUPPRESSION_THRESHOLD)


class AggregatesHandler:
    """Answers one partner's request for our counts."""

    def __init__(self, link: Link) -> None:
        self._link = link

    def handle(self, envelope: pb.SealedEnvelope) -> pb.SealedEnvelope:
        return serve_sealed(self._link, EXCHANGE_AGGREGATES, envelope, self)

    def check(self, body: bytes) -> DayRange:
        return aggregates_request_from_bytes(body)

    def prepare(self, days: DayRange) -> SharedCounts:
        return shareable_counts(self._link, days)

    def admit(self, days: DayRange, shared: SharedCounts) -> _Shared:
        return days, shared

    def describe(self, shared: _Shared) -> Mapping[str, Any]:
        days = shared[0]
        return {"first_day": days.first_day.isoformat(), "last_day": days.last_day.isoformat()}

    def answer(self, shared: _Shared) -> tuple[bytes, Mapping[str, Any]]:
        counts = shared[1]
        detail = {
            "counts": len(counts.counts),
            "suppression_threshold": counts.suppression_threshold,
        }
        return aggregates_response_to_bytes(counts), detail
