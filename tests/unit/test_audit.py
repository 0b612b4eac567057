"""The audit chain: every single edit, removal, reordering or insertion is named."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from biometric_exchange.cli.audit import audit_app
from biometric_exchange.node.runtime import Node
from biometric_exchange.store.audit import (
    ANCHOR_KEY,
    EXPORT_FIELDS,
    GENESIS,
    HEAD_KEY,
    AuditChainBroken,
    AuditEntry,
    AuditEvent,
    AuditLog,
    AuditOutcome,
    ChainPoint,
    entry_hash,
    read_jsonl,
    verify_chain,
)
from biometric_exchange.store.database import Database

COLUMNS = ("at", "event", "peer", "message_id", "outcome", "detail", "prev_hash", "entry_hash")
NEW_VALUE = {
    "at": "2020-01-01T00:00:00.000000+00:00",
    "event": "peer.refused",
    "peer": "COL",
    "message_id": "f" * 32,
    "outcome": "failed",
    "detail": '{"probes": 99}',
    "prev_hash": "1" * 64,
    "entry_hash": "2" * 64,
}


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    opened = Database(tmp_path / "node.db")
    yield opened
    opened.close()


@pytest.fixture
def audit(database: Database) -> AuditLog:
    """A log of five entries, seq 1 to 5."""
    log = AuditLog(database)
    for number in range(1, 6):
        log.record(
            AuditEvent.IDENTIFY_SENT,
            AuditOutcome.ACCEPTED,
            peer="PAN",
            message_id=f"{number:032x}",
            probes=number,
        )
    return log


def sql(database: Database, statement: str, *params: object) -> None:
    with database.transaction() as connection:
        connection.execute(statement, params)


def broken(audit: AuditLog) -> str:
    with pytest.raises(AuditChainBroken) as caught:
        audit.verify()
    return str(caught.value)


def test_intact_chain_verifies_and_records_its_head(audit: AuditLog) -> None:
    assert audit.verify() == 5
    entries = audit.entries()
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert audit.head() == ChainPoint(5, entries[-1].entry_hash)
    assert audit.anchor() == GENESIS
    assert all(e.computed_hash() == e.entry_hash for e in entries)


def test_officer_decision_and_rule_are_kept_in_the_detail(audit: AuditLog) -> None:
    entry = audit.record(
        AuditEvent.PEER_REFUSED,
        AuditOutcome.REJECTED,
        peer="PAN",
        officer="OFC-17",
        decision="deny",
        rule="step2.purpose",
        reason="not allowed",
    )
    stored = audit.entries()[-1]
    assert stored == entry
    assert (stored.officer, stored.decision, stored.rule) == ("OFC-17", "deny", "step2.purpose")
    assert stored.detail == {
        "officer": "OFC-17",
        "decision": "deny",
        "rule": "step2.purpose",
        "reason": "not allowed",
    }
    assert audit.entries()[0].officer is None
    assert audit.verify() == 6


@pytest.mark.parametrize("seq", [1, 3, 5])
@pytest.mark.parametrize("column", COLUMNS)
def test_any_changed_column_of_any_row_is_named(
    audit: AuditLog, database: Database, column: str, seq: int
) -> None:
    sql(database, f"UPDATE audit_log SET {column} = ? WHERE seq = ?", NEW_VALUE[column], seq)
    assert broken(audit) == f"audit entry {seq} was altered"


@pytest.mark.parametrize("column", ["peer", "message_id"])
def test_a_column_set_to_null_is_named(audit: AuditLog, database: Database, column: str) -> None:
    sql(database, f"UPDATE audit_log SET {column} = NULL WHERE seq = 2")
    assert broken(audit) == "audit entry 2 was altered"


def test_unreadable_detail_is_named_and_still_listed(audit: AuditLog, database: Database) -> None:
    sql(database, "UPDATE audit_log SET detail = 'not json' WHERE seq = 4")
    assert audit.entries()[3].detail == {"unreadable_detail": "not json"}
    assert broken(audit) == "audit entry 4 was altered"


@pytest.mark.parametrize(
    ("deleted", "message"),
    [
        ((1,), "audit entry after 0 was removed (sequence jumps to 2)"),
        ((3,), "audit entry after 2 was removed (sequence jumps to 4)"),
        ((2, 3), "audit entry after 1 was removed (sequence jumps to 4)"),
        ((5,), "audit entry after 4 was removed (the recorded head is 5)"),
        ((4, 5), "audit entry after 3 was removed (the recorded head is 5)"),
        ((1, 2, 3, 4, 5), "audit entry after 0 was removed (the recorded head is 5)"),
    ],
)
def test_removed_rows_are_named(
    audit: AuditLog, database: Database, deleted: tuple[int, ...], message: str
) -> None:
    for seq in deleted:
        sql(database, "DELETE FROM audit_log WHERE seq = ?", seq)
    assert broken(audit) == message


def test_truncated_tail_still_shows_after_new_appends(audit: AuditLog, database: Database) -> None:
    sql(database, "DELETE FROM audit_log WHERE seq >= 4")
    appended = audit.record(AuditEvent.PEER_REFUSED, AuditOutcome.REJECTED, reason="x")
    assert appended.seq == 6  # AUTOINCREMENT does not reuse 4
    assert broken(audit) == "audit entry after 3 was removed (sequence jumps to 6)"


def swap(database: Database, first: int, second: int) -> None:
    """Exchange every column but seq between two rows."""
    columns = ", ".join(COLUMNS)
    with database.transaction() as connection:
        rows = {
            seq: tuple(
                connection.execute(
                    f"SELECT {columns} FROM audit_log WHERE seq = ?", (seq,)
                ).fetchone()
            )
            for seq in (first, second)
        }
        # entry_hash is UNIQUE: park one row's value first.
        connection.execute("UPDATE audit_log SET entry_hash = 'parked' WHERE seq = ?", (first,))
        assignments = ", ".join(f"{c} = ?" for c in COLUMNS)
        for target, source in ((second, first), (first, second)):
            connection.execute(
                f"UPDATE audit_log SET {assignments} WHERE seq = ?", (*rows[source], target)
            )


@pytest.mark.parametrize(("first", "second"), [(2, 4), (4, 5), (1, 5), (1, 2)])
def test_swapped_rows_are_out_of_order(
    audit: AuditLog, database: Database, first: int, second: int
) -> None:
    before = {e.seq: e.entry_hash for e in audit.entries()}
    swap(database, first, second)
    after = {e.seq: e.entry_hash for e in audit.entries()}
    assert (after[first], after[second]) == (before[second], before[first])
    assert broken(audit) == f"audit entries out of order at {first}"


def forged(prev_hash: str, message_id: str) -> tuple[str, ...]:
    """Column values of a forged entry that chains to ``prev_hash`` and hashes right."""
    fields: dict[str, Any] = {
        "at": "2025-01-01T00:00:00.000000+00:00",
        "event": "identify.sent",
        "peer": "PAN",
        "message_id": message_id,
        "outcome": "accepted",
        "detail": {},
    }
    return (
        *(str(fields[c]) for c in ("at", "event", "peer", "message_id", "outcome")),
        "{}",
        prev_hash,
        entry_hash(prev_hash, **fields),
    )


def test_row_appended_behind_the_head_is_inserted(audit: AuditLog, database: Database) -> None:
    last = audit.entries()[-1]
    sql(
        database,
        f"INSERT INTO audit_log ({', '.join(COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        *forged(last.entry_hash, "e" * 32),
    )
    assert broken(audit) == "audit entry 6 was inserted (the recorded head is 5)"


def test_row_inserted_in_the_middle_is_named(audit: AuditLog, database: Database) -> None:
    second = audit.entries()[1]
    with database.transaction() as connection:
        # Make room at seq 3 (two steps: seq is a primary key).
        connection.execute("UPDATE audit_log SET seq = seq + 100 WHERE seq >= 3")
        connection.execute("UPDATE audit_log SET seq = seq - 99 WHERE seq >= 100")
        connection.execute(
            f"INSERT INTO audit_log (seq, {', '.join(COLUMNS)}) VALUES (3, ?, ?, ?, ?, ?, ?, ?, ?)",
            forged(second.entry_hash, "e" * 32),
        )
    assert [e.seq for e in audit.entries()] == [1, 2, 3, 4, 5, 6]
    assert broken(audit) == "audit entry 3 was inserted"


def rehash(database: Database, seq: int, **changes: str) -> None:
    """Alter a row and recompute its own hash, as a careful forger would."""
    row = database.connection.execute("SELECT * FROM audit_log WHERE seq = ?", (seq,)).fetchone()
    fields = {c: row[c] for c in ("at", "event", "peer", "message_id", "outcome")}
    fields.update(changes)
    new_hash = entry_hash(row["prev_hash"], detail=json.loads(row["detail"]), **fields)
    sql(
        database,
        "UPDATE audit_log SET outcome = ?, entry_hash = ? WHERE seq = ?",
        fields["outcome"],
        new_hash,
        seq,
    )


def test_altered_and_rehashed_row_is_named_by_its_successor(
    audit: AuditLog, database: Database
) -> None:
    rehash(database, 3, outcome="rejected")
    assert broken(audit) == "audit entry 3 was altered or the entry after it removed"


def test_altered_and_rehashed_last_row_is_caught_by_the_head(
    audit: AuditLog, database: Database
) -> None:
    rehash(database, 5, outcome="rejected")
    assert broken(audit) == "audit entry 5 was altered"


def test_missing_head_is_broken(audit: AuditLog, database: Database) -> None:
    sql(database, "DELETE FROM meta WHERE key = ?", HEAD_KEY)
    assert broken(audit) == "audit head is missing from meta"


def test_moved_anchor_is_broken(audit: AuditLog, database: Database) -> None:
    sql(
        database,
        "INSERT INTO meta (key, value) VALUES (?, ?)",
        ANCHOR_KEY,
        ChainPoint(0, "9" * 64).to_json(),
    )
    assert broken(audit) == "audit entry 1 does not chain to the audit anchor (seq 0)"


def test_empty_log_verifies(database: Database) -> None:
    assert AuditLog(database).verify() == 0


# --- export ----------------------------------------------------------------------------


def test_export_round_trip_recomputes_the_same_hashes(
    pair_dirs: tuple[Path, Path], tmp_path: Path
) -> None:
    node_dir = pair_dirs[0]
    node = Node.open(node_dir)
    try:
        node.audit.record(
            AuditEvent.IDENTIFY_SENT, AuditOutcome.ACCEPTED, peer="PAN", message_id="a" * 32
        )
        node.audit.record(
            AuditEvent.IDENTIFY_RECEIVED,
            AuditOutcome.REJECTED,
            peer="PAN",
            claimed_message_id="b" * 32,
            reason="bad signature",
            officer="OFC-1",
        )
        node.audit.record(AuditEvent.PEER_REFUSED, AuditOutcome.REJECTED, reason="ñandú")
        stored = node.audit.entries()
    finally:
        node.database.close()

    out = tmp_path / "audit.jsonl"
    result = CliRunner().invoke(
        audit_app, ["export", "--node", str(node_dir), "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "exported 3 audit entries" in result.output

    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3
    assert all(sorted(json.loads(line)) == sorted(EXPORT_FIELDS) for line in lines)
    exported = read_jsonl(out)
    assert exported == stored
    assert [e.computed_hash() for e in exported] == [e.entry_hash for e in stored]
    assert verify_chain(exported, head=ChainPoint(3, stored[-1].entry_hash)) == 3

    tampered = [*exported]
    tampered[1] = AuditEntry(**{**tampered[1].to_dict(), "outcome": "accepted"})
    with pytest.raises(AuditChainBroken, match=r"^audit entry 2 was altered$"):
        verify_chain(tampered)
