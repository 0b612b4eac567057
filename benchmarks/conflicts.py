"""Wall time of the exchange worker over one synthetic traveller met N times under N/10
identities (one face): the IDENTITY_CONFLICT load, with the partner answering step 1
in-process through its real handlers.

    .venv/bin/python benchmarks/conflicts.py [--sizes 200 1000] [--rounds 3] [--limit 10]

Each round opens a fresh Chile-Panama pair, enrols the encounters at Panama and times
the worker until the outbox is empty. Prints per size the median wall and CPU time,
the time per encounter, the alerts and evidence rows it left, and the ratio of the
largest size's median to the smallest's next to the ratio of the sizes (linear work
per encounter gives a time ratio near the size ratio; the vector search itself grows
with the gallery). Exits 1 when the largest size's median exceeds ``--limit`` seconds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from biometric_exchange.domain import AlertKind
from biometric_exchange.node.enrolment import enrol_many
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.send.worker import ExchangeWorker
from biometric_exchange.node.serve import PartnerHandlers
from biometric_exchange.node.serve.local import InMemoryPeerTransport
from biometric_exchange.node.services import Services
from biometric_exchange.synthetic.aliases import one_face_many_identities
from biometric_exchange.workspace import create_pair

ENCOUNTERS_PER_IDENTITY = 10


@dataclass(frozen=True)
class Round:
    wall: float
    cpu: float
    conflict_alerts: int
    evidence_rows: int
    overflowed: int


def one_round(encounters: int, seed: int) -> Round:
    with tempfile.TemporaryDirectory() as folder:
        chl_dir, pan_dir = create_pair(Path(folder))
        chl, pan = Node.open(chl_dir), Node.open(pan_dir)
        try:
            start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=2)
            traveller = one_face_many_identities(
                "PAN",
                encounters=encounters,
                identities=max(1, encounters // ENCOUNTERS_PER_IDENTITY),
                seed=seed,
                start=start,
                threshold=pan.config.matching.threshold,
            )
            enrol_many(pan, traveller)
            transport = InMemoryPeerTransport(PartnerHandlers(chl.link("PAN"), Services.of(chl)))
            worker = ExchangeWorker(pan, Services.of(pan), {"CHL": transport})
            started, started_cpu = time.perf_counter(), time.thread_time()
            while worker.run_once():
                pass
            wall, cpu = time.perf_counter() - started, time.thread_time() - started_cpu
            conflicts = pan.alerts.list(kind=AlertKind.IDENTITY_CONFLICT)
            return Round(
                wall,
                cpu,
                len(conflicts),
                sum(pan.alerts.evidence_count(a.alert_id) for a in conflicts),
                sum(a.evidence_overflow.items for a in conflicts if a.evidence_overflow),
            )
        finally:
            pan.close()
            chl.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 1000], help="encounters")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per size")
    parser.add_argument("--limit", type=float, default=10.0, help="seconds for the largest")
    parser.add_argument("--seed", type=int, default=129)
    args = parser.parse_args(argv)
    medians: dict[int, float] = {}
    for size in sorted(args.sizes):
        rounds = [one_round(size, args.seed + n) for n in range(args.rounds)]
        wall = statistics.median(r.wall for r in rounds)
        cpu = statistics.median(r.cpu for r in rounds)
        medians[size] = wall
        last = rounds[-1]
        print(
            f"{size:>6} encounters, {max(1, size // ENCOUNTERS_PER_IDENTITY):>4} identities: "
            f"median {wall:.2f} s wall, {cpu:.2f} s CPU, {wall / size * 1e3:.2f} ms/encounter; "
            f"IDENTITY_CONFLICT alerts {last.conflict_alerts}, evidence rows "
            f"{last.evidence_rows}, counted beyond the cap {last.overflowed}"
        )
    smallest, largest = min(medians), max(medians)
    if largest != smallest:
        ratio = medians[largest] / medians[smallest]
        print(
            f"growth {smallest} -> {largest} encounters: time x{ratio:.1f} "
            f"for size x{largest / smallest:.1f}"
        )
    if medians[largest] > args.limit:
        print(f"over the limit: {medians[largest]:.2f} s > {args.limit:.2f} s")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
