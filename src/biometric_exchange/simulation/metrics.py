"""metrics.json: every figure of a run, computed from its records and its ground truth."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from biometric_exchange import SYNTHETIC_NOTICE
from biometric_exchange.simulation.accuracy import Scorer, ratio
from biometric_exchange.simulation.detections import Detection, detections
from biometric_exchange.simulation.disclosure import disclosure
from biometric_exchange.simulation.exchange import volume
from biometric_exchange.simulation.links import link_metrics
from biometric_exchange.simulation.rates import det_curve, measured_rates
from biometric_exchange.simulation.record import RunRecord
from biometric_exchange.simulation.surges import daily_flow, surge_metrics
from biometric_exchange.simulation.truth import GroundTruth
from biometric_exchange.simulation.workload import (
    FLOW_SURGE,
    alerts_per_day,
    latency,
    surge_is_right,
)
from biometric_exchange.simulation.world import World


def compute_metrics(world: World, record: RunRecord) -> dict[str, Any]:
    scenario = world.scenario
    truth = GroundTruth.of(world)
    found = detections(record)
    scorer = Scorer(truth, found)
    kinds = scorer.run()
    surge_right = surge_is_right(world.surge)

    def is_right(d: Detection) -> bool:
        return surge_right(d) if d.kind == FLOW_SURGE else scorer.is_right(d)

    surge_alerts = {d.alert_id for d in found if d.kind == FLOW_SURGE}
    right = sum(1 for d in found if d.kind == FLOW_SURGE and surge_right(d))
    evidence = sum(1 for d in found if d.kind == FLOW_SURGE)
    kinds[FLOW_SURGE] = {
        "alerts": len(surge_alerts),
        "evidence": evidence,
        "true_positives": right,
        "false_positives": evidence - right,
        "precision": ratio(right, evidence),
        "recall": None if world.surge is None else float(right > 0),
        "recall_eligible": None if world.surge is None else float(right > 0),
    }
    return {
        "synthetic": True,
        "notice": SYNTHETIC_NOTICE,
        "scenario": scenario.model_dump(
            mode="json", exclude=None if scenario.agreements else {"agreements"}
        ),
        "run": {
            "mode": record.mode,
            "first_day": world.calendar.start.isoformat(),
            "days": world.calendar.days,
            "seconds": {k: round(v, 3) for k, v in record.log.seconds.items()},
            "seconds_total": round(sum(record.log.seconds.values()), 3),
        },
        "world": world_counts(world, truth),
        "alerts": kinds,
        "identification": measured_rates(truth, found),
        "workload": alerts_per_day(found, world.calendar.days, is_right),
        "latency": latency(record, truth, found),
        "surge": surge_metrics(world, found),
        "exchange": volume(record, scenario),
        "disclosure": disclosure(record, truth, found),
        "det": det_curve(truth, scenario.seed),
        "flow": daily_flow(world),
        "links": link_metrics(record, scenario, truth, found, scorer.by_link()),
    }


def world_counts(world: World, truth: GroundTruth) -> dict[str, Any]:
    e = world.encounters
    faces_met = set(e.face.tolist())
    listed_met = {
        f for f in faces_met for owner in world.scenario.nodes.countries if truth.listed(f, owner)
    }
    extra = world.people.extra_regional[e.face]
    return {
        "migrants_drawn": world.travellers,
        "surge_arrivals": int(world.surge_faces.size),
        "people_met": len(faces_met),
        "encounters": len(e),
        "encounters_by_node": dict(sorted(Counter(e.country.tolist()).items())),
        "extra_regional_encounters": int(np.sum(extra)),
        "watchlist_entries_by_node": dict(sorted(Counter(world.listings.owner.tolist()).items())),
        "watchlisted_people_met": len(listed_met),
        "fraud_travellers_met": len(truth.frauds),
    }
