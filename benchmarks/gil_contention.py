"""What busy Python threads do to an int8 search pass: the holder's situation at 1M.

    .venv/bin/python benchmarks/gil_contention.py [--size 1000000] [--probes 4]

Builds an int8 ``CompactGallery`` of ``--size`` synthetic templates, then times
passes of ``--probes`` probes (k = 3 under 0.6, as the node searches) with 0 and 2
other threads running pure Python (as a node's gRPC handlers do while a pass runs),
under the interpreter's default switch interval (5 ms) and under 0.5 ms. The
search releases the GIL in its kernel and numpy loops and must take it back
between them; each time it may wait for a busy thread to give it up. Prints the
median and 90th percentile of 25 passes per case. SYNTHETIC DATA ONLY.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time

import numpy as np

from biometric_exchange.matching import CompactGallery
from biometric_exchange.synthetic.templates import TemplateModel

PASSES = 25


def _busy(stop: threading.Event) -> None:
    total = 0
    while not stop.is_set():
        for value in range(1000):
            total += value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--probes", type=int, default=4)
    parser.add_argument("--seed", type=int, default=2017)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    model = TemplateModel()
    latents = model.latents(rng, args.size)
    gallery = CompactGallery()
    gallery.add([f"{i:08d}" for i in range(args.size)], model.captures(latents, rng))
    del latents
    probes = model.captures(model.latents(rng, PASSES * args.probes), rng)
    print(f"{args.size:,} synthetic templates, passes of {args.probes} probes, SYNTHETIC")
    default = sys.getswitchinterval()
    for interval in (default, 0.0005):
        sys.setswitchinterval(interval)
        for busy in (0, 2):
            stop = threading.Event()
            threads = [threading.Thread(target=_busy, args=(stop,)) for _ in range(busy)]
            for thread in threads:
                thread.start()
            times = []
            for start in range(0, len(probes), args.probes):
                began = time.perf_counter()
                gallery.search(probes[start : start + args.probes], k=3, threshold=0.6)
                times.append(time.perf_counter() - began)
            stop.set()
            for thread in threads:
                thread.join()
            times.sort()
            print(
                f"switch interval {interval * 1000:.1f} ms, {busy} busy threads: a pass "
                f"{1000 * statistics.median(times):.1f} ms (90th percentile "
                f"{1000 * times[int(0.9 * len(times))]:.1f} ms)",
                flush=True,
            )
    sys.setswitchinterval(default)
    gallery.close()


if __name__ == "__main__":
    main()
