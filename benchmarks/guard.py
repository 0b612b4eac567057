"""Median time of ``ExtractionGuard.screen`` for requests of 1 and 64 probes against a
full ring of recent probes (synthetic templates).

    .venv/bin/python benchmarks/guard.py [--recent 4096] [--rounds 200]

Prints wall-clock and this thread's CPU time: on a busy machine the wall clock
includes waiting for a core. Set OPENBLAS_NUM_THREADS=1 to measure one core.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from biometric_exchange.matching import DEFAULT_THRESHOLD
from biometric_exchange.node.serve.guard import (
    ExtractionGuard,
    ExtractionSettings,
    PopulationModel,
)
from biometric_exchange.store.database import Database
from biometric_exchange.store.extraction import ExtractionStore
from biometric_exchange.synthetic.templates import TemplateModel


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recent", type=int, default=4096, help="recent probes remembered")
    parser.add_argument("--rounds", type=int, default=200, help="requests timed per size")
    args = parser.parse_args(argv)
    model = TemplateModel()
    rng = np.random.default_rng(2024)
    gallery = model.captures(model.latents(rng, 20_000), rng, max_noise_factor=1.0)
    with tempfile.TemporaryDirectory() as folder:
        guard = ExtractionGuard(
            partner="PAN",
            store=ExtractionStore(Database(Path(folder) / "node.sqlite3")),
            settings=ExtractionSettings(recent_probes=args.recent),
            population=PopulationModel.fit(gallery),
            threshold=DEFAULT_THRESHOLD,
        )
        fill = model.captures(model.latents(rng, args.recent), rng)
        guard.screen([f"fill-{i}" for i in range(args.recent)], fill)
        for size in (1, 64):
            requests = [model.captures(model.latents(rng, size), rng) for _ in range(args.rounds)]
            wall, cpu = [], []
            for number, probes in enumerate(requests):
                refs = [f"r{size}-{number}-{i}" for i in range(size)]
                started, started_cpu = time.perf_counter(), time.thread_time()
                guard.screen(refs, probes)
                wall.append(time.perf_counter() - started)
                cpu.append(time.thread_time() - started_cpu)
            print(
                f"screen() {size:>2} probes vs {guard.remembered} recent: "
                f"median {statistics.median(wall) * 1e3:.3f} ms wall, "
                f"{statistics.median(cpu) * 1e3:.3f} ms CPU"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
