"""Mesh against router on the bi_regional world, in-process, timed over several runs.

    .venv/bin/python benchmarks/bi_regional.py [--runs 3] [--scenario FILE] [--out DIR]

Each run is ``bx simulate bi_regional`` (both topologies on one world; which runs first
alternates from run to run). Prints, per
topology, the median over the runs of the whole run's exchange time and of the median
and 95th-percentile Identify call, then the router/mesh ratio of each median, and the
median wall time of a whole run (generation, both topologies, report and plots).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from biometric_exchange.simulation.biregional.scenario import load_bi_regional
from biometric_exchange.simulation.biregional.study import run_bi_regional

KEYS = ("seconds", "identify_ms_median", "identify_ms_p95")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scenario", type=Path, default=Path("simulations/bi_regional.toml"))
    parser.add_argument("--out", type=Path, help="Keep the last run's report here")
    args = parser.parse_args()
    scenario, federation = load_bi_regional(args.scenario)
    samples: dict[str, dict[str, list[float]]] = {}
    walls = []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as scratch:
            out = args.out if args.out and run == args.runs - 1 else Path(scratch)
            started = time.perf_counter()
            # Alternate which topology runs first, so that warming up falls on both alike.
            order = ("mesh", "router") if run % 2 == 0 else ("router", "mesh")
            metrics = run_bi_regional(scenario, federation, out, topologies=order)
            walls.append(time.perf_counter() - started)
        for topology, figures in metrics["topologies"].items():
            for key in KEYS:
                samples.setdefault(topology, {}).setdefault(key, []).append(figures[key])
        print(f"run {run + 1}: {walls[-1]:.1f} s", flush=True)
    medians = {t: {k: statistics.median(v) for k, v in s.items()} for t, s in samples.items()}
    for topology, figures in medians.items():
        print(
            f"{topology:<7} exchange {figures['seconds']:.1f} s   Identify median "
            f"{figures['identify_ms_median']:.2f} ms   p95 {figures['identify_ms_p95']:.2f} ms"
        )
    for key in KEYS:
        print(f"router/mesh {key}: {medians['router'][key] / medians['mesh'][key]:.2f}")
    print(f"whole run: median {statistics.median(walls):.1f} s over {args.runs} runs")


if __name__ == "__main__":
    main()
