"""How long a holder with a large watchlist takes to serve again after a restart.

    .venv/bin/python benchmarks/node_start.py --watchlist 1000000 --workdir /tmp/bx-start

Builds a pair with ``bx loadtest``'s set-up (a short single-probe run, which
leaves the holder's sealed snapshot beside its database), then restarts the
holder ``--restarts`` times: from the snapshot decrypted into memory of its
own, then with ``[matching] shared_snapshot = true`` (the first start decrypts
into /dev/shm, the next ones map it). Prints seconds to gRPC SERVING and the
holder's resident memory (VmRSS) once serving. Synthetic data only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from biometric_exchange.loadtest import LoadConfig, run_load
from biometric_exchange.workspace import start_node_process, stop_process, wait_serving


def _start(node_dir: Path, log: Path) -> tuple[float, float]:
    started = time.perf_counter()
    process = start_node_process(node_dir, log)
    try:
        wait_serving(node_dir, process, timeout=900)
        elapsed = time.perf_counter() - started
        rss = 0.0
        for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
        return elapsed, rss
    finally:
        stop_process(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--watchlist", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--restarts", type=int, default=3)
    args = parser.parse_args()
    holder = args.workdir / "node_chile"
    if not (holder / "data").is_dir():
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
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
