"""Retention: delete what the agreement says may no longer be kept.

Exchanged data (hit references handed to a partner, alerts holding a
partner's data, decided step-2 requests with what they disclosed, the
extraction guard's daily counts of a partner) goes after
that partner's agreement's ``exchanged_data_days`` (a partner no agreement
names any more: the shortest of them); replay-guard ids after a day; audit
entries after ``audit_days``, the longest any agreement asks for, since the
chain is one for every partner (Prüm: two years). The oldest audit
entries go as a prefix and the anchor moves to the last one deleted, so the
kept chain still verifies. One transaction per run, audited in the same
transaction; a run on a broken audit chain deletes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from biometric_exchange.domain import utc_now
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.store.audit import AuditEvent, AuditLog, AuditOutcome, PurgedRange, to_ms
from biometric_exchange.store.database import Database
from biometric_exchange.store.dialect import Connection

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
    scope_openings: int
    """Salts and facts behind the scope commitments of probes we sent."""
    guard_days: int
    """The extraction guard's rows (hits per entry, strikes) of days before the cutoff."""
    audit_entries: int
    audit_range: PurgedRange | None


def _partner_cutoffs(
    exchanged_data_days: Mapping[str, int], now: dt.datetime
) -> list[tuple[str, tuple[str, ...]]]:
    """(row filter on ``partner``, its parameters ending with the cutoff), one per
    named partner and one for every other partner (the shortest period)."""
    shortest = min(exchanged_data_days.values())
    named = sorted(exchanged_data_days)
    others = ", ".join("?" * len(named))
    filters: list[tuple[str, tuple[str, ...]]] = [
        ("partner = ?", (code, (now - dt.timedelta(days=days)).isoformat()))
        for code, days in sorted(exchanged_data_days.items())
    ]
    cutoff = (now - dt.timedelta(days=shortest)).isoformat()
    filters.append((f"partner NOT IN ({others})", (*named, cutoff)))
    return filters


def _purge_exchanged(
    connection: Connection, where: str, params: tuple[str, ...]
) -> tuple[int, int, int, int, int]:
    """Hit references, partner alerts, decided step-2 requests, scope openings and the
    guard's daily rows matching ``where`` (on ``partner``) and older than the cutoff
    (the last parameter); a guard day goes once it ended before the cutoff's day began."""
    hits = connection.execute(
        f"DELETE FROM hit_references WHERE {where} "  # noqa: S608 - fixed filters
        "AND julianday(created_at) < julianday(?)",
        params,
    ).rowcount
    old_partner_alerts = (
        f"SELECT alert_id FROM alerts WHERE partner IS NOT NULL AND {where} "  # noqa: S608
        "AND julianday(created_at) < julianday(?)"
    )
    for table in (
        "alert_transitions",
        "alert_evidence",
        "alert_evidence_overflow",
        "alert_assignments",
        "notifications",
    ):
        connection.execute(
            f"DELETE FROM {table} WHERE alert_id IN ({old_partner_alerts})",  # noqa: S608
            params,
        )
    alerts = connection.execute(
        f"DELETE FROM alerts WHERE alert_id IN ({old_partner_alerts})",  # noqa: S608
        params,
    ).rowcount
    details = sum(
        connection.execute(
            f"DELETE FROM {table} WHERE status != 'pending' AND {where} "  # noqa: S608
            f"AND julianday({column}) < julianday(?)",
            params,
        ).rowcount
        for table, column in (("details_sent", "sent_at"), ("details_received", "received_at"))
    )
    openings = connection.execute(
        f"DELETE FROM scope_openings WHERE {where} "  # noqa: S608 - fixed filters
        "AND julianday(created_at) < julianday(?)",
        params,
    ).rowcount
    guard = sum(
        connection.execute(
            f"DELETE FROM {table} WHERE {where} AND day < date(?)",  # noqa: S608
            params,
        ).rowcount
        for table in ("extraction_hits", "extraction_strikes")
    )
    return hits, alerts, details, openings, guard


def run_retention(
    database: Database,
    audit: AuditLog,
    *,
    exchanged_data_days: Mapping[str, int],
    audit_days: int,
    now: dt.datetime | None = None,
    officer: str | None = None,
) -> RetentionResult:
    """Purge what is older than the retention periods, as of ``now`` (default: the
    current UTC time): each partner's exchanged data after its own period
    (``exchanged_data_days`` by partner code); write ``audit.purged`` (when audit
    entries went) and ``retention.purged`` entries. Raises AuditChainBroken,
    deleting nothing, when the audit chain does not verify."""
    if not exchanged_data_days:
        raise InvalidInput("retention: name at least one partner's period")
    if min(exchanged_data_days.values()) < 1 or audit_days < 1:
        raise InvalidInput("retention periods must be at least one day")
    now = now or utc_now()
    if now.tzinfo is None:
        raise InvalidInput("retention: now must carry a UTC offset")
    seen_cutoff_ms = to_ms(now - dt.timedelta(days=SEEN_MESSAGES_DAYS))
    audit_cutoff = now - dt.timedelta(days=audit_days)
    with database.transaction() as connection:
        purged = audit.purge_before(connection, audit_cutoff)
        hits = alerts = details = openings = guard = 0
        for where, params in _partner_cutoffs(exchanged_data_days, now):
            counted = _purge_exchanged(connection, where, params)
            hits, alerts, details = hits + counted[0], alerts + counted[1], details + counted[2]
            openings, guard = openings + counted[3], guard + counted[4]
        seen = connection.execute(
            "DELETE FROM seen_messages WHERE created_at_ms < ?", (seen_cutoff_ms,)
        ).rowcount
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
            scope_openings=openings,
            guard_days=guard,
            audit_entries=purged.count if purged else 0,
            audit_range=purged,
        )
        audit.append(
            connection,
            AuditEvent.DATA_PURGED,
            AuditOutcome.ACCEPTED,
            officer=officer,
            now=now.isoformat(),
            exchanged_data_days=dict(sorted(exchanged_data_days.items())),
            audit_days=audit_days,
            hit_references=hits,
            alerts=alerts,
            seen_messages=seen,
            details=details,
            scope_openings=openings,
            guard_days=guard,
            audit_entries=result.audit_entries,
        )
    return result
