"""What the alerts ask of operators: new alerts per day, false ones, and how fast they came.

An alert counts on the simulated day its first evidence appeared; it is false
when that evidence names the wrong person (or, for a surge, a series that did
not surge). Time from encounter to alert: in simulated days (evidence day
minus the encounter's day), and in processing seconds (alert creation minus
the commit of the encounter's enrolment, wall clock).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np

from biometric_exchange.domain import Alert, AlertKind
from biometric_exchange.simulation.detections import Detection
from biometric_exchange.simulation.flow import SurgeTruth
from biometric_exchange.simulation.record import RunRecord
from biometric_exchange.simulation.truth import GroundTruth


def first_evidence(found: list[Detection]) -> dict[tuple[str, str], Detection]:
    """Each alert's earliest piece of evidence (by simulated day)."""
    first: dict[tuple[str, str], Detection] = {}
    for d in found:
        key = (d.node, d.alert_id)
        if key not in first or d.day < first[key].day:
            first[key] = d
    return first


def alerts_per_day(
    found: list[Detection], days: int, is_right: Callable[[Detection], bool]
) -> dict[str, Any]:
    """New alerts per simulated day by kind and by severity, and the false ones."""
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0] * days)
    by_severity: dict[str, list[int]] = defaultdict(lambda: [0] * days)
    false_by_node: dict[str, list[int]] = defaultdict(lambda: [0] * days)
    total, false = [0] * days, [0] * days
    for d in first_evidence(found).values():
        if not 0 <= d.day < days:
            continue
        by_kind[d.kind][d.day] += 1
        by_severity[d.severity][d.day] += 1
        total[d.day] += 1
        if not is_right(d):
            false[d.day] += 1
            false_by_node[d.node][d.day] += 1
    return {
        "new_alerts": total,
        "false_alerts": false,
        "false_alerts_by_node": dict(sorted(false_by_node.items())),
        "mean_new_alerts_per_day": round(sum(total) / days, 3) if days else None,
        "mean_false_alerts_per_day": round(sum(false) / days, 3) if days else None,
        "by_kind": dict(sorted(by_kind.items())),
        "by_severity": dict(sorted(by_severity.items())),
    }


def _summary(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"count": 0, "p50": None, "p95": None, "max": None}
    array = np.asarray(values, dtype=np.float64)
    return {
        "count": int(array.size),
        "p50": round(float(np.percentile(array, 50)), 3),
        "p95": round(float(np.percentile(array, 95)), 3),
        "max": round(float(array.max()), 3),
    }


def latency(record: RunRecord, truth: GroundTruth, found: list[Detection]) -> dict[str, Any]:
    """Per person-level kind: simulated days and processing seconds from encounter to alert."""
    alerts: dict[tuple[str, str], Alert] = {
        (node, a.alert_id): a for node, r in record.nodes.items() for a in r.alerts
    }
    days: dict[str, list[float]] = defaultdict(list)
    for d in found:
        encountered = [truth.encounters[e].day for e in d.encounters if e in truth.encounters]
        if encountered and d.day >= 0:
            days[d.kind].append(d.day - max(encountered))
    seconds: dict[str, list[float]] = defaultdict(list)
    for key, d in first_evidence(found).items():
        enrolled = [record.log.enrolled_at[e] for e in d.encounters if e in record.log.enrolled_at]
        if enrolled:
            created = alerts[key].created_at
            seconds[d.kind].append(max(0.0, (created - max(enrolled)).total_seconds()))
    kinds = sorted(set(days) | set(seconds))
    return {
        kind: {"days": _summary(days[kind]), "seconds": _summary(seconds[kind])} for kind in kinds
    }


def severity_counts(found: list[Detection]) -> dict[str, dict[str, int]]:
    """Alerts by kind and severity (each alert once)."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for d in first_evidence(found).values():
        counts[d.kind][d.severity] += 1
    return {kind: dict(sorted(c.items())) for kind, c in sorted(counts.items())}


def surge_is_right(surge: SurgeTruth | None) -> Callable[[Detection], bool]:
    """Whether a surge detection flags the injected surge's series on or after its start."""

    def right(d: Detection) -> bool:
        return (
            surge is not None
            and d.series == (surge.party, surge.nationality, surge.border_point)
            and d.surge_day is not None
            and d.surge_day >= surge.start_day
        )

    return right


FLOW_SURGE = AlertKind.FLOW_SURGE.value
