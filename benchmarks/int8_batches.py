"""Searches/s of the int8 engine when several probes share a pass.

    .venv/bin/python benchmarks/int8_batches.py [--size 1000000] [--probes 4,100,1000]

Draws ``--size`` synthetic templates around the fitted centre (TemplateModel),
builds the int8 rows once, then times top-10 searches of each ``--probes``
count (half mated) straight through ``engine.search``, the node's shortlist
margin included: three rounds of at least a second each, the median printed
as probes searched per second. It isolates the engine's own work a pass
(scoring, keeping each probe's shortlist, re-ranking, the proof), without
FAISS or a node around it. SYNTHETIC DATA ONLY.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from biometric_exchange.matching import engine
from biometric_exchange.matching.quantized import QuantizedRows
from biometric_exchange.synthetic.templates import TemplateModel

ROUNDS = 3
ROUND_S = 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--probes", default="4,100,1000")
    parser.add_argument("--seed", type=int, default=2017)
    args = parser.parse_args()
    counts = [int(value) for value in args.probes.split(",")]
    rng = np.random.default_rng(args.seed)
    model = TemplateModel()
    latents = model.latents(rng, args.size)
    rows = QuantizedRows(model.dim)
    rows.append(model.captures(latents, rng))
    ids = np.array([f"{i:08d}" for i in range(args.size)], dtype=object)
    print(f"{args.size:,} synthetic templates, int8 rows, top-10, SYNTHETIC")
    for count in counts:
        mated = latents[rng.integers(0, args.size, count // 2)]
        strangers = model.latents(rng, count - count // 2)
        probes = model.captures(np.vstack([mated, strangers]).astype(np.float32), rng)
        engine.search(rows, ids, probes, 10, None, tile_size=1 << 16)  # warm-up
        rates = []
        for _ in range(ROUNDS):
            searches, started = 0, time.perf_counter()
            while (elapsed := time.perf_counter() - started) < ROUND_S:
                engine.search(rows, ids, probes, 10, None, tile_size=1 << 16)
                searches += 1
            rates.append(searches * count / elapsed)
        print(f"{count:5d} probes a search: {statistics.median(rates):7.1f} probes/s")
    rows.close()


if __name__ == "__main__":
    main()
