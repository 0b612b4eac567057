"""The alert review workflow: transitions, four eyes, dismissal reasons, audit, SLA."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
from typing import Any

import pytest

from biometric_exchange.alerts.review import (
    ACK_SLA,
    TRANSITIONS,
    AlertReview,
    DismissalReason,
    IllegalTransition,
    allowed_next,
    sla_due,
    sla_state,
)
from biometric_exchange.domain import Alert, AlertKind, AlertStatus, Severity
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.node.runtime import Node
from biometric_exchange.store.alerts import new_alert_id
from biometric_exchange.store.audit import AuditEvent, AuditLog

S = AlertStatus
CREATED = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)
NOW = CREATED + dt.timedelta(minutes=5)

# The shortest way to each state from NEW (see ``step`` for who acts).
PATH: dict[AlertStatus, list[AlertStatus]] = {
    S.NEW: [],
    S.ACKNOWLEDGED: [S.ACKNOWLEDGED],
    S.INVESTIGATING: [S.ACKNOWLEDGED, S.INVESTIGATING],
    S.ESCALATED: [S.ACKNOWLEDGED, S.INVESTIGATING, S.ESCALATED],
    S.CONFIRMED: [S.ACKNOWLEDGED, S.CONFIRMED],
    S.DISMISSED: [S.ACKNOWLEDGED, S.DISMISSED],
    S.CLOSED: [S.ACKNOWLEDGED, S.DISMISSED, S.CLOSED],
}


def make_alert(
    severity: Severity = Severity.CRITICAL,
    *,
    subject: str = "PAN:HR-1",
    key: str = "encounter:E-1",
    created_at: dt.datetime = CREATED,
) -> Alert:
    return Alert(
        alert_id=new_alert_id(),
        kind=AlertKind.WATCHLIST_HIT,
        severity=severity,
        created_at=created_at,
        summary="hit on PAN watchlist, category arrest_warrant: encounter E-1",
        subject_key=subject,
        partner="PAN",
        encounter_id="E-1",
        hit_reference="HR-1",
        category="arrest_warrant",
        distance=0.31,
        evidence=({"key": key, "rule": "WATCHLIST_HIT", "distance": 0.31, "threshold": 0.6},),
    )


@pytest.fixture
def chl(nodes: dict[str, Node]) -> Node:
    return nodes["CHL"]


@pytest.fixture
def review(chl: Node) -> AlertReview:
    return AlertReview(chl.database, chl.audit, clock=lambda: NOW)


@pytest.fixture
def alert_id(chl: Node) -> str:
    return chl.alerts.raise_alert(make_alert()).alert_id


def step(review: AlertReview, alert_id: str, to: AlertStatus) -> Alert:
    """One legal step: bob confirms what alice acknowledged; dismissals say duplicate."""
    operator = "bob" if to is S.CONFIRMED else "alice"
    reason = DismissalReason.DUPLICATE if to is S.DISMISSED else None
    return review.transition(alert_id, to, operator, reason=reason)


def drive(review: AlertReview, alert_id: str, to: AlertStatus) -> None:
    for target in PATH[to]:
        step(review, alert_id, target)


def transition_rows(chl: Node) -> int:
    return int(
        chl.database.connection.execute("SELECT count(*) FROM alert_transitions").fetchone()[0]
    )


def test_the_transition_table_is_the_documented_one() -> None:
    assert {
        S.NEW: {S.ACKNOWLEDGED},
        S.ACKNOWLEDGED: {S.INVESTIGATING, S.CONFIRMED, S.DISMISSED},
        S.INVESTIGATING: {S.ESCALATED, S.CONFIRMED, S.DISMISSED},
        S.ESCALATED: {S.CONFIRMED, S.DISMISSED},
        S.CONFIRMED: {S.CLOSED},
        S.DISMISSED: {S.CLOSED},
        S.CLOSED: set(),
    } == TRANSITIONS


# In workflow order: a frozenset's order changes with the hash seed, and parallel test
# workers must collect the same tests in the same order.
LEGAL = [(source, target) for source in TRANSITIONS for target in allowed_next(source)]


@pytest.mark.parametrize(("source", "target"), LEGAL, ids=[f"{a}-{b}" for a, b in LEGAL])
def test_every_legal_transition_updates_status_and_history(
    chl: Node, review: AlertReview, alert_id: str, source: AlertStatus, target: AlertStatus
) -> None:
    drive(review, alert_id, source)

    returned = step(review, alert_id, target)

    stored = chl.alerts.get(alert_id)
    assert stored is not None
    assert returned == stored
    assert stored.status is target
    assert stored.updated_at == NOW
    last = review.history(alert_id)[-1]
    assert (last.from_status, last.to_status) == (source, target)


ILLEGAL = [
    (S.NEW, S.CONFIRMED, "is NEW: cannot move to CONFIRMED (allowed next: ACKNOWLEDGED)"),
    (S.NEW, S.DISMISSED, "is NEW: cannot move to DISMISSED (allowed next: ACKNOWLEDGED)"),
    (S.NEW, S.CLOSED, "is NEW: cannot move to CLOSED (allowed next: ACKNOWLEDGED)"),
    (
        S.ACKNOWLEDGED,
        S.ESCALATED,
        "is ACKNOWLEDGED: cannot move to ESCALATED "
        "(allowed next: INVESTIGATING, CONFIRMED, DISMISSED)",
    ),
    (
        S.ACKNOWLEDGED,
        S.ACKNOWLEDGED,
        "is ACKNOWLEDGED: cannot move to ACKNOWLEDGED "
        "(allowed next: INVESTIGATING, CONFIRMED, DISMISSED)",
    ),
    (
        S.ESCALATED,
        S.INVESTIGATING,
        "is ESCALATED: cannot move to INVESTIGATING (allowed next: CONFIRMED, DISMISSED)",
    ),
    (S.CONFIRMED, S.DISMISSED, "is CONFIRMED: cannot move to DISMISSED (allowed next: CLOSED)"),
    (S.DISMISSED, S.NEW, "is DISMISSED: cannot move to NEW (allowed next: CLOSED)"),
    (S.CLOSED, S.ACKNOWLEDGED, "is CLOSED: cannot move to ACKNOWLEDGED (CLOSED is final)"),
]


@pytest.mark.parametrize(("source", "target", "message"), ILLEGAL)
def test_illegal_transitions_are_refused_naming_state_and_next_states(
    chl: Node,
    review: AlertReview,
    alert_id: str,
    source: AlertStatus,
    target: AlertStatus,
    message: str,
) -> None:
    drive(review, alert_id, source)
    rows, entries = transition_rows(chl), len(chl.audit.entries())

    with pytest.raises(IllegalTransition) as refused:
        step(review, alert_id, target)

    assert f"alert {alert_id} {message}" in str(refused.value)
    assert isinstance(refused.value, InvalidInput)
    stored = chl.alerts.get(alert_id)
    assert stored is not None and stored.status is source
    assert (transition_rows(chl), len(chl.audit.entries())) == (rows, entries)


def test_unknown_alert_is_refused(review: AlertReview) -> None:
    with pytest.raises(InvalidInput, match="'ALR-NOPE': no such alert"):
        review.acknowledge("ALR-NOPE", "alice")


@pytest.mark.parametrize("operator", ["", "   ", "x" * 65, "al\nice", "bob\x00"])
def test_operator_must_be_1_to_64_printable_characters(
    chl: Node, review: AlertReview, alert_id: str, operator: str
) -> None:
    with pytest.raises(InvalidInput, match="operator"):
        review.acknowledge(alert_id, operator)
    assert transition_rows(chl) == 0


def test_operator_of_64_characters_is_accepted(review: AlertReview, alert_id: str) -> None:
    assert review.acknowledge(alert_id, " " + "x" * 64 + " ").acknowledged_by == "x" * 64


# --- four eyes -----------------------------------------------------------------------------


def test_four_eyes_refuses_the_acknowledging_officer_and_accepts_another(
    chl: Node, review: AlertReview, alert_id: str
) -> None:
    acknowledged = review.acknowledge(alert_id, "alice")
    assert acknowledged.acknowledged_by == "alice"

    for same in ("alice", "ALICE", " alice "):
        with pytest.raises(InvalidInput, match=r"four eyes: .*another officer must confirm"):
            review.confirm(alert_id, same)
    stored = chl.alerts.get(alert_id)
    assert stored is not None and stored.status is S.ACKNOWLEDGED

    confirmed = review.confirm(alert_id, "bob")
    assert confirmed.status is S.CONFIRMED
    assert confirmed.acknowledged_by == "alice"


def test_four_eyes_holds_after_investigation_and_escalation(
    review: AlertReview, alert_id: str
) -> None:
    review.acknowledge(alert_id, "alice")
    review.investigate(alert_id, "bob")
    review.escalate(alert_id, "bob")
    with pytest.raises(InvalidInput, match="four eyes"):
        review.confirm(alert_id, "alice")
    assert review.confirm(alert_id, "bob").status is S.CONFIRMED


def test_confirmation_without_an_acknowledging_officer_on_record_is_refused(
    chl: Node, review: AlertReview
) -> None:
    raised = chl.alerts.raise_alert(dataclasses.replace(make_alert(), status=S.ACKNOWLEDGED))
    with pytest.raises(InvalidInput, match="no acknowledging officer on record"):
        review.confirm(raised.alert_id, "bob")


# --- dismissal -----------------------------------------------------------------------------


def test_dismissal_needs_a_reason_code(chl: Node, review: AlertReview, alert_id: str) -> None:
    review.acknowledge(alert_id, "alice")
    with pytest.raises(InvalidInput, match=r"dismissal needs a reason code .*false_match"):
        review.dismiss(alert_id, "alice", None)
    stored = chl.alerts.get(alert_id)
    assert stored is not None and stored.status is S.ACKNOWLEDGED


@pytest.mark.parametrize("comment", [None, "", "   "])
def test_dismissal_for_other_needs_a_comment(
    review: AlertReview, alert_id: str, comment: str | None
) -> None:
    review.acknowledge(alert_id, "alice")
    with pytest.raises(InvalidInput, match="reason 'other' needs a comment"):
        review.dismiss(alert_id, "alice", DismissalReason.OTHER, comment)


def test_dismissal_keeps_reason_and_comment(review: AlertReview, alert_id: str) -> None:
    review.acknowledge(alert_id, "alice")
    dismissed = review.dismiss(alert_id, "alice", DismissalReason.OTHER, " twin sibling ")
    assert dismissed.status is S.DISMISSED
    last = review.history(alert_id)[-1]
    assert (last.reason_code, last.comment) == (DismissalReason.OTHER, "twin sibling")


def test_reason_code_is_for_dismissal_only(review: AlertReview, alert_id: str) -> None:
    with pytest.raises(InvalidInput, match="reason code is for dismissal only"):
        review.transition(alert_id, S.ACKNOWLEDGED, "alice", reason=DismissalReason.DUPLICATE)


# --- audit, history, atomicity -------------------------------------------------------------


def test_each_transition_writes_one_audit_entry(
    chl: Node, review: AlertReview, alert_id: str
) -> None:
    before = len(chl.audit.entries())
    review.acknowledge(alert_id, "alice", comment="taking it")
    review.dismiss(alert_id, "bob", DismissalReason.FALSE_MATCH)

    entries = chl.audit.entries()[before:]
    assert [e.event for e in entries] == [AuditEvent.ALERT_TRANSITION.value] * 2
    assert [e.outcome for e in entries] == ["accepted", "accepted"]
    assert [(e.officer, e.decision) for e in entries] == [
        ("alice", "ACKNOWLEDGED"),
        ("bob", "DISMISSED"),
    ]
    assert entries[0].detail == {
        "alert_id": alert_id,
        "from": "NEW",
        "reason_code": None,
        "officer": "alice",
        "decision": "ACKNOWLEDGED",
    }
    assert entries[1].detail["from"] == "ACKNOWLEDGED"
    assert entries[1].detail["reason_code"] == "false_match"
    assert "taking it" not in str(entries[0].detail)
    assert chl.audit.verify() == len(chl.audit.entries())


class FailingAudit(AuditLog):
    def append(self, connection: sqlite3.Connection, *args: Any, **kwargs: Any) -> Any:
        super().append(connection, *args, **kwargs)
        raise sqlite3.OperationalError("disk full")


def test_a_failed_audit_append_rolls_the_transition_back(chl: Node, alert_id: str) -> None:
    review = AlertReview(chl.database, FailingAudit(chl.database), clock=lambda: NOW)
    before = len(chl.audit.entries())

    with pytest.raises(sqlite3.OperationalError):
        review.acknowledge(alert_id, "alice")

    stored = chl.alerts.get(alert_id)
    assert stored is not None
    assert (stored.status, stored.acknowledged_by, stored.due_at) == (S.NEW, None, None)
    assert transition_rows(chl) == 0
    assert len(chl.audit.entries()) == before


def test_history_lists_every_transition_in_order(chl: Node, alert_id: str) -> None:
    moments = iter(NOW + dt.timedelta(minutes=n) for n in range(10))
    review = AlertReview(chl.database, chl.audit, clock=lambda: next(moments))
    review.acknowledge(alert_id, "alice")
    review.investigate(alert_id, "alice", comment="checking travel history")
    review.escalate(alert_id, "carol")
    review.confirm(alert_id, "bob")
    review.close(alert_id, "bob")

    history = review.history(alert_id)

    assert [(t.from_status, t.to_status, t.operator) for t in history] == [
        (S.NEW, S.ACKNOWLEDGED, "alice"),
        (S.ACKNOWLEDGED, S.INVESTIGATING, "alice"),
        (S.INVESTIGATING, S.ESCALATED, "carol"),
        (S.ESCALATED, S.CONFIRMED, "bob"),
        (S.CONFIRMED, S.CLOSED, "bob"),
    ]
    assert [t.at for t in history] == [NOW + dt.timedelta(minutes=n) for n in range(5)]
    assert history[1].comment == "checking travel history"
    assert all(t.reason_code is None for t in history)
    assert review.history("ALR-OTHER") == []


def test_a_closed_alert_lets_the_same_subject_open_a_new_one(
    chl: Node, review: AlertReview, alert_id: str
) -> None:
    drive(review, alert_id, S.CLOSED)
    again = chl.alerts.raise_alert(make_alert(key="encounter:E-2"))
    assert again.new and again.alert_id != alert_id


# --- SLA -----------------------------------------------------------------------------------


def test_sla_constants() -> None:
    assert {
        Severity.CRITICAL: dt.timedelta(minutes=15),
        Severity.HIGH: dt.timedelta(hours=1),
        Severity.MEDIUM: dt.timedelta(hours=4),
        Severity.LOW: dt.timedelta(hours=24),
    } == ACK_SLA


@pytest.mark.parametrize(
    ("severity", "after", "expected"),
    [
        (Severity.CRITICAL, dt.timedelta(minutes=5), "due in 10 min"),
        (Severity.CRITICAL, dt.timedelta(minutes=20), "overdue by 5 min"),
        (Severity.HIGH, dt.timedelta(minutes=18), "due in 42 min"),
        (Severity.HIGH, dt.timedelta(hours=3, minutes=10), "overdue by 2 h"),
        (Severity.MEDIUM, dt.timedelta(hours=1), "due in 3 h"),
        (Severity.LOW, dt.timedelta(hours=1), "due in 23 h"),
        (Severity.LOW, dt.timedelta(hours=24), "due in 0 min"),
    ],
)
def test_sla_state_while_new(severity: Severity, after: dt.timedelta, expected: str) -> None:
    alert = make_alert(severity)
    assert sla_due(alert) == CREATED + ACK_SLA[severity]
    assert sla_state(alert, CREATED + after) == expected


def test_acknowledging_stores_the_deadline_and_meets_the_sla(
    chl: Node, review: AlertReview, alert_id: str
) -> None:
    acknowledged = review.acknowledge(alert_id, "alice")

    assert acknowledged.due_at == CREATED + dt.timedelta(minutes=15)
    assert sla_due(acknowledged) == acknowledged.due_at
    assert sla_state(acknowledged, CREATED + dt.timedelta(days=3)) == "met"


def test_joined_evidence_raising_severity_tightens_the_deadline(chl: Node) -> None:
    first = chl.alerts.raise_alert(make_alert(Severity.LOW))
    chl.alerts.raise_alert(make_alert(Severity.CRITICAL, key="encounter:E-9"))

    stored = chl.alerts.get(first.alert_id)
    assert stored is not None and stored.severity is Severity.CRITICAL
    assert sla_due(stored) == CREATED + dt.timedelta(minutes=15)
    assert sla_state(stored, CREATED + dt.timedelta(hours=1)) == "overdue by 45 min"
