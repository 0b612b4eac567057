"""The values the command line parses: times (relative or ISO) and ids by prefix."""

from __future__ import annotations

import datetime as dt

import pytest

from biometric_exchange.cli.ids import MAX_NAMED, resolve_prefix
from biometric_exchange.cli.times import parse_moment, parse_window
from biometric_exchange.exceptions import InvalidInput

NOW = dt.datetime(2026, 3, 10, 14, 30, 15, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("45s", NOW - dt.timedelta(seconds=45)),
        ("30m", NOW - dt.timedelta(minutes=30)),
        ("2h", NOW - dt.timedelta(hours=2)),
        (" 7D ", NOW - dt.timedelta(days=7)),
        ("1w", NOW - dt.timedelta(weeks=1)),
        ("now", NOW),
        ("today", dt.datetime(2026, 3, 10, tzinfo=dt.UTC)),
        ("yesterday", dt.datetime(2026, 3, 9, tzinfo=dt.UTC)),
        ("2025-01-31", dt.datetime(2025, 1, 31, tzinfo=dt.UTC)),
        ("2025-01-31T08:00", dt.datetime(2025, 1, 31, 8, tzinfo=dt.UTC)),
        ("2025-01-31T08:00Z", dt.datetime(2025, 1, 31, 8, tzinfo=dt.UTC)),
        ("2025-01-31T08:00-03:00", dt.datetime(2025, 1, 31, 11, tzinfo=dt.UTC)),
    ],
)
def test_times_relative_named_or_iso(text: str, expected: dt.datetime) -> None:
    assert parse_moment(text, now=NOW, option="--since") == expected


@pytest.mark.parametrize("text", ["", "2 hours", "-2h", "h", "last tuesday", "2025-13-01"])
def test_a_time_that_is_none_names_the_option(text: str) -> None:
    with pytest.raises(InvalidInput, match=r"^--until: .* is not a time \(e\.g\. 30m, 2h"):
        parse_moment(text, now=NOW, option="--until")


def test_a_time_too_far_back_is_an_error() -> None:
    with pytest.raises(InvalidInput, match="--since: '99999999999d' reaches too far back"):
        parse_moment("99999999999d", now=NOW, option="--since")


def test_a_window_must_not_be_empty() -> None:
    assert parse_window("2h", "1h", now=NOW) == (
        NOW - dt.timedelta(hours=2),
        NOW - dt.timedelta(hours=1),
    )
    assert parse_window(None, None, now=NOW) == (None, None)
    with pytest.raises(InvalidInput, match="--until: '2h' is not after --since '1h'"):
        parse_window("1h", "2h", now=NOW)


KNOWN = ["ALR-0A1B", "ALR-0A2C", "ALR-7F00", "ALR-7F00X"]


def test_a_unique_prefix_or_an_exact_id_names_one() -> None:
    assert resolve_prefix("ALR-0A1", KNOWN, what="alert") == "ALR-0A1B"
    assert resolve_prefix(" ALR-0A2C ", KNOWN, what="alert") == "ALR-0A2C"
    assert resolve_prefix("ALR-7F00", KNOWN, what="alert") == "ALR-7F00"  # exact beats longer


def test_an_ambiguous_prefix_lists_the_candidates() -> None:
    with pytest.raises(InvalidInput) as raised:
        resolve_prefix("ALR-0A", KNOWN, what="alert")
    assert str(raised.value) == (
        "alert 'ALR-0A': ambiguous, 2 match: ALR-0A1B, ALR-0A2C; type more of it"
    )
    many = [f"DR-{n:03d}" for n in range(MAX_NAMED + 5)]
    with pytest.raises(InvalidInput, match=r"ambiguous, 15 match: DR-000, .*DR-009 and 5 more"):
        resolve_prefix("DR-", many, what="request")


def test_an_unknown_or_empty_id_is_an_error() -> None:
    with pytest.raises(InvalidInput, match=r"^alert 'ALR-9': no such alert"):
        resolve_prefix("ALR-9", KNOWN, what="alert")
    with pytest.raises(InvalidInput, match="give an id"):
        resolve_prefix("  ", KNOWN, what="alert")
