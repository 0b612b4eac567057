"""What crossed the border: exchange volume and disclosure accounting.

Volume comes from each node's audit log (sent and received Identify calls and
their probe and hit counts, step-2 requests and decisions, aggregate
exchanges) and from the metered transports (envelope bytes). Disclosure lists
which personal fields crossed, how many times, for which purpose, and how
many of those disclosures concerned a traveller on no watchlist of the
holder: by design every step-1 probe does (the template and scope facts of
every traveller in scope cross), while a category or step-2 detail about a
traveller who is not the listed person would be a false match's leak and
should be zero.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from biometric_exchange.domain import RequestStatus
from biometric_exchange.simulation.detections import Detection
from biometric_exchange.simulation.record import RunRecord
from biometric_exchange.simulation.scenario import Scenario
from biometric_exchange.simulation.topology import DEFAULT_QUOTAS
from biometric_exchange.simulation.truth import GroundTruth
from biometric_exchange.store.audit import AuditEntry, AuditEvent, AuditOutcome
from biometric_exchange.store.outbox import OutboxState

PROBE_FIELDS = (
    "face template",
    "nationality",
    "age in years",
    "protected category",
    "border point",
    "encounter time",
)
"""What one step-1 probe carries (``Probe`` in exchange.proto); no name, no document."""


def _accepted(entries: list[AuditEntry], event: AuditEvent) -> list[AuditEntry]:
    return [
        e for e in entries if e.event == event.value and e.outcome == AuditOutcome.ACCEPTED.value
    ]


def _number(entry: AuditEntry, key: str) -> int:
    value = entry.detail.get(key, 0)
    return int(value) if isinstance(value, int | float) else 0


def volume(record: RunRecord, scenario: Scenario) -> dict[str, Any]:
    """Calls, probes, hits, step-2 requests, aggregates and bytes, per node and in all."""
    quota = daily_probe_quota(scenario, "CHL", "PAN")
    nodes: dict[str, Any] = {}
    for country, node in record.nodes.items():
        audit = node.audit
        sent = _accepted(audit, AuditEvent.IDENTIFY_SENT)
        replies = _accepted(audit, AuditEvent.IDENTIFY_REPLY_RECEIVED)
        received = _accepted(audit, AuditEvent.IDENTIFY_RECEIVED)
        details = [
            e for e in _accepted(audit, AuditEvent.DETAILS_SENT) if not e.detail.get("repeat")
        ]
        states = Counter(node.outbox.values())
        per_day = record.log.sent_per_day.get(country, [])
        nodes[country] = {
            "identify_calls_sent": len(sent),
            "probes_sent": sum(_number(e, "probes") for e in sent),
            "probes_with_hits": sum(_number(e, "hits") for e in replies),
            "identify_calls_received": len(received),
            "probes_received": sum(_number(e, "probes") for e in received),
            "not_sent_out_of_scope": states[OutboxState.OUT_OF_SCOPE.value],
            "failed": states[OutboxState.FAILED.value],
            "pending": states[OutboxState.PENDING.value],
            "step2_requests_sent": len(details),
            "aggregate_exchanges": len(_accepted(audit, AuditEvent.AGGREGATES_SENT)),
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


def disclosure(record: RunRecord, truth: GroundTruth, found: list[Detection]) -> dict[str, Any]:
    """Personal fields that crossed the border, how often, why, and about whom."""
    probes_by_purpose: Counter[str] = Counter()
    for node in record.nodes.values():
        for entry in _accepted(node.audit, AuditEvent.IDENTIFY_RECEIVED):
            probes_by_purpose[str(entry.detail.get("purpose"))] += _number(entry, "probes")
    probed_faces: set[int] = set()
    not_listed = 0
    for node in record.nodes.values():
        for (encounter_id, partner), state in node.outbox.items():
            if state != OutboxState.DONE.value or encounter_id not in truth.encounters:
                continue
            face = truth.encounters[encounter_id].face
            probed_faces.add(face)
            not_listed += int(not truth.listed(face, partner))
    replies = [d for d in found if d.side == "requester"]
    shown = {(node, a.alert_id) for node, r in record.nodes.items() for a in r.alerts if a.category}
    disclosed_category = sum(1 for d in replies if (d.node, d.alert_id) in shown)
    wrong_replies = sum(1 for d in replies if not _same_person(truth, d))
    return {
        "step1_probes": {
            "fields": list(PROBE_FIELDS),
            "times_each": sum(probes_by_purpose.values()),
            "by_purpose": dict(sorted(probes_by_purpose.items())),
            "people": len(probed_faces),
            "probes_about_people_on_no_watchlist_of_the_holder": not_listed,
        },
        "step1_replies": {
            "fields": ["hit reference", "watchlist category"],
            "hits": len(replies),
            "categories_disclosed": disclosed_category,
            "about_travellers_not_listed": wrong_replies,
        },
        "step2": _step2(record, truth),
        "aggregates": {
            "fields": ["count per day, nationality and border point (5 or more only)"],
            "exchanges": sum(
                len(_accepted(n.audit, AuditEvent.AGGREGATES_RECEIVED))
                for n in record.nodes.values()
            ),
        },
    }


def _same_person(truth: GroundTruth, found: Detection) -> bool:
    entry = truth.entries.get(found.entry or "")
    faces = {truth.encounters[e].face for e in found.encounters if e in truth.encounters}
    return entry is not None and faces == {entry.face}


def _step2(record: RunRecord, truth: GroundTruth) -> dict[str, Any]:
    """Requests and decisions from the holders' queues; fields from the requesters' stores."""
    statuses: Counter[str] = Counter()
    fields_by_purpose: dict[str, Counter[str]] = defaultdict(Counter)
    for node in record.nodes.values():
        for request in node.received_requests:
            statuses[request.status.value] += 1
    about_not_listed = 0
    people: set[str] = set()
    follow_ups = {f.request_id: f for f in record.log.follow_ups if f.request_id}
    for node in record.nodes.values():
        for sent in node.sent_requests:
            if sent.status is not RequestStatus.APPROVED:
                continue
            fields_by_purpose[sent.purpose].update(sent.disclosed.keys())
            entry_id = record.nodes[sent.partner].issued_references.get(sent.hit_reference)
            if entry_id:
                people.add(entry_id)
            asked = follow_ups.get(sent.request_id)
            if asked is None or entry_id is None or asked.encounter_id not in truth.encounters:
                continue
            face = truth.encounters[asked.encounter_id].face
            about_not_listed += int(truth.entries[entry_id].face != face)
    totals: Counter[str] = Counter()
    for counts in fields_by_purpose.values():
        totals.update(counts)
    local_refusals = sum(1 for f in record.log.follow_ups if f.request_id is None)
    return {
        "requests_by_holder_decision": dict(sorted(statuses.items())),
        "refused_by_the_requester_itself": local_refusals,
        "fields_disclosed": dict(sorted(totals.items())),
        "fields_by_purpose": {
            p: dict(sorted(c.items())) for p, c in sorted(fields_by_purpose.items())
        },
        "watchlist_subjects_concerned": len(people),
        "disclosures_about_travellers_not_listed": about_not_listed,
    }
