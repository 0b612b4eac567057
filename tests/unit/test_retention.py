"""Retention: what is purged, what is kept, and the audit chain across a purge."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from biometric_exchange.alerts.review import AlertReview
from biometric_exchange.cli.audit import retention_app
from biometric_exchange.domain import Alert, AlertKind, Severity
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.node.runtime import Node
from biometric_exchange.store.alerts import new_alert_id
from biometric_exchange.store.audit import (
    AuditChainBroken,
    AuditEvent,
    AuditLog,
    AuditOutcome,
    ChainPoint,
)
from biometric_exchange.store.retention import RetentionResult, run_retention

NOW = dt.datetime(2027, 6, 1, 12, 0, tzinfo=dt.UTC)
DATA_DAYS, AUDIT_DAYS = 90, 730


class Clock:
    """A settable clock for audit entries."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        return self.now


def days_ago(days: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


def count(node: Node, table: str) -> int:
    return int(node.database.connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def add_hit_reference(
    node: Node, reference: str, created: dt.datetime, partner: str = "PAN"
) -> None:
    entry_id = next(iter(node.records.watchlist())).entry_id
    with node.database.transaction() as connection:
        connection.execute(
            "INSERT INTO hit_references (reference, entry_id, partner, probe_ref, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (reference, entry_id, partner, reference, created.isoformat()),
        )


def add_alert(node: Node, created: dt.datetime, partner: str | None) -> str:
    alert = Alert(
        alert_id=new_alert_id(),
        kind=AlertKind.SUBJECT_ENCOUNTERED_BY_PARTNER if partner else AlertKind.WATCHLIST_HIT,
        severity=Severity.HIGH,
        created_at=created,
        summary="synthetic",
        subject_key=f"test:{created.isoformat()}:{partner}",
        partner=partner,
    )
    node.alerts.raise_alert(alert)
    return alert.alert_id


def add_seen(node: Node, message_id: str, created: dt.datetime) -> None:
    with node.database.transaction() as connection:
        connection.execute(
            "INSERT INTO seen_messages (sender, message_id, created_at_ms) VALUES ('PAN', ?, ?)",
            (message_id, int(created.timestamp() * 1000)),
        )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def chl(nodes: dict[str, Node], clock: Clock) -> Node:
    """CHL with old and recent data of every kind, and audit entries 1-3 old, 4-5 recent."""
    node = nodes["CHL"]
    node.audit = AuditLog(node.database, clock=clock)
    for number, age in enumerate((800, 760, 731, 700, 10), start=1):
        clock.now = days_ago(age)
        node.audit.record(
            AuditEvent.IDENTIFY_RECEIVED,
            AuditOutcome.ACCEPTED,
            peer="PAN",
            message_id=f"{number:032x}",
        )
    clock.now = NOW
    add_hit_reference(node, "HIT-old-1", days_ago(200))
    add_hit_reference(node, "HIT-old-2", days_ago(90.01))
    add_hit_reference(node, "HIT-new", days_ago(89))
    add_alert(node, days_ago(100), "PAN")
    add_alert(node, days_ago(5), "PAN")
    add_alert(node, days_ago(400), None)  # our own data: not the partner's to purge
    add_seen(node, "a" * 32, days_ago(2))
    add_seen(node, "b" * 32, days_ago(0.5))
    return node


def purge(node: Node, now: dt.datetime = NOW) -> RetentionResult:
    return run_retention(
        node.database,
        node.audit,
        exchanged_data_days={"PAN": DATA_DAYS},
        audit_days=AUDIT_DAYS,
        now=now,
        officer="OFC-9",
    )


def test_purge_counts_and_what_is_kept(chl: Node) -> None:
    purged_anchor = chl.audit.entries()[2]
    result = purge(chl)
    assert (result.hit_references, result.alerts, result.seen_messages) == (2, 1, 1)
    assert result.audit_entries == 3
    assert result.audit_range is not None
    assert (result.audit_range.first_seq, result.audit_range.last_seq) == (1, 3)
    assert chl.audit.anchor() == ChainPoint(3, purged_anchor.entry_hash)

    kept_refs = chl.database.connection.execute("SELECT reference FROM hit_references")
    assert [row[0] for row in kept_refs] == ["HIT-new"]
    assert sorted((a.partner or "-") for a in chl.alerts.list()) == ["-", "PAN"]
    assert count(chl, "seen_messages") == 1

    entries = chl.audit.entries()
    assert [e.seq for e in entries] == [4, 5, 6, 7]
    assert [e.event for e in entries[2:]] == ["audit.purged", "retention.purged"]
    assert entries[2].detail["first_seq"] == 1 and entries[2].detail["last_seq"] == 3
    assert entries[3].detail["hit_references"] == 2
    assert entries[3].detail["alerts"] == 1
    assert entries[3].detail["seen_messages"] == 1
    assert entries[3].detail["audit_entries"] == 3
    assert {e.officer for e in entries[2:]} == {"OFC-9"}
    assert chl.audit.verify() == 4


def test_second_run_purges_nothing_and_writes_one_entry(chl: Node) -> None:
    purge(chl)
    again = purge(chl)
    assert (again.hit_references, again.alerts, again.seen_messages, again.audit_entries) == (
        0,
        0,
        0,
        0,
    )
    assert again.audit_range is None
    assert [e.event for e in chl.audit.entries()][-2:] == ["retention.purged", "retention.purged"]
    assert chl.audit.verify() == 5


def test_purging_every_audit_entry_keeps_the_chain(chl: Node) -> None:
    later = NOW + dt.timedelta(days=AUDIT_DAYS + 30)
    result = purge(chl, now=later)
    assert result.audit_entries == 5
    assert chl.audit.anchor().seq == 5
    assert [e.seq for e in chl.audit.entries()] == [6, 7]
    assert chl.audit.verify() == 2
    # Later appends chain on.
    chl.audit.record(AuditEvent.PEER_REFUSED, AuditOutcome.REJECTED, reason="x")
    assert chl.audit.verify() == 3


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("UPDATE audit_log SET outcome = 'failed' WHERE seq = 5", "audit entry 5 was altered"),
        ("DELETE FROM audit_log WHERE seq = 4", "audit entry after 3 was removed"),
        ("DELETE FROM audit_log WHERE seq = 7", "audit entry after 6 was removed"),
        (
            'UPDATE meta SET value = \'{"seq": 3, "entry_hash": "' + "9" * 64 + "\"}' "
            "WHERE key = 'audit_anchor'",
            "audit entry 4 does not chain to the audit anchor",
        ),
        (
            'UPDATE meta SET value = \'{"seq": 2, "entry_hash": "' + "9" * 64 + "\"}' "
            "WHERE key = 'audit_anchor'",
            "audit entry after 2 was removed",
        ),
    ],
)
def test_tampering_after_a_purge_is_detected(chl: Node, statement: str, message: str) -> None:
    purge(chl)
    assert chl.audit.verify() == 4
    with chl.database.transaction() as connection:
        connection.execute(statement)
    with pytest.raises(AuditChainBroken, match="^" + re.escape(message)):
        chl.audit.verify()


def test_broken_chain_refuses_to_purge_anything(chl: Node) -> None:
    with chl.database.transaction() as connection:
        connection.execute("UPDATE audit_log SET peer = 'COL' WHERE seq = 2")
    before = [count(chl, t) for t in ("hit_references", "alerts", "seen_messages", "audit_log")]
    with pytest.raises(AuditChainBroken, match=r"^audit entry 2 was altered$"):
        purge(chl)
    after = [count(chl, t) for t in ("hit_references", "alerts", "seen_messages", "audit_log")]
    assert after == before


@pytest.mark.parametrize(
    ("data_days", "audit_days", "now"),
    [
        ({"PAN": 0}, 730, NOW),
        ({"PAN": 90}, 0, NOW),
        ({"PAN": 90}, 730, NOW.replace(tzinfo=None)),
        ({}, 730, NOW),
    ],
)
def test_invalid_arguments_are_refused(
    nodes: dict[str, Node], data_days: dict[str, int], audit_days: int, now: dt.datetime
) -> None:
    node = nodes["CHL"]
    with pytest.raises(InvalidInput):
        run_retention(
            node.database,
            node.audit,
            exchanged_data_days=data_days,
            audit_days=audit_days,
            now=now,
        )
    assert node.audit.entries() == []


def test_cli_run_prints_the_counts(pair_dirs: tuple[Path, Path]) -> None:
    node_dir = pair_dirs[0]
    node = Node.open(node_dir)
    try:
        add_seen(node, "c" * 32, days_ago(3))
        node.audit.record(AuditEvent.PEER_REFUSED, AuditOutcome.REJECTED, reason="x")
    finally:
        node.database.close()
    later = (NOW + dt.timedelta(days=3650)).isoformat()
    result = CliRunner().invoke(
        retention_app, ["run", "--node", str(node_dir), "--now", later, "--operator", "OFC-2"]
    )
    assert result.exit_code == 0, result.output
    assert "seen_messages purged: 1" in result.output
    assert "audit entries purged: 1" in result.output
    assert "audit chain now anchored at seq 1" in result.output

    bad = CliRunner().invoke(retention_app, ["run", "--node", str(node_dir), "--now", "soon"])
    assert bad.exit_code == 2

    # The officer may come from BX_OPERATOR, as for every command; --now may be relative.
    again = CliRunner().invoke(
        retention_app, ["run", "-n", str(node_dir), "--now", "1d"], env={"BX_OPERATOR": "OFC-9"}
    )
    assert again.exit_code == 0, again.output
    node = Node.open(node_dir)
    try:
        officers = [entry.officer for entry in node.audit.entries()]
    finally:
        node.database.close()
    assert officers[-1] == "OFC-9"


def test_decided_step2_requests_past_retention_are_purged_pending_ones_kept(
    nodes: dict[str, Node],
) -> None:
    node = nodes["PAN"]
    old = "2020-01-01T00:00:00+00:00"
    with node.database.transaction() as connection:
        for request_id, status in (("DR-OLD-DECIDED", "approved"), ("DR-OLD-PENDING", "pending")):
            connection.execute(
                "INSERT INTO details_sent (request_id, partner, hit_reference, purpose, "
                "justification, officer_id, fields, status, disclosed, sent_at, updated_at) "
                "VALUES (?, 'CHL', 'HIT-x', 'missing_persons', 'a justification', 'OFF-1', "
                "'[]', ?, '{}', ?, ?)",
                (request_id, status, old, old),
            )
    result = run_retention(
        node.database, node.audit, exchanged_data_days={"CHL": 90}, audit_days=730
    )
    assert result.details == 1
    left = {
        row[0] for row in node.database.connection.execute("SELECT request_id FROM details_sent")
    }
    assert left == {"DR-OLD-PENDING"}
    assert node.audit.entries()[-1].detail["details"] == 1


def test_reviewed_partner_alerts_past_retention_go_with_their_history(
    nodes: dict[str, Node],
) -> None:
    node = nodes["CHL"]
    old = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    alert_id = add_alert(node, old, "PAN")
    AlertReview(node.database, node.audit).acknowledge(alert_id, "CHL-OFFICER-1")
    result = run_retention(
        node.database, node.audit, exchanged_data_days={"PAN": 90}, audit_days=730
    )
    assert result.alerts == 1
    assert node.alerts.get(alert_id) is None
    left = node.database.connection.execute(
        "SELECT count(*) FROM alert_transitions WHERE alert_id = ?", (alert_id,)
    ).fetchone()[0]
    assert left == 0


def test_each_partners_data_goes_after_its_own_agreements_period(nodes: dict[str, Node]) -> None:
    """Panama keeps Chile's data 90 days and Mexico's 30; a partner no agreement names
    any more (Colombia) gets the shortest period."""
    node = nodes["CHL"]
    for partner in ("PAN", "MEX", "COL"):
        add_hit_reference(node, f"HIT-{partner}-40", days_ago(40), partner)
        add_hit_reference(node, f"HIT-{partner}-20", days_ago(20), partner)
        add_alert(node, days_ago(40), partner)
    result = run_retention(
        node.database,
        node.audit,
        exchanged_data_days={"PAN": 90, "MEX": 30},
        audit_days=730,
        now=NOW,
    )
    left = {
        row[0] for row in node.database.connection.execute("SELECT reference FROM hit_references")
    }
    assert left == {"HIT-PAN-40", "HIT-PAN-20", "HIT-MEX-20", "HIT-COL-20"}
    assert (result.hit_references, result.alerts) == (2, 2)
    assert {a.partner for a in node.alerts.list()} == {"PAN"}
    assert node.audit.entries()[-1].detail["exchanged_data_days"] == {"MEX": 30, "PAN": 90}
