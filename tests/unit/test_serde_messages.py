"""Round trips of every wire message besides Identify (``test_serde``): step 2,
audit digests, aggregate counts and Ping; and the checks on what arrives."""

from __future__ import annotations

import datetime as dt

import pytest

from biometric_exchange.domain import DailyCount, RecordDigest, RequestStatus
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.serde.aggregates import (
    MAX_RANGE_DAYS,
    DayRange,
    SharedCounts,
    aggregates_request_from_bytes,
    aggregates_request_to_bytes,
    aggregates_response_from_bytes,
    aggregates_response_to_bytes,
)
from biometric_exchange.serde.details import (
    DetailsAnswer,
    DetailsQuery,
    details_request_from_bytes,
    details_request_to_bytes,
    details_response_from_bytes,
    details_response_to_bytes,
)
from biometric_exchange.serde.digest import (
    MAX_WINDOW_MS,
    DigestPeriod,
    digest_request_from_bytes,
    digest_request_to_bytes,
    digest_response_from_bytes,
    digest_response_to_bytes,
)
from biometric_exchange.serde.ping import (
    PingAnswer,
    PingQuery,
    ping_request_from_proto,
    ping_request_to_proto,
    ping_response_from_proto,
    ping_response_to_proto,
)

DAY = dt.date(2026, 11, 20)
LAJAS = "PAN-DARIEN-LAJAS-BLANCAS"


def test_details_request_and_answer_round_trip() -> None:
    query = DetailsQuery(
        "DR-0001-ABCD", "HIT-x", "missing_persons", "A justification of length", "O-1", ("names",)
    )
    assert details_request_from_bytes(details_request_to_bytes(query)) == query
    answer = DetailsAnswer(
        "DR-0001-ABCD",
        RequestStatus.APPROVED,
        {"given_name": "Synthetic", "family_name": "Person"},
        decided_at_ms=1_700_000_000_000,
        due_at_ms=1_700_000_900_000,
    )
    assert details_response_from_bytes(details_response_to_bytes(answer)) == answer
    kept = details_response_from_bytes(details_response_to_bytes(answer), keep={"given_name"})
    assert kept.fields == {"given_name": "Synthetic"}


def test_digest_request_and_reply_round_trip() -> None:
    period = DigestPeriod(1_000, 2_000)
    assert digest_request_from_bytes(digest_request_to_bytes(period)) == period
    records = [
        RecordDigest("a" * 32, "identify.sent", "accepted", 1_500),
        RecordDigest("b" * 32, "identify.reply_received", "rejected", 1_600),
    ]
    assert digest_response_from_bytes(digest_response_to_bytes(records)) == records


@pytest.mark.parametrize(
    ("from_ms", "until_ms"), [(5_000, 5_000), (10_000, 5_000), (-1, 5), (0, MAX_WINDOW_MS + 1)]
)
def test_digest_periods_must_be_non_empty_and_at_most_31_days(from_ms: int, until_ms: int) -> None:
    with pytest.raises(InvalidInput, match="audit digest: the period"):
        DigestPeriod(from_ms, until_ms)


def test_aggregates_request_and_reply_round_trip() -> None:
    days = DayRange(DAY - dt.timedelta(days=1), DAY)
    assert aggregates_request_from_bytes(aggregates_request_to_bytes(days)) == days
    shared = SharedCounts(
        [DailyCount(DAY, "CHN", LAJAS, 7), DailyCount(DAY - dt.timedelta(days=1), "IND", LAJAS, 5)],
        5,
    )
    assert aggregates_response_from_bytes(aggregates_response_to_bytes(shared), days) == shared


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        ([DailyCount(DAY + dt.timedelta(days=1), "CHN", LAJAS, 7)], "outside the requested range"),
        ([DailyCount(DAY, "CHN", LAJAS, 4)], "under the declared suppression threshold"),
        ([DailyCount(DAY, "CHN", LAJAS, 7)] * 2, "a duplicate count"),
        ([DailyCount(DAY, "", LAJAS, 7)], "malformed nationality"),
        ([DailyCount(DAY, "CHN", "x" * 65, 7)], "malformed border_point"),
    ],
)
def test_a_partners_counts_are_checked(counts: list[DailyCount], message: str) -> None:
    body = aggregates_response_to_bytes(SharedCounts(counts, 5))
    with pytest.raises(InvalidInput, match=message):
        aggregates_response_from_bytes(body, DayRange(DAY, DAY))


def test_day_ranges_are_inclusive_and_bounded() -> None:
    first = DAY
    last = first + dt.timedelta(days=MAX_RANGE_DAYS - 1)
    assert last in DayRange(first, last)
    with pytest.raises(InvalidInput, match="exceeds"):
        DayRange(first, last + dt.timedelta(days=1))
    with pytest.raises(InvalidInput, match="before first_day"):
        DayRange(last, first)


def test_ping_round_trip() -> None:
    query = PingQuery("PAN", "f" * 64, 1_700_000_000_000)
    assert ping_request_from_proto(ping_request_to_proto(query)) == query
    answer = PingAnswer("CHL", "CHL-PAN-1", "f" * 64, True, 1_700_000_000_001, "0.1.0")
    assert ping_response_from_proto(ping_response_to_proto(answer)) == answer


def test_ping_fields_from_a_caller_are_cut_short() -> None:
    query = ping_request_from_proto(ping_request_to_proto(PingQuery("P" * 50, "h" * 500, 1)))
    assert (len(query.sender), len(query.agreement_hash)) == (8, 64)
