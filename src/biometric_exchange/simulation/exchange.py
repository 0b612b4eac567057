"""How much crossed the border: exchange volume per node.

From each node's audit log (sent and received Identify calls and their probe
and hit counts, step-2 requests, aggregate exchanges), its outbox (items not
sent, failed, pending) and the metered transports (calls and envelope bytes).
Which fields crossed and about whom is ``disclosure``'s, read from the
messages themselves.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from biometric_exchange.simulation.record import RunRecord
from biometric_exchange.simulation.scenario import Scenario
from biometric_exchange.simulation.topology import DEFAULT_QUOTAS
from biometric_exchange.store.audit import AuditEntry, AuditEvent, AuditOutcome
from biometric_exchange.store.outbox import OutboxState


def accepted(entries: list[AuditEntry], event: AuditEvent) -> list[AuditEntry]:
    """The accepted entries of ``event``."""
    return [
        e for e in entries if e.event == event.value and e.outcome == AuditOutcome.ACCEPTED.value
    ]


def detail_number(entry: AuditEntry, key: str) -> int:
    """A count in the entry's detail (0 when absent)."""
    value = entry.detail.get(key, 0)
    return int(value) if isinstance(value, int | float) else 0


def volume(record: RunRecord, scenario: Scenario) -> dict[str, Any]:
    """Calls, probes, hits, step-2 requests, aggregates and bytes, per node and in all."""
    quota = daily_probe_quota(scenario, "CHL", "PAN")
    nodes: dict[str, Any] = {}
    for country, node in record.nodes.items():
        audit = node.audit
        sent = accepted(audit, AuditEvent.IDENTIFY_SENT)
        # A blind step 1's hits come with the reveal's reply.
        replies = accepted(audit, AuditEvent.IDENTIFY_REPLY_RECEIVED) + accepted(
            audit, AuditEvent.REVEAL_REPLY_RECEIVED
        )
        received = accepted(audit, AuditEvent.IDENTIFY_RECEIVED)
        details = [
            e for e in accepted(audit, AuditEvent.DETAILS_SENT) if not e.detail.get("repeat")
        ]
        states = Counter(node.outbox.values())
        per_day = record.log.sent_per_day.get(country, [])
        nodes[country] = {
            "identify_calls_sent": len(sent),
            "probes_sent": sum(detail_number(e, "probes") for e in sent),
            "probes_with_hits": sum(detail_number(e, "hits") for e in replies),
            "identify_calls_received": len(received),
            "probes_received": sum(detail_number(e, "probes") for e in received),
            "not_sent_out_of_scope": states[OutboxState.OUT_OF_SCOPE.value],
            "failed": states[OutboxState.FAILED.value],
            "pending": states[OutboxState.PENDING.value],
            "step2_requests_sent": len(details),
            "aggregate_exchanges": len(accepted(audit, AuditEvent.AGGREGATES_SENT)),
            "probes_sent_per_day": per_day,
            "days_over_daily_quota": _days_over_quota(record, scenario, country),
        }
    return {
        "by_node": nodes,
        "daily_probe_quota": quota,
        "bytes": record.tally.as_dict(),
        "identify_bytes_measured": record.workers_metered,
    }


def daily_probe_quota(scenario: Scenario, first: str, second: str) -> int:
    """A pair's daily probe quota as the scenario's terms write it (before scaling)."""
    quotas = scenario.terms(first, second).get("quotas", {})
    return int(quotas.get("probes_per_day", DEFAULT_QUOTAS["probes_per_day"]))


def _days_over_quota(record: RunRecord, scenario: Scenario, country: str) -> int:
    """Simulated days on which ``country`` sent a partner more probes than their
    agreement's daily quota."""
    over: set[int] = set()
    for (sender, partner), per_day in record.log.sent_per_link_day.items():
        if sender == country:
            quota = daily_probe_quota(scenario, sender, partner)
            over.update(day for day, n in enumerate(per_day) if n > quota)
    return len(over)
