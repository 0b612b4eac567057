"""Retention: delete what the agreement says may no longer be kept.

Exchanged data (hit references handed to the partner, alerts holding the
partner's data, decided step-2 requests with what they disclosed) goes after
``exchanged_data_days``; replay-guard ids after a
day; audit entries after ``audit_days`` (Prüm: two years). The oldest audit
entries go as a prefix and the anchor moves to the last one deleted, so the
kept chain still verifies. One transaction per run, audited in the same
transaction; a run on a broken audit chain deletes nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from biometric_exchange.domain import utc_now
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.store.audit import AuditEvent, AuditLog, AuditOutcome, PurgedRange, to_ms
from biometric_exchange.store.database import Database

SEEN_MESSAGES_DAYS = 1


@dataclass(frozen=True)
class RetentionResult:
    """What one run deleted, per table, and the audit range it purged."""

    now: dt.datetime
    hit_references: int
    alerts: int
    seen_messages: int
    details: int
    """Step-2 requests, sent or received, decided before the cutoff."""
    audit_entries: int
    audit_range: PurgedRange | None


def run_retention(
    database: Database,
    audit: AuditLog,
    *,
    exchanged_data_days: int,
    audit_days: int,
    now: dt.datetime | None = None,
    officer: str | None = None,
) -> RetentionResult:
    """Purge what is older than the retention periods, as of ``now`` (default: the
    current UTC time); write ``audit.purged`` (when audit entries went) and
    ``retention.purged`` entries. Raises AuditChainBroken, deleting nothing, when
    the audit chain does not verify."""
    if exchanged_data_days < 1 or audit_days < 1:
        raise InvalidInput("retention periods must be at least one day")
    now = now or utc_now()
    if now.tzinfo is None:
        raise InvalidInput("retention: now must carry a UTC offset")
    data_cutoff = (now - dt.timedelta(days=exchanged_data_days)).isoformat()
    seen_cutoff_ms = to_ms(now - dt.timedelta(days=SEEN_MESSAGES_DAYS))
    audit_cutoff = now - dt.timedelta(days=audit_days)
    with database.transaction() as connection:
        purged = audit.purge_before(connection, audit_cutoff)
        hits = connection.execute(
            "DELETE FROM hit_references WHERE julianday(created_at) < julianday(?)",
            (data_cutoff,),
        ).rowcount
        old_partner_alerts = (
            "SELECT alert_id FROM alerts WHERE partner IS NOT NULL "
            "AND julianday(created_at) < julianday(?)"
        )
        connection.execute(
            f"DELETE FROM alert_transitions WHERE alert_id IN ({old_partner_alerts})",  # noqa: S608
            (data_cutoff,),
        )
        alerts = connection.execute(
            f"DELETE FROM alerts WHERE alert_id IN ({old_partner_alerts})",  # noqa: S608
            (data_cutoff,),
        ).rowcount
        seen = connection.execute(
            "DELETE FROM seen_messages WHERE created_at_ms < ?", (seen_cutoff_ms,)
        ).rowcount
        details = sum(
            connection.execute(
                f"DELETE FROM {table} WHERE status != 'pending' "  # noqa: S608 - fixed names
                f"AND julianday({column}) < julianday(?)",
                (data_cutoff,),
            ).rowcount
            for table, column in (("details_sent", "sent_at"), ("details_received", "received_at"))
        )
        if purged is not None:
            audit.append(
                connection,
                AuditEvent.AUDIT_PURGED,
                AuditOutcome.ACCEPTED,
                officer=officer,
                first_seq=purged.first_seq,
                last_seq=purged.last_seq,
                anchor_hash=purged.anchor.entry_hash,
                cutoff=audit_cutoff.isoformat(),
            )
        result = RetentionResult(
            now=now,
            hit_references=hits,
            alerts=alerts,
            seen_messages=seen,
            details=details,
            audit_entries=purged.count if purged else 0,
            audit_range=purged,
        )
        audit.append(
            connection,
            AuditEvent.DATA_PURGED,
            AuditOutcome.ACCEPTED,
            officer=officer,
            now=now.isoformat(),
            exchanged_data_days=exchanged_data_days,
            audit_days=audit_days,
            hit_references=hits,
            alerts=alerts,
            seen_messages=seen,
            details=details,
            audit_entries=result.audit_entries,
        )
    return result
