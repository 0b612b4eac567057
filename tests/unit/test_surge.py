"""Flow-surge detection without sockets: counts, suppression, the detector, the monitor."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

from biometric_exchange.crypto.envelope import open_envelope, read_header, seal
from biometric_exchange.domain import AlertKind, AlertStatus, DailyCount, Encounter, Severity
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.node.rpc import EXCHANGE_AGGREGATES
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.send.aggregates import request_aggregates
from biometric_exchange.node.serve.local import InMemoryPeerTransport
from biometric_exchange.node.surges import run_monitor
from biometric_exchange.serde.aggregates import MAX_RANGE_DAYS, DayRange
from biometric_exchange.store.audit import AuditEvent, AuditOutcome
from biometric_exchange.surge.detector import MIN_EXPECTED, DayTest, Series, assess_day
from biometric_exchange.surge.exact import conditional_p
from biometric_exchange.surge.impact import Impact, grade
from biometric_exchange.surge.monitor import TEST, find_surges
from biometric_exchange.surge.scan import scan_one
from biometric_exchange.surge.suppression import SUPPRESSION_THRESHOLD
from biometric_exchange.synthetic import DemoDataset
from biometric_exchange.v1 import exchange_pb2 as pb
from tests.wiring import Unreachable, handlers, in_memory

LAJAS = "PAN-DARIEN-LAJAS-BLANCAS"
TOCUMEN = "PAN-TOCUMEN-AIRPORT"


def add_encounters(
    node: Node,
    base: Encounter,
    day: dt.date,
    nationality: str,
    border_point: str,
    count: int,
    *,
    prefix: str = "SRG",
) -> None:
    """``count`` copies of ``base`` on ``day`` (UTC), stored without queuing checks."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    with node.database.transaction() as connection:
        for i in range(count):
            encounter = dataclasses.replace(
                base,
                encounter_id=f"{prefix}-{day.isoformat()}-{nationality}-{border_point}-{i:04d}",
                person=dataclasses.replace(base.person, nationality=nationality),
                encountered_at=start + dt.timedelta(minutes=7 * i),
                border_point=border_point,
            )
            node.records.insert_encounter(connection, encounter)


def sealed_request(sender: Node, first_day: str, last_day: str) -> pb.SealedEnvelope:
    body = pb.AggregatesRequest(first_day=first_day, last_day=last_day).SerializeToString()
    return seal(
        sender.link("PAN" if sender.country == "CHL" else "CHL").envelope,
        pb.MESSAGE_TYPE_AGGREGATES_REQUEST,
        body,
        now_ms=sender.clock(),
    )


def open_reply(receiver: Node, request: pb.SealedEnvelope, reply: pb.SealedEnvelope) -> bytes:
    return open_envelope(
        receiver.link("PAN" if receiver.country == "CHL" else "CHL").envelope,
        reply,
        now_ms=receiver.clock(),
        replay_guard=receiver.replay_guard,
        expected_type=pb.MESSAGE_TYPE_AGGREGATES_RESPONSE,
        expected_in_reply_to=read_header(request).message_id,
    ).body


def transport_to(holder: Node, caller: str = "CHL") -> InMemoryPeerTransport:
    return in_memory(holder, caller)


def aggregates(holder: Node, envelope: pb.SealedEnvelope) -> pb.SealedEnvelope:
    """``holder`` (PAN) answering CHL's ExchangeAggregates."""
    return handlers(holder, "CHL").handle(EXCHANGE_AGGREGATES, envelope)


def counts_from(chl: Node, pan: Node, first: dt.date, last: dt.date) -> list[DailyCount]:
    return request_aggregates(chl.link("PAN"), transport_to(pan), DayRange(first, last))


def stored(chl: Node, first: dt.date, last: dt.date) -> list[DailyCount]:
    return chl.counts.partner("PAN", first, last)


# Aggregates and suppression.


def test_counts_under_five_never_leave_the_node(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    pan, chl = nodes["PAN"], nodes["CHL"]
    base = dataset.encounters["PAN"][0]
    day = pan.today() - dt.timedelta(days=1)
    add_encounters(pan, base, day, "AFG", LAJAS, SUPPRESSION_THRESHOLD - 1)
    add_encounters(pan, base, day, "CHN", LAJAS, SUPPRESSION_THRESHOLD)

    request = sealed_request(chl, day.isoformat(), day.isoformat())
    reply = aggregates(pan, request)
    body = open_reply(chl, request, reply)
    response = pb.AggregatesResponse.FromString(body)

    assert response.suppression_threshold == SUPPRESSION_THRESHOLD
    assert [(c.day, c.nationality, c.border_point, c.count) for c in response.counts] == [
        (day.isoformat(), "CHN", LAJAS, 5)
    ]
    # The suppressed cell leaves no trace in the decrypted bytes, nor in the envelope.
    assert b"AFG" not in body
    assert b"AFG" not in reply.SerializeToString()
    # Only aggregate numbers: no encounter id, name or document number.
    person = base.person
    for secret in ("SRG-", person.given_name, person.family_name, person.document_number):
        assert secret.encode() not in body


def test_client_stores_the_partners_counts_and_both_sides_audit(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    pan, chl = nodes["PAN"], nodes["CHL"]
    base = dataset.encounters["PAN"][0]
    day = pan.today()
    add_encounters(pan, base, day, "CHN", LAJAS, 7)
    add_encounters(pan, base, day, "IND", TOCUMEN, 4)

    counts = counts_from(chl, pan, day, day)

    assert counts == [DailyCount(day, "CHN", LAJAS, 7)]
    assert stored(chl, day, day) == counts
    # Asking again replaces (upserts) the stored range.
    add_encounters(pan, base, day, "IND", LAJAS, 6)
    counts_from(chl, pan, day, day)
    assert stored(chl, day, day) == [
        DailyCount(day, "CHN", LAJAS, 7),
        DailyCount(day, "IND", LAJAS, 6),
    ]
    pan_events = [(e.event, e.outcome) for e in pan.audit.entries()]
    chl_events = [(e.event, e.outcome) for e in chl.audit.entries()]
    assert pan_events.count(("aggregates.received", "accepted")) == 2
    assert pan_events.count(("aggregates.sent", "accepted")) == 2
    assert chl_events.count(("aggregates.sent", "accepted")) == 2
    assert chl_events.count(("aggregates.received", "accepted")) == 2


@pytest.mark.parametrize(
    ("first_day", "last_day"),
    [
        ("2026-01-01", "2026-04-01"),  # 91 days
        ("2026-01-02", "2026-01-01"),  # reversed
        ("2026-1-1", "2026-01-02"),  # not YYYY-MM-DD
    ],
)
def test_handler_refuses_bad_ranges_and_audits_it(
    nodes: dict[str, Node], first_day: str, last_day: str
) -> None:
    pan, chl = nodes["PAN"], nodes["CHL"]
    with pytest.raises(InvalidInput):
        aggregates(pan, sealed_request(chl, first_day, last_day))
    refused = pan.audit.entries()[-1]
    assert (refused.event, refused.outcome) == (
        AuditEvent.AGGREGATES_RECEIVED.value,
        AuditOutcome.REJECTED.value,
    )


def test_range_of_exactly_ninety_days_is_accepted(nodes: dict[str, Node]) -> None:
    pan, chl = nodes["PAN"], nodes["CHL"]
    first = dt.date(2026, 1, 1)
    last = first + dt.timedelta(days=MAX_RANGE_DAYS - 1)
    assert counts_from(chl, pan, first, last) == []
    with pytest.raises(InvalidInput):
        DayRange(first, last + dt.timedelta(days=1))
    with pytest.raises(InvalidInput):
        DayRange(last, first)


# The detector.


def test_detects_a_change_point_within_two_days() -> None:
    rng = np.random.default_rng(2017)
    series = [*rng.poisson(6, 30).tolist(), *rng.poisson(30, 10).tolist()]
    found = [(index, a) for index, a in scan_one(series) if index >= 30]
    assert found, "the surge was not detected"
    first_index, first = found[0]
    assert first_index <= 32
    assert first.impact in {Impact.HIGH, Impact.CRITICAL}


def test_flat_series_rarely_alert() -> None:
    """A steady Poisson(6) flow over 60 days: at most ALPHA (1e-4) a tested day, so
    under 0.6 % of such series ever alert over their 53 tested days; none critically."""
    alerting = 0
    for seed in range(300):
        series = np.random.default_rng(seed).poisson(6, 60).tolist()
        found = scan_one(series)
        assert all(a.impact is not Impact.CRITICAL for _, a in found)
        alerting += bool(found)
    assert alerting / 300 < 0.01


def test_a_flat_series_raises_no_alert() -> None:
    series = np.random.default_rng(2017).poisson(6, 60).tolist()
    assert scan_one(series) == []


@pytest.mark.parametrize(
    ("count", "expected", "p", "impact"),
    [
        (3, 2.0, 9.9e-5, Impact.LOW),  # exactly 1.5 λ
        (3, 2.0, 1e-4, None),  # p not under the significance level
        (2, 2.0, 1e-9, None),  # under 1.5 λ, however unlikely
        (4, 2.0, 9.9e-5, Impact.MEDIUM),  # exactly 2 λ
        (4, 2.0, 1e-4, None),
        (5, 2.0, 1e-9, Impact.MEDIUM),  # under 3 λ
        (6, 2.0, 9.9e-5, Impact.HIGH),  # exactly 3 λ
        (6, 2.0, 1e-4, None),
        (9, 2.0, 1e-12, Impact.HIGH),  # under 5 λ
        (10, 2.0, 9.9e-7, Impact.CRITICAL),  # exactly 5 λ
        (10, 2.0, 1e-6, Impact.HIGH),
    ],
)
def test_impact_grading_boundaries(
    count: int, expected: float, p: float, impact: Impact | None
) -> None:
    assert grade(count, expected, p) is impact


def assess(count: int, history: list[int]) -> DayTest | None:
    """``count`` after ``history``, as the day's test sees it."""
    return assess_day(Series.of([*history, count]), len(history))


def test_assessment_needs_seven_days_and_uses_the_last_fourteen() -> None:
    assert assess(20, [6] * 6) is None
    short = assess(20, [6] * 7)
    assert short is not None and short.baseline == 6
    long = assess(20, [100] * 10 + [6] * 14)
    assert long is not None
    assert long.baseline == 6 and long.baseline_days == 14
    assert long.window_days == 1
    assert long.p_value == pytest.approx(2 * conditional_p(20, 1, 84, 14)), "two windows"
    assert long.ratio == pytest.approx(20 / 6)


def test_a_rise_over_two_days_is_tested_as_one_window() -> None:
    """16 then 16 against a baseline of 6: neither day alone is significant, together they are."""
    history = [6] * 14
    first = scan_one([*history, 16])
    assert first == []
    second = assess(16, [*history, 16])
    assert second is not None
    assert second.window_days == 2
    assert second.count == 32 and second.expected == pytest.approx(12.0)
    assert second.p_value == pytest.approx(2 * conditional_p(32, 2, 84, 14))
    ((day, found),) = scan_one([*history, 16, 16])
    assert day == 15 and found.impact is Impact.MEDIUM


def test_an_absent_flow_needs_no_floor_in_the_test() -> None:
    """After 14 empty days the exact test needs no floor (p = (1/15)^x, times 2 windows);
    the floor only keeps the ratio finite."""
    quiet = assess(1, [0] * 14)
    assert quiet is not None and quiet.expected == MIN_EXPECTED
    assert quiet.p_value == pytest.approx(2 / 15)
    assert scan_one([0] * 14 + [3]) == [], "three new arrivals are not yet a surge"
    ((_, few),) = scan_one([0] * 14 + [5])
    assert few.p_value == pytest.approx(2 / 15**5)
    assert few.impact is Impact.HIGH, "p above 1e-6: not critical"
    ((_, arrival),) = scan_one([0] * 14 + [8])
    assert arrival.impact is Impact.CRITICAL


def test_find_surges_treats_missing_days_as_zero_and_starts_at_the_first_day() -> None:
    today = dt.date(2026, 11, 20)
    first = today - dt.timedelta(days=16)
    counts = [DailyCount(first + dt.timedelta(days=d), "CHN", LAJAS, 6) for d in range(0, 16, 2)]
    counts.append(DailyCount(today, "CHN", LAJAS, 40))
    (surge,) = find_surges(counts, "PAN", first_day=first, today=today)
    assert surge.day == today
    assert surge.assessment.baseline == pytest.approx(3.0)  # half the days are 0
    assert surge.subject_key == f"surge:PAN:CHN:{LAJAS}"
    # Too little history: the series starts three days ago.
    late = today - dt.timedelta(days=3)
    assert find_surges(counts, "PAN", first_day=late, today=today) == []


def test_a_partners_suppressed_days_do_not_make_a_rare_flow_look_like_a_surge() -> None:
    """A partner reports only counts of 5 or more: a rare flow's days read as missing,
    then a first 6. Missing read as 0 that is a surge; read as up to 4 it is none."""
    today = dt.date(2026, 11, 20)
    first = today - dt.timedelta(days=14)
    rare = [DailyCount(today, "ERI", LAJAS, 6)]
    assert [s.day for s in find_surges(rare, "PAN", first_day=first, today=today)] == [today]
    assert find_surges(rare, "PAN", first_day=first, today=today, missing=4) == []
    # A real jump in a partner's series is still found against the cautious baseline.
    steady = [DailyCount(first + dt.timedelta(days=d), "CHN", LAJAS, 6) for d in range(14)]
    jump = [*steady, DailyCount(today, "CHN", LAJAS, 30)]
    (surge,) = find_surges(jump, "PAN", first_day=first, today=today, missing=4)
    assert surge.day == today and surge.assessment.baseline == pytest.approx(6.0)


# The monitor.


def surge_on_pan(
    pan: Node,
    base: Encounter,
    *,
    today_count: int = 48,
    points: tuple[str, str] = (LAJAS, TOCUMEN),
) -> dt.date:
    """14 days of CHN at Lajas Blancas around 6 a day, then a surge today; a small
    IND flow at Tocumen under the suppression threshold throughout (on another
    node, at its own two ``points``)."""
    surging, steady = points
    today = pan.today()
    daily = [6, 5, 7, 6, 6, 8, 5, 6, 7, 6, 5, 6, 7, 6]
    for offset, count in enumerate(daily, start=1):
        day = today - dt.timedelta(days=offset)
        add_encounters(pan, base, day, "CHN", surging, count)
        add_encounters(pan, base, day, "IND", steady, 3)
    add_encounters(pan, base, today, "CHN", surging, today_count)
    return today


def test_monitor_raises_flow_surge_on_both_sides_and_is_idempotent(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    pan, chl = nodes["PAN"], nodes["CHL"]
    today = surge_on_pan(pan, dataset.encounters["PAN"][0])

    report = run_monitor(chl, {"PAN": transport_to(pan)})
    assert report.partner_refreshed
    assert report.new_alerts == 1
    (alert,) = chl.alerts.list(kind=AlertKind.FLOW_SURGE)
    assert alert.subject_key == f"surge:PAN:CHN:{LAJAS}"
    assert alert.partner == "PAN"
    assert alert.severity is Severity.CRITICAL
    assert alert.summary == (
        f"surge of CHN nationals at {LAJAS} on {today.isoformat()}: "
        "48 vs 6.1/day baseline (critical impact)"
    )
    (item,) = alert.evidence
    assert item["key"] == f"{today.isoformat()}:critical"
    assert item["count"] == 48
    assert item["baseline"] == pytest.approx(86 / 14, abs=1e-3)
    assert item["p_value"] < 1e-6
    assert {item["party"], item["nationality"], item["border_point"]} == {"PAN", "CHN", LAJAS}
    assert (item["rule"], item["test"]) == ("FLOW_SURGE", TEST)
    assert (item["family"], item["window_days"], item["baseline_days"]) == (1, 1, 14)
    # The suppressed IND flow never reached CHL.
    kept = stored(chl, today - dt.timedelta(days=20), today)
    assert {c.nationality for c in kept} == {"CHN"}

    again = run_monitor(chl, {"PAN": transport_to(pan)})
    assert (again.new_alerts, again.evidence_added) == (0, 0)
    assert chl.alerts.list(kind=AlertKind.FLOW_SURGE) == [alert]

    # PAN sees the same surge in its own (unsuppressed) counts, without a partner.
    own = run_monitor(pan, {})
    assert not own.partner_refreshed
    (pan_alert,) = pan.alerts.list(kind=AlertKind.FLOW_SURGE)
    assert pan_alert.subject_key == f"surge:PAN:CHN:{LAJAS}"
    assert pan_alert.partner is None
    assert run_monitor(pan, {}).evidence_added == 0


def test_a_growing_day_escalates_and_a_closed_alert_is_not_raised_again(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    pan = nodes["PAN"]
    base = dataset.encounters["PAN"][0]
    today = surge_on_pan(pan, base, today_count=20)
    run_monitor(pan, {})
    (alert,) = pan.alerts.list(kind=AlertKind.FLOW_SURGE)
    assert alert.severity is Severity.HIGH

    add_encounters(pan, base, today, "CHN", LAJAS, 20, prefix="LATER")
    assert run_monitor(pan, {}).evidence_added == 1
    escalated = pan.alerts.get(alert.alert_id)
    assert escalated is not None
    assert escalated.severity is Severity.CRITICAL
    assert [item["key"] for item in escalated.evidence] == [
        f"{today.isoformat()}:high",
        f"{today.isoformat()}:critical",
    ]

    with pan.database.transaction() as connection:
        connection.execute(
            "UPDATE alerts SET status = ? WHERE alert_id = ?",
            (AlertStatus.CLOSED.value, alert.alert_id),
        )
    report = run_monitor(pan, {})
    assert (report.new_alerts, report.evidence_added) == (0, 0)


def test_monitor_survives_an_unreachable_partner(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    chl = nodes["CHL"]
    surge_on_pan(chl, dataset.encounters["CHL"][0], points=("CHL-COLCHANE", "CHL-CHACALLUTA"))

    report = run_monitor(chl, {"PAN": Unreachable()})
    assert not report.partner_refreshed
    assert report.new_alerts == 1  # our own counts are still assessed
    failed = [e for e in chl.audit.entries() if e.event == "aggregates.received"]
    assert failed[-1].outcome == AuditOutcome.FAILED.value
