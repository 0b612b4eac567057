"""Flow surges between real nodes: CHL's monitor pulls PAN's counts over mTLS and alerts.

Both nodes serve in this process (real gRPC, real mutual TLS); each node's surge
monitor, which its process runs every minute, runs in the test's thread.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from biometric_exchange.crypto.envelope import open_envelope, read_header, seal
from biometric_exchange.domain import Alert, AlertKind, DailyCount, Encounter, Severity
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.send.aggregates import request_aggregates
from biometric_exchange.node.surges import run_monitor
from biometric_exchange.serde.aggregates import DayRange
from biometric_exchange.surge.suppression import SUPPRESSION_THRESHOLD
from biometric_exchange.synthetic import DemoDataset
from biometric_exchange.v1 import exchange_pb2 as pb
from tests.integration.conftest import ServedPair

pytestmark = pytest.mark.integration

LAJAS = "PAN-DARIEN-LAJAS-BLANCAS"
TOCUMEN = "PAN-TOCUMEN-AIRPORT"
BASELINE = [6, 5, 7, 6, 6, 8, 5, 6, 7, 6, 5, 6, 7, 6]
"""CHN at Lajas Blancas on each of the 14 days before today, newest first."""
SURGE = 48
SMALL = 3
"""IND at Tocumen every day: under the suppression threshold."""


def encounters(
    base: Encounter, day: dt.date, nationality: str, point: str, count: int
) -> list[Encounter]:
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return [
        dataclasses.replace(
            base,
            encounter_id=f"SRG-{day.isoformat()}-{nationality}-{point}-{i:04d}",
            person=dataclasses.replace(base.person, nationality=nationality),
            encountered_at=start + dt.timedelta(minutes=7 * i),
            border_point=point,
        )
        for i in range(count)
    ]


@pytest.fixture(scope="module")
def surge_day(served_pair: ServedPair, dataset: DemoDataset) -> dt.date:
    """PAN's baseline and today's surge, written into PAN's database in one transaction
    (no outbox items, so no exchanges), while both nodes serve."""
    pan = served_pair.panama
    base = dataset.encounters["PAN"][0]
    today = pan.today()
    rows: list[Encounter] = encounters(base, today, "CHN", LAJAS, SURGE)
    for offset, count in enumerate(BASELINE, start=1):
        day = today - dt.timedelta(days=offset)
        rows += encounters(base, day, "CHN", LAJAS, count)
        rows += encounters(base, day, "IND", TOCUMEN, SMALL)
    with pan.database.transaction() as connection:
        for encounter in rows:
            pan.records.insert_encounter(connection, encounter)
    return today


def flow_surge(node: Node) -> Alert | None:
    alerts = node.alerts.list(kind=AlertKind.FLOW_SURGE)
    return alerts[0] if alerts else None


def test_chl_monitor_raises_a_flow_surge_on_pans_counts(
    served_pair: ServedPair, surge_day: dt.date
) -> None:
    chl, pan = served_pair.chile, served_pair.panama
    run_monitor(chl, served_pair.transports(chl))
    alert = flow_surge(chl)
    assert alert is not None
    assert alert.subject_key == f"surge:PAN:CHN:{LAJAS}"
    assert alert.partner == "PAN"
    assert alert.severity is Severity.CRITICAL
    assert alert.summary.startswith(
        f"surge of CHN nationals at {LAJAS} on {surge_day.isoformat()}: {SURGE} vs 6.1/day"
    )
    (item,) = alert.evidence
    assert (item["day"], item["count"], item["impact"]) == (surge_day.isoformat(), 48, "critical")
    stored = chl.counts.partner("PAN", surge_day - dt.timedelta(days=30), surge_day)
    assert {c.nationality for c in stored} == {"CHN"}
    assert min(c.count for c in stored) >= SUPPRESSION_THRESHOLD
    # PAN's own monitor sees the surge in its unsuppressed counts.
    run_monitor(pan, served_pair.transports(pan))
    own = flow_surge(pan)
    assert own is not None
    assert own.subject_key == alert.subject_key
    assert own.partner is None


def test_the_aggregates_on_the_wire_hold_no_count_under_five(
    served_pair: ServedPair, surge_day: dt.date
) -> None:
    chl, pan = served_pair.chile, served_pair.panama
    first = surge_day - dt.timedelta(days=len(BASELINE))
    body = pb.AggregatesRequest(first_day=first.isoformat(), last_day=surge_day.isoformat())
    request = seal(
        chl.link("PAN").envelope,
        pb.MESSAGE_TYPE_AGGREGATES_REQUEST,
        body.SerializeToString(),
        now_ms=chl.clock(),
    )
    reply = served_pair.partner_stub(chl, pan).ExchangeAggregates(request, timeout=10)
    plain = open_envelope(
        chl.link("PAN").envelope,
        reply,
        now_ms=chl.clock(),
        replay_guard=chl.replay_guard,
        expected_type=pb.MESSAGE_TYPE_AGGREGATES_RESPONSE,
        expected_in_reply_to=read_header(request).message_id,
    ).body
    response = pb.AggregatesResponse.FromString(plain)

    assert response.suppression_threshold == SUPPRESSION_THRESHOLD
    assert len(response.counts) == len(BASELINE) + 1
    assert min(c.count for c in response.counts) >= SUPPRESSION_THRESHOLD
    assert {(c.nationality, c.border_point) for c in response.counts} == {("CHN", LAJAS)}
    assert b"IND" not in plain and TOCUMEN.encode() not in plain
    assert b"SRG-" not in plain  # no encounter ids


def test_client_over_grpc_returns_and_stores_the_suppressed_counts(
    served_pair: ServedPair, surge_day: dt.date
) -> None:
    chl = served_pair.chile
    transport = served_pair.transport(chl, "PAN")
    counts = request_aggregates(chl.link("PAN"), transport, DayRange(surge_day, surge_day))
    assert counts == [DailyCount(surge_day, "CHN", LAJAS, SURGE)]
    assert chl.counts.partner("PAN", surge_day, surge_day) == counts
