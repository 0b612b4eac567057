"""Start-up time of ``bx --help``, next to a bare ``python -c pass`` measured in the same run.

    .venv/bin/python benchmarks/cli_startup.py [--runs 15] [--limit 0.3] [-- ARGS...]

Each round runs both commands once (interleaved, so load on the machine hits both alike).
Prints median/min/max of each and the ratio of the medians; exits 1 when the median of
``bx`` exceeds ``--limit`` seconds. ARGS replace ``--help`` (e.g. ``-- alerts --help``).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path


def _seconds(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def _line(label: str, times: list[float]) -> str:
    return (
        f"{label:<24} median {statistics.median(times):.3f} s   "
        f"min {min(times):.3f} s   max {max(times):.3f} s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="rounds (default 15)")
    parser.add_argument("--limit", type=float, default=0.3, help="median limit in seconds")
    parser.add_argument(
        "--bx",
        default=str(Path(sys.executable).with_name("bx")),
        help="the bx executable (default: next to this Python)",
    )
    parser.add_argument("args", nargs="*", default=["--help"], help="bx's arguments")
    options = parser.parse_args(argv)

    bx_command = [options.bx, *options.args]
    baseline_command = [sys.executable, "-c", "pass"]
    _seconds(bx_command)  # warm the file cache and byte-code before measuring
    bx_times: list[float] = []
    baseline_times: list[float] = []
    for _ in range(options.runs):
        bx_times.append(_seconds(bx_command))
        baseline_times.append(_seconds(baseline_command))

    median = statistics.median(bx_times)
    ratio = median / statistics.median(baseline_times)
    print(f"{options.runs} runs each")
    print(_line("bx " + " ".join(options.args), bx_times))
    print(_line("python -c pass", baseline_times))
    print(f"ratio (medians)          {ratio:.1f}x")
    if median > options.limit:
        print(f"FAIL: median {median:.3f} s exceeds {options.limit:.3f} s", file=sys.stderr)
        return 1
    print(f"OK: median within {options.limit:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
