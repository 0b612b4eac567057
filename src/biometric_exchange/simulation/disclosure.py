"""Disclosure accounting: what crossed the border, step by step, and about whom.

The fields come from the messages themselves: each sealed request and reply
is opened as its recipient would (``witness``) and tallied by
``node.ledger``, its class that of the field's ``(disclosure)`` option in
exchange.proto. Each step lists the fields that crossed, their class and how
many times, and, joined with the ground truth (``subjects``), the values of
each class that concerned people not listed: for step 1, probes about people
on no watchlist of the holder (their templates cross by design; nothing
personal or protected should); for hits, sightings and step 2, a traveller
who was not the listed person (each a false match's leak). Over gRPC the
node processes make the Identify and sightings calls, which the runner cannot
open: those steps are marked not measured. The volume figures beside them
(probes by purpose, hits, step-2 decisions) come from the audit logs and
stores, in both modes.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from biometric_exchange.domain import RequestStatus
from biometric_exchange.node.ledger import REPLY, REQUEST
from biometric_exchange.node.rpc import (
    BLIND_IDENTIFY,
    BLIND_REVEAL,
    EXCHANGE_AGGREGATES,
    IDENTIFY,
    REPORT_SIGHTINGS,
    RPCS,
)
from biometric_exchange.simulation.detections import Detection
from biometric_exchange.simulation.exchange import accepted, detail_number
from biometric_exchange.simulation.record import RunRecord
from biometric_exchange.simulation.subjects import Subjects
from biometric_exchange.simulation.truth import GroundTruth
from biometric_exchange.store.audit import AuditEvent
from biometric_exchange.store.outbox import OutboxState

STEP_NAMES = {
    "Identify": "step 1",
    "BlindIdentify": "blind step 1",
    "BlindReveal": "blind step 1 reveal",
    "ReportSightings": "sightings",
    "RequestDetails": "step 2",
    "ExchangeAggregates": "aggregates",
    "AuditDigest": "audit digest",
    "Ping": "ping",
}
"""How the report names each RPC's exchange, in the order it lists them."""
WORKER_RPCS = frozenset(
    {IDENTIFY.name, BLIND_IDENTIFY.name, BLIND_REVEAL.name, REPORT_SIGHTINGS.name}
)
"""Made by the exchange worker: inside the node processes over gRPC."""
ABOUT_A_PERSON = ("biometric", "personal", "protected", "watchlist")


def disclosure(record: RunRecord, truth: GroundTruth, found: list[Detection]) -> dict[str, Any]:
    """What crossed the border per step, how often, why, and about whom."""
    subjects = Subjects(record, truth)
    return {
        "steps": steps(record, subjects),
        "unopened_envelopes": record.wire.unopened,
        "step1_probes": _probes(record, truth),
        "step1_replies": _replies(record, truth, found),
        "sightings": _sightings(record, subjects),
        "step2": _step2(record, truth),
        "aggregates": {
            "exchanges": sum(
                len(accepted(n.audit, AuditEvent.AGGREGATES_RECEIVED))
                for n in record.nodes.values()
            ),
            "classes_crossed": sorted(
                {
                    field["class"]
                    for way in (REQUEST, REPLY)
                    for field in record.wire.ledger.fields(EXCHANGE_AGGREGATES.name, way)
                }
            ),
        },
    }


def steps(record: RunRecord, subjects: Subjects) -> list[dict[str, Any]]:
    """Per RPC and direction that crossed (or could not be measured): the fields from
    the ledger, and what of each class concerned people not listed."""
    ledger, out = record.wire.ledger, []
    order = list(STEP_NAMES)
    unused = _unused_step1(record)
    for rpc in sorted(RPCS, key=lambda r: order.index(r.name) if r.name in order else len(order)):
        for direction in (REQUEST, REPLY):
            measured = record.workers_metered or rpc.name not in WORKER_RPCS
            fields = ledger.fields(rpc.name, direction)
            if (measured and not fields) or rpc.name in unused:
                continue
            items: set[tuple[str, str, str, str]] = set()
            classes: Counter[str] = Counter()
            for (name, way, caller, holder, refs), values in record.wire.about.items():
                if (name, way) != (rpc.name, direction):
                    continue
                verdict = subjects.of(caller, holder, refs)
                if verdict is None or not verdict.not_listed:
                    continue
                items.add(verdict.subject)
                classes.update({c: values[c] for c in ABOUT_A_PERSON})
            out.append(
                {
                    "step": f"{STEP_NAMES.get(rpc.name, rpc.name)} {direction}",
                    "rpc": rpc.name,
                    "direction": direction,
                    "measured": measured,
                    "fields": fields,
                    "about_people_not_listed": {
                        "items": len(items) if measured else None,
                        "fields": {c: classes[c] for c in ABOUT_A_PERSON} if measured else None,
                    },
                }
            )
    return out


def _unused_step1(record: RunRecord) -> frozenset[str]:
    """The step-1 RPCs no link used (blind or plain, from the senders' audit logs), so
    that a run over gRPC does not list the other mode's calls as not measured."""
    sent = [
        entry.detail.get("mode") == "blind"
        for node in record.nodes.values()
        for entry in accepted(node.audit, AuditEvent.IDENTIFY_SENT)
    ]
    unused = set()
    if not any(sent):
        unused |= {BLIND_IDENTIFY.name, BLIND_REVEAL.name}
    if all(sent) and sent:
        unused.add(IDENTIFY.name)
    return frozenset(unused)


def link_crossings(
    record: RunRecord, subjects: Subjects, caller: str, holder: str
) -> dict[str, Any]:
    """Values of each class that crossed between ``caller`` and ``holder`` (on calls
    ``caller`` made, both directions), and those about people not listed."""
    crossed: Counter[str] = Counter()
    about: Counter[str] = Counter()
    for (_, _, c, h, refs), values in record.wire.about.items():
        if (c, h) != (caller, holder):
            continue
        crossed.update({k: values[k] for k in ABOUT_A_PERSON})
        verdict = subjects.of(c, h, refs)
        if verdict is not None and verdict.not_listed:
            about.update({k: values[k] for k in ABOUT_A_PERSON})
    return {
        "all_calls_measured": record.workers_metered,
        "by_class": {k: crossed[k] for k in ABOUT_A_PERSON},
        "about_people_not_listed": {k: about[k] for k in ABOUT_A_PERSON},
    }


def _probes(record: RunRecord, truth: GroundTruth) -> dict[str, Any]:
    """Probes by purpose (holders' audit logs) and whom they concerned (senders' outboxes)."""
    probes_by_purpose: Counter[str] = Counter()
    for node in record.nodes.values():
        for entry in accepted(node.audit, AuditEvent.IDENTIFY_RECEIVED):
            probes_by_purpose[str(entry.detail.get("purpose"))] += detail_number(entry, "probes")
    probed_faces: set[int] = set()
    not_listed = 0
    for node in record.nodes.values():
        for (encounter_id, partner), state in node.outbox.items():
            if state != OutboxState.DONE.value or encounter_id not in truth.encounters:
                continue
            face = truth.encounters[encounter_id].face
            probed_faces.add(face)
            not_listed += int(not truth.listed(face, partner))
    return {
        "probes": sum(probes_by_purpose.values()),
        "by_purpose": dict(sorted(probes_by_purpose.items())),
        "people": len(probed_faces),
        "probes_about_people_on_no_watchlist_of_the_holder": not_listed,
    }


def _replies(record: RunRecord, truth: GroundTruth, found: list[Detection]) -> dict[str, Any]:
    """Hits as the requesters' alerts hold them, and the false ones."""
    replies = [d for d in found if d.side == "requester"]
    shown = {(node, a.alert_id) for node, r in record.nodes.items() for a in r.alerts if a.category}
    return {
        "hits": len(replies),
        "categories_disclosed": sum(1 for d in replies if (d.node, d.alert_id) in shown),
        "about_travellers_not_listed": sum(1 for d in replies if not _same_person(truth, d)),
    }


def _sightings(record: RunRecord, subjects: Subjects) -> dict[str, Any] | None:
    """Sightings that crossed: each should follow a hit; those about a false match are
    personal disclosures about someone not listed."""
    if not record.workers_metered:
        return None
    sent = after_hit = false_match = personal = 0
    for (rpc, direction, caller, holder, refs), values in record.wire.about.items():
        named = dict(refs)
        if (rpc, direction) != (REPORT_SIGHTINGS.name, REQUEST) or "hit_reference" not in named:
            continue
        sent += 1
        after_hit += subjects.hit_answered_probe(caller, holder, named["hit_reference"])
        verdict = subjects.of(caller, holder, refs)
        if verdict is not None and verdict.not_listed:
            false_match += 1
            personal += values["personal"]
    return {
        "sightings": sent,
        "after_a_hit": after_hit,
        "not_after_a_hit": sent - after_hit,
        "about_false_matches": false_match,
        "personal_fields_about_false_matches": personal,
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
