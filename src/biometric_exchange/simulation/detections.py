"""Alert evidence resolved to the people and entries it is about.

Each piece of evidence of each alert becomes one ``Detection`` naming the
encounters concerned (a partner's probe reference resolved through the
sender's outbox), the watchlist entry (a hit reference resolved through the
holder's records) or the surge series. Nothing here is shown to an operator;
it is how the simulation compares what the nodes raised with the truth.

``canonical_alerts`` describes each alert without generated ids, references
or wall-clock times, so the alerts of two runs (in-process and over gRPC)
can be compared exactly.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from biometric_exchange.domain import Alert, AlertKind
from biometric_exchange.simulation.draws import Calendar
from biometric_exchange.simulation.record import RunRecord

HOLDER_KINDS = {AlertKind.SUBJECT_ENCOUNTERED_BY_PARTNER, AlertKind.PROTECTION}
HIT_KINDS = {AlertKind.WATCHLIST_HIT, AlertKind.PROTECTION}


@dataclass(frozen=True)
class Detection:
    node: str
    kind: str
    side: str
    """local, requester (a hit on the partner's watchlist), holder, linking, aggregate
    or guard (a partner held from step 1)."""
    alert_id: str
    severity: str
    queue: str
    partner: str | None
    day: int
    """Simulated day the evidence first appeared."""
    encounters: tuple[str, ...] = ()
    entry: str | None = None
    series: tuple[str, str, str] | None = None
    """(party, nationality, border point) of a surge."""
    surge_day: int | None = None
    impact: str | None = None
    via: str | None = None
    """The partner whose link this evidence came through (partner hits, the holder's
    side, movements); an alert on one subject may gather evidence from several."""


def _probe(record: RunRecord, key: str) -> str | None:
    partner, _, probe_ref = key.partition(":")
    return record.log.probe_refs.get((partner, probe_ref))


def _describe(
    record: RunRecord, calendar: Calendar, node: str, alert: Alert, item: dict[str, Any]
) -> dict[str, Any]:
    kind = alert.kind
    key = str(item.get("key"))
    if kind in HIT_KINDS and item.get("encounter_id"):
        source = item.get("source")
        if source == "local":
            return {
                "side": "local",
                "encounters": (item["encounter_id"],),
                "entry": alert.watchlist_entry_id,
            }
        issued = record.nodes[str(source)].issued_references
        return {
            "side": "requester",
            "encounters": (item["encounter_id"],),
            "entry": issued.get(str(item.get("hit_reference"))),
            "via": str(source),
        }
    if kind in HOLDER_KINDS:
        probed = _probe(record, key)
        return {
            "side": "holder",
            "encounters": (probed,) if probed else (),
            "entry": alert.watchlist_entry_id,
            "via": key.partition(":")[0],
        }
    if kind is AlertKind.IDENTITY_CONFLICT:
        return {"side": "linking", "encounters": tuple(item.get("encounters", ()))}
    if kind is AlertKind.MOVEMENT:
        probed = _probe(record, key)
        return {
            "side": "linking",
            "encounters": tuple(e for e in (item.get("our_encounter"), probed) if e),
            "via": key.partition(":")[0],
        }
    if kind is AlertKind.FLOW_SURGE:
        day = dt.date.fromisoformat(str(item["day"]))
        return {
            "side": "aggregate",
            "series": (str(item["party"]), str(item["nationality"]), str(item["border_point"])),
            "surge_day": calendar.day_of(day),
            "impact": str(item.get("impact")),
        }
    if kind is AlertKind.EXTRACTION_SUSPECTED:
        return {"side": "guard", "via": str(item.get("partner"))}
    return {"side": "other"}  # pragma: no cover - every kind is handled above


def detections(record: RunRecord) -> list[Detection]:
    """Every piece of evidence of every alert on every node, resolved."""
    found = []
    for node, node_record in record.nodes.items():
        for alert in node_record.alerts:
            for item in alert.evidence:
                if item.get("supplements"):
                    continue  # where and when, added to the hit's own evidence
                day = record.log.evidence_day.get((node, alert.alert_id, str(item.get("key"))), -1)
                found.append(
                    Detection(
                        node=node,
                        kind=alert.kind.value,
                        alert_id=alert.alert_id,
                        severity=alert.severity.value,
                        queue=alert.queue.value,
                        partner=alert.partner,
                        day=day,
                        **_describe(record, record.calendar, node, alert, item),
                    )
                )
    return found


def canonical_alerts(record: RunRecord) -> set[tuple[Any, ...]]:
    """Each alert as (node, kind, severity, queue, partner, its evidence described by the
    encounters, entries and surge days it names): comparable across runs and modes."""
    by_alert: dict[tuple[str, str], list[Detection]] = {}
    for found in detections(record):
        by_alert.setdefault((found.node, found.alert_id), []).append(found)
    described = set()
    for items in by_alert.values():
        first = items[0]
        evidence = frozenset(
            (d.side, tuple(sorted(d.encounters)), d.entry, d.series, d.surge_day, d.impact, d.via)
            for d in items
        )
        described.add(
            (first.node, first.kind, first.severity, first.queue, first.partner, evidence)
        )
    return described
