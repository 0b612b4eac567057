"""Each link under its own agreement: what it let through and what it refused.

A link is one node asking one partner (``PAN>MEX``: Panama's encounters checked
against Mexico's watchlist, under the Panama-Mexico agreement). For each: the
agreement's terms that decide (purpose stated, population, minimum age,
disclosure, daily quota), the probes sent and why others were not (the
sender's outbox: "younger than 18", "nationality within the Americas", a
protected category), the hits and the categories they disclosed, the values
of each disclosure class that crossed on the link's calls and those about
people not listed (``disclosure.link_crossings``), step-2 follow-ups, and the
link's cases against the truth (``Scorer.by_link``): a minor met by Panama is
eligible for Chile but not for Mexico.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from biometric_exchange.simulation.accuracy import link_name
from biometric_exchange.simulation.detections import Detection
from biometric_exchange.simulation.disclosure import link_crossings
from biometric_exchange.simulation.exchange import daily_probe_quota
from biometric_exchange.simulation.record import RunRecord
from biometric_exchange.simulation.scenario import Scenario
from biometric_exchange.simulation.subjects import Subjects
from biometric_exchange.simulation.truth import GroundTruth, Rules
from biometric_exchange.store.audit import AuditEntry, AuditEvent, AuditOutcome
from biometric_exchange.workspace import SHIPPED_TERMS

OUT_OF_SCOPE_PREFIX = "out of scope: "


def terms_source(scenario: Scenario, first: str, second: str) -> str:
    """Where a pair's terms come from: a shipped terms file or the scenario's own."""
    path = scenario.terms_path(first, second)
    shipped = path in SHIPPED_TERMS.values()
    source = f"shipped {path.stem}" if shipped else str(scenario.section(first, second).terms)
    return source + (" + overrides" if scenario.section(first, second).overrides else "")


def _accepted(entries: list[AuditEntry], event: AuditEvent, peer: str) -> list[AuditEntry]:
    return [
        e
        for e in entries
        if e.event == event.value and e.outcome == AuditOutcome.ACCEPTED.value and e.peer == peer
    ]


def _number(entry: AuditEntry, key: str) -> int:
    value = entry.detail.get(key, 0)
    return int(value) if isinstance(value, int | float) else 0


def not_sent_reason(reason: str) -> str:
    """A sender's outbox reason, shortened for the report: "younger than 18",
    "protected category asylum_seeker" (the purposes that would allow it cut)."""
    return reason.removeprefix(OUT_OF_SCOPE_PREFIX).partition(": only for ")[0] or "unknown"


def link_metrics(
    record: RunRecord,
    scenario: Scenario,
    truth: GroundTruth,
    found: list[Detection],
    cases: dict[str, dict[str, dict[str, Any]]],
) -> dict[str, Any]:
    """Every (sender, holder) link of the run: terms, volume, refusals, disclosure, cases."""
    subjects = Subjects(record, truth)
    categories = {
        (node, a.alert_id) for node, r in record.nodes.items() for a in r.alerts if a.category
    }
    links: dict[str, Any] = {}
    for sender in scenario.nodes.countries:
        for holder in scenario.nodes.countries:
            if sender == holder:
                continue
            name = link_name(sender, holder)
            rules = Rules.of(scenario.terms(sender, holder))
            quota = daily_probe_quota(scenario, sender, holder)
            sent = _accepted(record.nodes[sender].audit, AuditEvent.IDENTIFY_SENT, holder)
            replies = [
                entry
                for event in (AuditEvent.IDENTIFY_REPLY_RECEIVED, AuditEvent.REVEAL_REPLY_RECEIVED)
                for entry in _accepted(record.nodes[sender].audit, event, holder)
            ]
            refused = Counter(
                not_sent_reason(reason)
                for (_, partner), reason in record.nodes[sender].not_sent.items()
                if partner == holder
            )
            hits = [
                d for d in found if d.side == "requester" and (d.node, d.via) == (sender, holder)
            ]
            per_day = record.log.sent_per_link_day.get((sender, holder), [])
            follow_ups = [
                f for f in record.log.follow_ups if (f.requester, f.holder) == (sender, holder)
            ]
            fields: Counter[str] = Counter()
            for f in follow_ups:
                fields.update(f.disclosed)
            links[name] = {
                "sender": sender,
                "holder": holder,
                "agreement": {
                    "terms": terms_source(scenario, sender, holder),
                    "purpose": rules.purpose,
                    "population": rules.scope.value,
                    "minimum_age": rules.minimum_age,
                    "disclosure": "hit_and_category" if rules.discloses_category else "hit_only",
                    "daily_probe_quota": quota,
                },
                "identify_calls": len(sent),
                "probes_sent": sum(_number(e, "probes") for e in sent),
                "probes_with_hits": sum(_number(e, "hits") for e in replies),
                "not_sent_by_reason": dict(sorted(refused.items())),
                "busiest_day": max(per_day, default=0),
                "days_over_daily_quota": sum(1 for n in per_day if n > quota),
                "hits": len(hits),
                "categories_disclosed": sum(1 for d in hits if (d.node, d.alert_id) in categories),
                "crossed": link_crossings(record, subjects, sender, holder),
                "step2": {
                    "requests_by_outcome": dict(
                        sorted(Counter(f.status for f in follow_ups).items())
                    ),
                    "fields_disclosed": dict(sorted(fields.items())),
                },
                "cases": cases[name],
            }
    return links
