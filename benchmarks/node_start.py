"""How long a holder with a large watchlist takes to serve again after a restart.

    .venv/bin/python benchmarks/node_start.py --watchlist 1000000 --workdir /tmp/bx-start
    .venv/bin/python benchmarks/node_start.py --watchlist 10000000 --bulk --searches 200 \\
        --workdir /tmp/bx-start-10m

Builds a pair with ``bx loadtest``'s set-up (a short single-probe run, which
leaves the holder's sealed snapshot beside its database) or, with ``--bulk``,
only the pair, its holder's watchlist added straight to its store in large
transactions (templates made a chunk at a time: what 10M entries need on
this machine). Then starts the holder once (timed on its own: it builds the
snapshot when there is none) and restarts it ``--restarts`` times: from the
snapshot decrypted into memory of its own, then with ``[matching]
shared_snapshot = true`` (the first start decrypts into /dev/shm, the next
ones map it). Prints seconds to gRPC SERVING and the holder's resident memory
(VmRSS) once serving. With ``--searches N``, opens the holder's watchlist in
this process as the node does and times N one-probe searches, three rounds
(half the probes new captures of listed subjects). Synthetic data only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np

from biometric_exchange.loadtest import LoadConfig, run_load
from biometric_exchange.loadtest.config import GENERATOR
from biometric_exchange.loadtest.pair import prepare_pair
from biometric_exchange.matching.snapshot import discard_images
from biometric_exchange.node.index.watchlist import SHARED_MEMORY
from biometric_exchange.node.runtime import Node
from biometric_exchange.synthetic import TemplateModel
from biometric_exchange.synthetic.numbered import numbered_entry
from biometric_exchange.workspace import start_node_process, stop_process, wait_serving

SEED = 23
CHUNK = 100_000


def _resident(pid: str, field: str = "VmRSS") -> float:
    """VmRSS (or another ``field`` of its status) of process ``pid`` (or ``self``), MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _start(node_dir: Path, log: Path, timeout: float = 900) -> tuple[float, float]:
    started = time.perf_counter()
    process = start_node_process(node_dir, log)
    try:
        wait_serving(node_dir, process, timeout=timeout)
        return time.perf_counter() - started, _resident(str(process.pid))
    finally:
        stop_process(process)


def _chunk(model: TemplateModel, first: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Latents and enrolment captures of entries ``first..first+size-1`` (seeded per chunk)."""
    rng = np.random.default_rng([SEED, first])
    latents = model.latents(rng, size)
    return latents, model.captures(latents, rng, max_noise_factor=1.0)


def _bulk(workdir: Path, count: int) -> Path:
    """The pair, its holder's ``count`` entries added CHUNK per transaction."""
    config = LoadConfig(watchlist=count, calls=50, batch_calls=0, serial_batch_calls=0)
    holder_dir, _ = prepare_pair(config, workdir)
    node, model = Node.open(holder_dir), TemplateModel()
    started = time.perf_counter()
    for first in range(0, count, CHUNK):
        size = min(CHUNK, count - first)
        _, templates = _chunk(model, first, size)
        node.records.add_watchlist(
            [
                numbered_entry(
                    first + i,
                    f"CHL-LOAD-{first + i:07d}",
                    templates[i],
                    label="Load",
                    generator=GENERATOR,
                    seed=SEED,
                )
                for i in range(size)
            ]
        )
        if (first // CHUNK) % 10 == 9:
            print(f"  {first + size:,} entries after {time.perf_counter() - started:.0f} s")
    print(f"bulk load: {count:,} entries in {time.perf_counter() - started:.0f} s")
    node.database.close()
    return holder_dir


def _searches(holder: Path, count: int, watchlist: int) -> None:
    """One-probe searches of the holder's watchlist, opened here as the node opens it
    (a ``--bulk`` holder: its first chunk's subjects are known here)."""
    model = TemplateModel()
    rng = np.random.default_rng(SEED + 1)
    listed, _ = _chunk(model, 0, min(CHUNK, watchlist))
    picked = listed[rng.integers(0, len(listed), count // 2)]
    latents = np.concatenate([picked, model.latents(rng, count - count // 2)])
    probes = model.captures(np.ascontiguousarray(latents, dtype=np.float32), rng)
    before = _resident("self")
    started = time.perf_counter()
    node = Node.open(holder)
    index = node.watchlist_index()
    print(f"searches: watchlist opened in this process in {time.perf_counter() - started:.1f} s")
    matching = node.config.matching
    rates, hits = [], 0
    for _ in range(3):
        started = time.perf_counter()
        for probe in probes:
            (found,) = index.search(
                [probe], threshold=matching.threshold, max_candidates=matching.max_candidates
            )
            hits += bool(found)
        rates.append(count / (time.perf_counter() - started))
    print(
        f"searches: {statistics.median(rates):.1f} one-probe searches/s "
        f"(rounds {', '.join(f'{r:.1f}' for r in rates)}; {hits // 3} of {count} probes hit), "
        f"{len(index):,} entries in force"
    )
    print(
        f"searches: this process resident {_resident('self'):,.0f} MiB "
        f"({before:,.0f} before opening the node; mapped image pages "
        f"{_resident('self', 'RssShmem'):,.0f}, anonymous {_resident('self', 'RssAnon'):,.0f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--watchlist", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--restarts", type=int, default=3)
    parser.add_argument("--bulk", action="store_true", help="load the store directly")
    parser.add_argument(
        "--searches", type=int, default=0, help="one-probe searches to time (with --bulk)"
    )
    args = parser.parse_args()
    if args.searches and not args.bulk:
        parser.error("--searches needs --bulk (its probes are captures of the bulk subjects)")
    holder = args.workdir / "node_chile"
    if not (holder / "data").is_dir():
        if args.bulk:
            _bulk(args.workdir, args.watchlist)
        else:
            config = LoadConfig(
                watchlist=args.watchlist,
                calls=50,
                batch_calls=0,
                serial_batch_calls=0,
                workdir=args.workdir,
            )
            run_load(config, progress=print)
    log = args.workdir / "logs" / "restarts.log"
    print(f"load average {os.getloadavg()}")
    first = _start(holder, log, timeout=7200)
    print(f"first start: serving after {first[0]:.1f} s, resident {first[1]:,.0f} MiB")
    private = [_start(holder, log) for _ in range(args.restarts)]
    config = holder / "node.toml"
    text = config.read_text(encoding="utf-8")
    if "[matching]\n" in text:
        config.write_text(text.replace("[matching]\n", "[matching]\nshared_snapshot = true\n", 1))
    else:
        config.write_text(text + "\n[matching]\nshared_snapshot = true\n")
    try:
        shared = [_start(holder, log) for _ in range(args.restarts + 1)]
    finally:
        config.write_text(text)
    for name, runs in (
        ("private", private),
        ("shared, first", shared[:1]),
        ("shared, next", shared[1:]),
    ):
        seconds = [run[0] for run in runs]
        print(
            f"{name}: serving after {statistics.median(seconds):.1f} s "
            f"(runs {', '.join(f'{s:.1f}' for s in seconds)}), "
            f"resident {statistics.median(run[1] for run in runs):,.0f} MiB"
        )
    discard_images(SHARED_MEMORY, holder / "data")
    if args.searches:
        _searches(holder, args.searches, args.watchlist)
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
