"""Benchmark of the matching engine against FAISS and scikit-learn (``bx bench match``).

Every figure comes from one process and one data set: synthetic dlib-like
templates (``TemplateModel.latents`` and ``captures``), half of
the probes mated with a gallery entry. Engines run interleaved, repetition
by repetition, so that load from elsewhere on the machine hits them alike;
queries/s are medians over the repetitions and ratios compare medians from
the same run. Working memory is the rise of peak RSS during one search
(Linux ``clear_refs``), and tracemalloc's peak for the engine.

FAISS (faiss-cpu) is a benchmark-only extra: ``pip install -e '.[bench]'``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import secrets
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.exceptions import ExchangeError
from biometric_exchange.matching.compact import CompactGallery
from biometric_exchange.matching.gallery import DEFAULT_THRESHOLD, Gallery
from biometric_exchange.matching.snapshot import load_snapshot, save_snapshot
from biometric_exchange.synthetic.templates import TemplateModel

Floats = NDArray[np.float32]
Progress = Callable[[str], None]

FULL_SIZES = (100_000, 1_000_000)
QUICK_SIZES = (100_000,)
PROBE_COUNTS = (1, 100, 1000)
SINGLE_PROBE_CALLS = 20
"""Q = 1: a repetition is this many one-probe calls, each with its own probe."""
_CHUNK = 100_000
_MIB = 1 << 20
_BLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")


class BenchUnavailable(ExchangeError):
    """A library the benchmark compares against is not installed."""


@dataclass(frozen=True)
class Settings:
    sizes: tuple[int, ...] = FULL_SIZES
    probe_counts: tuple[int, ...] = PROBE_COUNTS
    k: int = 10
    repeats: int = 3
    seed: int = 2024
    threshold: float = DEFAULT_THRESHOLD
    settle_s: float = 0.3
    """Pause before each timed call, so that the previous contender's BLAS and
    OpenMP threads stop busy-waiting (for up to about 0.1 s) first."""


@dataclass
class Row:
    """Figures for one gallery size N and probe count Q."""

    gallery: int
    probes: int
    engine_qps: float
    engine_threshold_qps: float
    faiss_qps: float
    sklearn_qps: float
    stream_qps: float
    """Q = 1 only: gallery-sized reads/s (BLAS sdot of the float32 matrix's two halves),
    the memory-bandwidth ceiling of a one-probe search; nan otherwise."""
    engine_vs_faiss: float
    engine_vs_sklearn: float
    ids_equal_faiss: float
    ids_equal_sklearn: float
    engine_work_mib: float
    engine_traced_mib: float
    faiss_work_mib: float
    times_s: dict[str, list[float]] = field(default_factory=dict)


@dataclass
class CompactRow:
    gallery: int
    memory_ratio: float
    threshold_hits_equal: bool
    topk_equal: bool
    threshold_qps: float
    exact_threshold_qps: float


@dataclass
class SnapshotRow:
    gallery: int
    bytes: int
    save_s: float
    load_s: float
    load_times_s: list[float]
    round_trip_equal: bool


@dataclass
class Report:
    environment: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    compact: list[CompactRow] = field(default_factory=list)
    snapshot: SnapshotRow | None = None


def run(settings: Settings, progress: Progress = print) -> Report:
    """Run every measurement; BenchUnavailable if FAISS or scikit-learn is missing."""
    faiss = _require("faiss", "faiss-cpu")
    neighbors = _require("sklearn.neighbors", "scikit-learn")
    report = Report(environment=environment(faiss))
    rng = np.random.default_rng(settings.seed)
    model = TemplateModel()
    for size in settings.sizes:
        progress(f"N={size}: generating templates")
        latents, gallery_rows = _gallery_data(model, size, rng)
        ids = [f"g{i:08d}" for i in range(size)]
        engine = Gallery()
        engine.add(ids, gallery_rows)
        index = faiss.IndexFlatL2(model.dim)
        index.add(gallery_rows)
        brute = neighbors.NearestNeighbors(n_neighbors=settings.k, algorithm="brute")
        brute.fit(gallery_rows)
        contenders = _Contenders(gallery_rows, engine, index, brute)
        for count in settings.probe_counts:
            progress(f"N={size} Q={count}: timing engine, FAISS, scikit-learn")
            probes = _probes(model, latents, count if count > 1 else SINGLE_PROBE_CALLS, rng)
            report.rows.append(_compare(settings, contenders, probes, one_at_a_time=count == 1))
        del contenders, index, brute
        progress(f"N={size}: compact mode")
        probes = _probes(model, latents, max(settings.probe_counts), rng)
        report.compact.append(_compact(settings, engine, ids, gallery_rows, probes))
        if size == max(settings.sizes):
            progress(f"N={size}: snapshot save and load")
            report.snapshot = _snapshot(engine, settings.repeats)
        report.environment["loadavg_end"] = os.getloadavg()
    return report


def environment(faiss: Any = None) -> dict[str, Any]:
    """Versions, BLAS libraries (threadpoolctl) and BLAS-related environment variables."""
    info: list[dict[str, Any]] = []
    try:
        threadpoolctl = importlib.import_module("threadpoolctl")
        info = [
            {
                key: lib.get(key)
                for key in ("user_api", "internal_api", "version", "architecture", "num_threads")
            }
            | {"library": Path(str(lib.get("filepath"))).name}
            for lib in threadpoolctl.threadpool_info()
        ]
    except ImportError:
        info = [{"error": "threadpoolctl not installed"}]
    sklearn = importlib.import_module("sklearn")
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "faiss": getattr(faiss, "__version__", None),
        "sklearn": sklearn.__version__,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "blas": info,
        "env": {name: os.environ.get(name, "unset") for name in _BLAS_ENV},
        "loadavg_start": os.getloadavg(),
    }


@dataclass(frozen=True)
class _Contenders:
    matrix: Floats
    engine: Gallery
    faiss_index: Any
    sklearn_brute: Any


def _compare(
    settings: Settings, contenders: _Contenders, probes: Floats, *, one_at_a_time: bool
) -> Row:
    """Time each contender; ``one_at_a_time``: Q = 1, one call per probe."""
    k = settings.k
    engine, index, brute = contenders.engine, contenders.faiss_index, contenders.sklearn_brute
    runners: dict[str, Callable[[Floats], object]] = {
        "engine": lambda p: engine.search(p, k=k),
        "engine_threshold": lambda p: engine.search(p, k=k, threshold=settings.threshold),
        "faiss": lambda p: index.search(p, k),
        "sklearn": lambda p: brute.kneighbors(p, n_neighbors=k),
    }
    if one_at_a_time:
        flat = contenders.matrix.reshape(-1)
        half = flat.size // 2
        runners["stream"] = lambda _: np.dot(flat[:half], flat[half : 2 * half])
    batches = [probes[i : i + 1] for i in range(probes.shape[0])] if one_at_a_time else [probes]
    times: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(settings.repeats):
        for name, runner in runners.items():
            time.sleep(settings.settle_s)
            start = time.perf_counter()
            for batch in batches:
                runner(batch)
            times[name].append(time.perf_counter() - start)
    qps = {name: probes.shape[0] / statistics.median(values) for name, values in times.items()}
    work = {name: _peak_rss_rise(runners[name], batches[0]) for name in ("engine", "faiss")}
    mine = engine.search(probes, k=k).ids
    theirs = _named(index.search(probes, k)[1])
    sk_theirs = _named(brute.kneighbors(probes, n_neighbors=k, return_distance=False))
    return Row(
        gallery=len(engine),
        probes=1 if one_at_a_time else probes.shape[0],
        engine_qps=qps["engine"],
        engine_threshold_qps=qps["engine_threshold"],
        faiss_qps=qps["faiss"],
        sklearn_qps=qps["sklearn"],
        stream_qps=qps.get("stream", float("nan")),
        engine_vs_faiss=qps["engine"] / qps["faiss"],
        engine_vs_sklearn=qps["engine"] / qps["sklearn"],
        ids_equal_faiss=float(np.mean(mine == theirs)),
        ids_equal_sklearn=float(np.mean(mine == sk_theirs)),
        engine_work_mib=work["engine"],
        engine_traced_mib=_traced_peak(runners["engine"], batches[0]),
        faiss_work_mib=work["faiss"],
        times_s=times,
    )


def _named(rows: NDArray[np.int64]) -> NDArray[np.str_]:
    return np.array([[f"g{i:08d}" for i in line] for line in rows.tolist()])


def _compact(
    settings: Settings, engine: Gallery, ids: list[str], rows: Floats, probes: Floats
) -> CompactRow:
    count = probes.shape[0]
    with tempfile.TemporaryDirectory() as folder, CompactGallery(directory=Path(folder)) as compact:
        compact.add(ids, rows)
        ratio = compact.nbytes / (rows.shape[0] * rows.shape[1] * 4)
        times: dict[str, list[float]] = {"compact": [], "exact": []}
        for _ in range(settings.repeats):
            for name, gallery in (("compact", compact), ("exact", engine)):
                time.sleep(settings.settle_s)
                start = time.perf_counter()
                got = gallery.search(probes, k=settings.k, threshold=settings.threshold)
                times[name].append(time.perf_counter() - start)
                if name == "compact":
                    hits = got
        want = engine.search(probes, k=settings.k, threshold=settings.threshold)
        few = probes[: min(count, 100)]
        top_equal = _same(compact.search(few, k=settings.k), engine.search(few, k=settings.k))
    return CompactRow(
        gallery=rows.shape[0],
        memory_ratio=ratio,
        threshold_hits_equal=_same(hits, want),
        topk_equal=top_equal,
        threshold_qps=count / statistics.median(times["compact"]),
        exact_threshold_qps=count / statistics.median(times["exact"]),
    )


def _snapshot(engine: Gallery, repeats: int) -> SnapshotRow:
    key = secrets.token_bytes(32)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "gallery.snap"
        start = time.perf_counter()
        save_snapshot(path, engine, key)
        saved = time.perf_counter() - start
        loads: list[float] = []
        loaded = engine
        for _ in range(repeats):
            start = time.perf_counter()
            loaded = load_snapshot(path, key)
            loads.append(time.perf_counter() - start)
        size = path.stat().st_size
    want_ids, want_rows = engine.export()
    got_ids, got_rows = loaded.export()
    return SnapshotRow(
        gallery=len(engine),
        bytes=size,
        save_s=saved,
        load_s=statistics.median(loads),
        load_times_s=loads,
        round_trip_equal=got_ids == want_ids and bool(np.array_equal(got_rows, want_rows)),
    )


def format_report(report: Report) -> str:
    """The report as a plain-text table."""
    lines = [
        f"{'N':>9} {'Q':>5} {'engine':>9} {'thr 0.6':>9} {'FAISS':>9} {'sklearn':>9} "
        f"{'xFAISS':>7} {'xsklearn':>8} {'=FAISS':>7} {'work MiB':>9} {'FAISS MiB':>9}",
    ]
    for row in report.rows:
        lines.append(
            f"{row.gallery:>9} {row.probes:>5} {row.engine_qps:>9.1f} "
            f"{row.engine_threshold_qps:>9.1f} {row.faiss_qps:>9.1f} {row.sklearn_qps:>9.1f} "
            f"{row.engine_vs_faiss:>7.2f} {row.engine_vs_sklearn:>8.2f} "
            f"{row.ids_equal_faiss:>7.4f} {row.engine_work_mib:>9.1f} {row.faiss_work_mib:>9.1f}"
        )
    lines.append("(queries/s, median of repetitions; work MiB = peak RSS rise during one search)")
    for row in report.rows:
        if row.probes == 1:
            lines.append(
                f"N={row.gallery} Q=1: memory-bandwidth ceiling {row.stream_qps:.1f} reads/s, "
                f"engine at {row.engine_qps / row.stream_qps:.0%} of it"
            )
    for item in report.compact:
        lines.append(
            f"compact N={item.gallery}: memory {item.memory_ratio:.3f}x float32, "
            f"hits under threshold equal exact: {item.threshold_hits_equal}, "
            f"top-k equal: {item.topk_equal}, {item.threshold_qps:.1f} q/s "
            f"(exact {item.exact_threshold_qps:.1f} q/s, threshold mode)"
        )
    if report.snapshot is not None:
        snap = report.snapshot
        lines.append(
            f"snapshot N={snap.gallery}: {snap.bytes / _MIB:.1f} MiB, save {snap.save_s:.2f} s, "
            f"load {snap.load_s:.2f} s (median), round trip equal: {snap.round_trip_equal}"
        )
    env = report.environment
    lines.append(f"numpy {env['numpy']}, faiss {env['faiss']}, scikit-learn {env['sklearn']}")
    for lib in env["blas"]:
        lines.append(f"  {lib}")
    lines.append(f"  env: {env['env']}  load: {env['loadavg_start']} -> {env.get('loadavg_end')}")
    return "\n".join(lines)


def to_json(report: Report) -> str:
    return json.dumps(asdict(report), indent=2)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line of ``benchmarks/match.py``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="N = 100k only")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--repeats", type=int, default=3, help="repetitions (>= 3)")
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args(argv)
    settings = settings_for(quick=args.quick, repeats=args.repeats, seed=args.seed)
    try:
        report = run(settings)
    except BenchUnavailable as exc:
        print(exc)
        return 2
    print(format_report(report))
    if args.json is not None:
        args.json.write_text(to_json(report))
    return 0


def settings_for(*, quick: bool, repeats: int = 3, seed: int = 2024) -> Settings:
    return Settings(sizes=QUICK_SIZES if quick else FULL_SIZES, repeats=max(3, repeats), seed=seed)


def blas_warning() -> str | None:
    """A hint when OPENBLAS_CORETYPE or OPENBLAS_L2_SIZE is set (they slow numpy)."""
    set_here = [name for name in _BLAS_ENV[:2] if name in os.environ]
    if not set_here:
        return None
    return (
        f"note: {' and '.join(set_here)} set; to measure current numpy, run this command "
        "under `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE`"
    )


# -- data --------------------------------------------------------------------


def _gallery_data(
    model: TemplateModel, size: int, rng: np.random.Generator
) -> tuple[Floats, Floats]:
    latents = np.empty((size, model.dim), dtype=np.float32)
    rows = np.empty((size, model.dim), dtype=np.float32)
    for start in range(0, size, _CHUNK):
        stop = min(size, start + _CHUNK)
        latents[start:stop] = model.latents(rng, stop - start)
        rows[start:stop] = model.captures(latents[start:stop], rng)
    return latents, rows


def _probes(model: TemplateModel, latents: Floats, count: int, rng: np.random.Generator) -> Floats:
    """``count`` probes: the first half mated with gallery entries, the rest not enrolled."""
    mated = latents[rng.integers(0, latents.shape[0], (count + 1) // 2)]
    return model.captures(np.vstack([mated, model.latents(rng, count // 2)]), rng)


def _same(got: Any, want: Any) -> bool:
    return bool(got.ids.tolist() == want.ids.tolist()) and bool(
        np.array_equal(got.distances, want.distances)
    )


# -- memory ------------------------------------------------------------------


def _peak_rss_rise(action: Callable[[Floats], object], probes: Floats) -> float:
    """MiB by which the peak RSS rises during ``action(probes)`` (nan where Linux cannot tell)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        before = _status_kib("VmRSS")
        action(probes)
        return (_status_kib("VmHWM") - before) / 1024
    except OSError:
        return float("nan")


def _status_kib(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise OSError(f"{key} not in /proc/self/status")


def _traced_peak(action: Callable[[Floats], object], probes: Floats) -> float:
    """MiB of peak Python/numpy allocations during ``action(probes)`` (tracemalloc)."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        action(probes)
        return (tracemalloc.get_traced_memory()[1] - base) / _MIB
    finally:
        tracemalloc.stop()


def _require(module: str, package: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise BenchUnavailable(
            f"{package} is not installed; it is a benchmark-only extra: pip install -e '.[bench]'"
        ) from exc
