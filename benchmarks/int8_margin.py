"""How wide the int8 shortlist must be: proofs that fail, and one-probe searches/s.

    .venv/bin/python benchmarks/int8_margin.py [--size 1000000] [--margins 32,128,512]

Draws ``--size`` synthetic templates around the fitted centre (TemplateModel), builds
the int8 rows once and searches ``--probes`` one-probe calls (half mated) through the
engine with each shortlist margin (k + margin rows re-ranked exactly), top-10 and the
node's kind of search (k = 3 under 0.6). Prints, per margin and kind, how many
probes the first shortlist could not prove (each is then searched again, 8x wider)
and the one-probe searches/s (median of three rounds). The answers are the same
whatever the margin. SYNTHETIC DATA ONLY.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.matching import engine
from biometric_exchange.matching.probes import Probes
from biometric_exchange.matching.quantized import QuantizedRows
from biometric_exchange.synthetic.templates import TemplateModel

Floats = NDArray[np.float32]
KINDS = (("top-10", 10, None), ("k=3 < 0.6", 3, 0.6))


class WithMargin:
    """``QuantizedRows`` with another shortlist margin, counting the probes retried."""

    def __init__(self, rows: QuantizedRows, margin: int) -> None:
        self.rows = rows
        self.margin = margin
        self.prepared: list[int] = []

    @property
    def dim(self) -> int:
        return self.rows.dim

    @property
    def size(self) -> int:
        return self.rows.size

    @property
    def max_sqnorm(self) -> float:
        return self.rows.max_sqnorm

    @property
    def residual(self) -> float:
        return self.rows.residual

    def prepare(self, queries: Floats) -> Probes:
        self.prepared.append(queries.shape[0])
        return self.rows.prepare(queries)

    def spans(self, width: int) -> Iterator[tuple[int, int]]:
        return self.rows.spans(width)

    def score(self, probes: Probes, start: int, stop: int, out: Floats) -> None:
        self.rows.score(probes, start, stop, out)

    def gather(self, rows: NDArray[np.intp]) -> Floats:
        return self.rows.gather(rows)

    def templates(self, width: int) -> Iterator[tuple[int, Floats]]:
        return self.rows.templates(width)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--margins", default="32,128,512")
    parser.add_argument("--probes", type=int, default=200)
    parser.add_argument("--seed", type=int, default=2017)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    model = TemplateModel()
    latents = model.latents(rng, args.size)
    gallery = model.captures(latents, rng)
    mated = latents[rng.integers(0, args.size, args.probes // 2)]
    strangers = model.latents(rng, args.probes - args.probes // 2)
    probes = model.captures(np.vstack([mated, strangers]).astype(np.float32), rng)
    del latents
    rows = QuantizedRows(model.dim)
    rows.append(gallery)
    del gallery
    ids = np.array([f"{i:08d}" for i in range(args.size)], dtype=object)
    print(f"{args.size:,} synthetic templates, {args.probes} one-probe searches, SYNTHETIC")
    for margin in (int(value) for value in args.margins.split(",")):
        for kind, k, threshold in KINDS:
            source = WithMargin(rows, margin)
            rounds = []
            for _ in range(3):
                source.prepared.clear()
                started = time.perf_counter()
                for probe in probes:
                    engine.search(source, ids, probe[None, :], k, threshold, tile_size=1 << 16)
                rounds.append(time.perf_counter() - started)
            retried = len(source.prepared) - len(probes)
            rate = len(probes) / statistics.median(rounds)
            print(
                f"margin {margin:4d}, {kind:9s}: first shortlist not proved for "
                f"{retried:3d} of {len(probes)}; {rate:6.1f} searches/s",
                flush=True,
            )
    rows.close()


if __name__ == "__main__":
    main()
