"""Flow surges against the truth: was the injected surge flagged, how late, and what else.

A ``FLOW_SURGE`` alert is right when its series (party, nationality, border
point) is the injected surge's and it flags a day on or after the surge
began. Detection delay: the first such day minus the surge's first day.
Every other surge alert is a false surge (the flow had no surge there).
Also the daily flow by nationality at each node, for the report's figure.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import numpy as np

from biometric_exchange.simulation.detections import Detection
from biometric_exchange.simulation.workload import FLOW_SURGE, surge_is_right
from biometric_exchange.simulation.world import World

TOP_NATIONALITIES = 6


def surge_metrics(world: World, found: list[Detection]) -> dict[str, Any]:
    surge = world.surge
    right = surge_is_right(surge)
    by_node: dict[str, dict[str, Any]] = {}
    for node in world.scenario.nodes.countries:
        mine = [d for d in found if d.kind == FLOW_SURGE and d.node == node]
        true_days = sorted(d.surge_day for d in mine if right(d) and d.surge_day is not None)
        false = [d for d in mine if not right(d)]
        false_alerts = {d.alert_id for d in false} - {d.alert_id for d in mine if right(d)}
        first_flag = {d.day for d in mine if right(d)}
        by_node[node] = {
            "detected": bool(true_days),
            "days_flagged_on_injected_series": sorted(set(true_days)),
            "first_surge_day_flagged": true_days[0] if true_days else None,
            "detection_delay_days": (true_days[0] - surge.start_day)
            if surge is not None and true_days
            else None,
            "alert_raised_on_day": min(first_flag) if first_flag else None,
            "false_surge_alerts": len(false_alerts),
            "false_surge_days": len(false),
            "false_series": sorted(
                {f"{d.series[0]}:{d.series[1]}:{d.series[2]}" for d in false if d.series}
            ),
        }
    injected = None
    if surge is not None:
        injected = {
            "party": surge.party,
            "nationality": surge.nationality,
            "border_point": surge.border_point,
            "start_day": surge.start_day,
            "start_date": world.calendar.date(surge.start_day).isoformat(),
            "extra_per_day": world.scenario.surge.extra_per_day if world.scenario.surge else None,
            "arrivals": surge.arrivals,
        }
    return {"injected": injected, "by_node": by_node}


def daily_flow(world: World) -> dict[str, Any]:
    """Encounters per simulated day and nationality at each node (top nationalities,
    the surge's among them, the rest as OTHER)."""
    e = world.encounters
    nationality = world.people.nationality[e.face]
    days = world.calendar.days
    flow: dict[str, Any] = {}
    for node in world.scenario.nodes.countries:
        mine = e.country == node
        counts = Counter(nationality[mine].tolist())
        top = [code for code, _ in counts.most_common(TOP_NATIONALITIES)]
        if (
            world.surge is not None
            and world.surge.party == node
            and world.surge.nationality not in top
        ):
            top.append(world.surge.nationality)
        series: dict[str, list[int]] = defaultdict(lambda: [0] * days)
        for code in [*top, "OTHER"]:
            series[code] = [0] * days
        for day, code in zip(e.day[mine].tolist(), nationality[mine].tolist(), strict=True):
            series[code if code in top else "OTHER"][day] += 1
        flow[node] = dict(series)
    flow["dates"] = [world.calendar.date(d).isoformat() for d in range(days)]
    flow["total"] = int(np.sum(e.day >= 0))
    return flow
