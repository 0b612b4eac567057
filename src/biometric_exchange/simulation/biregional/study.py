"""``bx simulate bi_regional``: generate the federation, run the world as mesh and as
router, write ``report.md``, ``metrics.json`` and the plots.

The generated folders (keys, agreements, databases) live in a private temporary folder
(in memory where ``/dev/shm`` exists) removed at the end; only the report stays.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from biometric_exchange.federation.description import Federation
from biometric_exchange.federation.generate import generate
from biometric_exchange.simulation.biregional.metrics import federation_metrics, topology_metrics
from biometric_exchange.simulation.biregional.plots import plot_comparison
from biometric_exchange.simulation.biregional.report import write_report
from biometric_exchange.simulation.biregional.run import (
    TOPOLOGIES,
    copy_folders,
    expected_hits,
    run_topology,
)
from biometric_exchange.simulation.biregional.scenario import BiRegionalScenario
from biometric_exchange.simulation.biregional.world import build_world

Progress = Callable[[str, int, int], None]
MEMORY_FOLDER = Path("/dev/shm")  # noqa: S108 - a private temporary folder is made inside
"""Where the generated folders go when the system has it (tmpfs): twenty nodes' SQLite
writes stay in memory; elsewhere the system's temporary folder."""
RUN_QUOTAS = {"probes_per_day": 10_000_000, "detail_requests_per_day": 100_000}
"""A run's daily quotas: the nodes' real date is one day for the whole run."""


def memory_folder() -> Path | None:
    """``/dev/shm`` when the system has it and we may write there, else None (the
    system's temporary folder)."""
    usable = MEMORY_FOLDER.is_dir() and os.access(MEMORY_FOLDER, os.W_OK)
    return MEMORY_FOLDER if usable else None


def _quiet(what: str, done: int, total: int) -> None:
    """No progress shown."""


def run_bi_regional(
    scenario: BiRegionalScenario,
    federation: Federation,
    out: Path,
    *,
    topologies: tuple[str, ...] = TOPOLOGIES,
    progress: Progress = _quiet,
) -> dict[str, Any]:
    """Run every topology on one world; write the report into ``out``; return the metrics."""
    started = time.perf_counter()
    world = build_world(scenario, today=dt.datetime.now(dt.UTC).date())
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bi_regional-", dir=memory_folder()) as workdir:
        progress("generating folders, keys and agreements", 0, scenario.days)
        generated = generate(
            federation,
            Path(workdir) / "generated",
            threshold=scenario.threshold,
            terms_overrides={"quotas": RUN_QUOTAS},
        )
        expected = expected_hits(world, generated.pairs)
        metrics: dict[str, Any] = {
            "synthetic": True,
            "scenario": scenario.name,
            "seed": scenario.seed,
            "days": scenario.days,
            "migrants": scenario.world.migrants,
            "threshold": scenario.threshold,
            "baseline": federation.baseline.terms,
            "federation": federation_metrics(federation, generated),
            "router_keys": sorted(p.name for p in (generated.router / "keys").iterdir()),
            "topologies": {},
        }
        hits = {}
        for topology in topologies:
            folders = copy_folders(generated, Path(workdir) / topology)
            run = run_topology(topology, folders, world, progress)
            hits[topology] = run.partner_hits
            members = len(federation.members)
            metrics["topologies"][topology] = topology_metrics(run, expected, members)
    if len(hits) > 1:
        metrics["same_hits"] = len({frozenset(found) for found in hits.values()}) == 1
    metrics["seconds_total"] = round(time.perf_counter() - started, 1)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    plot_comparison(metrics, out)
    write_report(metrics, out)
    return metrics
