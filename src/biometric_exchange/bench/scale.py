"""Float and int8 search side by side with their FAISS peers (``bx bench match --sizes``).

For each gallery size, one data set (``bench.matching``'s synthetic templates,
half the probes mated) and, per mode, the engine and its FAISS peer: float
``Gallery`` vs ``IndexFlatL2``, int8 ``CompactGallery`` vs
``IndexScalarQuantizer(QT_8bit)``. Contenders run interleaved repetition by
repetition (load from elsewhere hits them alike); figures are medians of the
repetitions. Q = 1 is that many one-probe calls, each with its own probe. The
memory-read ceiling of Q = 1 is measured in the same run: BLAS ``sdot`` over
the bytes a one-probe search must read (the float32 rows; the int8 codes).
``identical`` compares the int8 engine with the float engine on ``check``
probes (hits under the threshold and top-k): ids and distances.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.bench.matching import (
    BenchUnavailable,
    Progress,
    _probes,
    _require,
)
from biometric_exchange.bench.opening import Opening, measure_opening
from biometric_exchange.matching import CompactGallery, Gallery, SearchResult
from biometric_exchange.matching.gallery import DEFAULT_THRESHOLD
from biometric_exchange.matching.quantized import kernel_name
from biometric_exchange.synthetic.templates import TemplateModel

Floats = NDArray[np.float32]
MODES = ("float", "int8")
_MIB = 1 << 20

__all__ = ["BenchUnavailable", "ScaleReport", "ScaleSettings", "format_scale", "run_scale"]


@dataclass(frozen=True)
class ScaleSettings:
    sizes: tuple[int, ...] = (1_000_000,)
    modes: tuple[str, ...] = MODES
    probe_counts: tuple[int, ...] = (1, 100, 1000)
    k: int = 10
    repeats: int = 3
    seed: int = 2024
    threshold: float = DEFAULT_THRESHOLD
    check: int = 10_000
    """Probes of the int8-vs-float equality check (0: none)."""
    opening: bool = True
    """int8: also save a sealed snapshot and open it in fresh processes (``opening``)."""
    single_reads: float = 2e8
    """Q = 1 makes about this many row reads per repetition (20 to 200 calls)."""
    settle_s: float = 0.3


@dataclass
class ScaleRow:
    gallery: int
    probes: int
    qps: dict[str, float]
    ceiling_qps: dict[str, float] = field(default_factory=dict)
    times_s: dict[str, list[float]] = field(default_factory=dict)


@dataclass
class ScaleReport:
    kernel: str
    rows: list[ScaleRow] = field(default_factory=list)
    memory_mib: dict[int, dict[str, float]] = field(default_factory=dict)
    identical: dict[int, bool] = field(default_factory=dict)
    check_probes: int = 0
    check_hits: dict[int, int] = field(default_factory=dict)
    loadavg: list[tuple[float, float, float]] = field(default_factory=list)
    openings: list[Opening] = field(default_factory=list)


def run_scale(settings: ScaleSettings, progress: Progress = print) -> ScaleReport:
    """Every size and mode; BenchUnavailable if FAISS is missing."""
    faiss = _require("faiss", "faiss-cpu")
    report = ScaleReport(kernel=kernel_name(), check_probes=settings.check)
    report.loadavg.append(os.getloadavg())
    rng = np.random.default_rng(settings.seed)
    model = TemplateModel()
    for size in settings.sizes:
        progress(f"N={size}: generating templates")
        rows, latents = _data(model, size, rng)
        ids = [f"g{i:08d}" for i in range(size)]
        with tempfile.TemporaryDirectory() as folder:
            contenders, memory = _contenders(
                settings, faiss, ids=ids, rows=rows, folder=Path(folder), progress=progress
            )
            report.memory_mib[size] = memory
            ceilings = _ceilings(rows, settings.modes)
            for count in settings.probe_counts:
                calls = _single_calls(settings, size) if count == 1 else count
                probes = _probes(model, latents, calls, rng)
                progress(f"N={size} Q={count}: timing {', '.join(contenders)}")
                report.rows.append(
                    _time(settings, contenders, ceilings if count == 1 else {}, probes, count)
                )
            if settings.check and {"float", "int8"} <= set(settings.modes):
                progress(f"N={size}: int8 against float on {settings.check} probes")
                probes = _probes(model, latents, settings.check, rng)
                same, hits = _identical(settings, contenders, probes)
                report.identical[size], report.check_hits[size] = same, hits
            if settings.opening and "int8" in contenders:
                progress(f"N={size}: sealed snapshot, opened in fresh processes")
                probes = _probes(model, latents, 50, rng)
                report.openings.append(
                    measure_opening(contenders["int8"].target, Path(folder), probes)
                )
            for closing in contenders.values():
                close = getattr(closing.target, "close", None)
                if callable(close):
                    close()
            del contenders
        report.loadavg.append(os.getloadavg())
    return report


@dataclass(frozen=True)
class _Contender:
    target: Any
    search: Callable[[Floats, int], object]


def _contenders(
    settings: ScaleSettings,
    faiss: Any,
    *,
    ids: list[str],
    rows: Floats,
    folder: Path,
    progress: Progress,
) -> tuple[dict[str, _Contender], dict[str, float]]:
    dim = rows.shape[1]
    found: dict[str, _Contender] = {}
    memory: dict[str, float] = {}
    if "float" in settings.modes:
        progress("  float: engine and FAISS IndexFlatL2")
        engine = Gallery(dim)
        engine.add(ids, rows)
        flat = faiss.IndexFlatL2(dim)
        flat.add(rows)
        found["float"] = _Contender(engine, lambda p, k: engine.search(p, k=k))
        found["faiss-flat"] = _Contender(flat, flat.search)
        memory["float"] = engine.nbytes / _MIB
        memory["faiss-flat"] = flat.ntotal * dim * 4 / _MIB
    if "int8" in settings.modes:
        progress("  int8: engine and FAISS IndexScalarQuantizer QT_8bit")
        compact = CompactGallery(dim, directory=folder)
        compact.add(ids, rows)
        sq = faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_L2)
        sq.train(rows[: min(len(rows), 100_000)])
        sq.add(rows)
        found["int8"] = _Contender(compact, lambda p, k: compact.search(p, k=k))
        found["faiss-sq8"] = _Contender(sq, sq.search)
        memory["int8"] = compact.nbytes / _MIB
        memory["faiss-sq8"] = sq.ntotal * sq.sa_code_size() / _MIB
    return found, memory


MATED_POOL = 200_000
"""Latents kept for mated probes (the rows they were captured from come first)."""


def _data(model: TemplateModel, size: int, rng: np.random.Generator) -> tuple[Floats, Floats]:
    """(size, dim) captures made chunk by chunk, and the latents of the first
    ``MATED_POOL`` of them (at 10M, all the latents would be 5 GB more)."""
    rows = np.empty((size, model.dim), dtype=np.float32)
    kept = np.empty((min(size, MATED_POOL), model.dim), dtype=np.float32)
    for start in range(0, size, 100_000):
        stop = min(size, start + 100_000)
        latents = model.latents(rng, stop - start)
        rows[start:stop] = model.captures(latents, rng)
        if start < len(kept):
            kept[start : min(stop, len(kept))] = latents[: len(kept) - start]
    return rows, kept


def _ceilings(rows: Floats, modes: tuple[str, ...]) -> dict[str, Callable[[], object]]:
    """Reads of what a one-probe search must stream: float32 rows, int8 codes."""
    found: dict[str, Callable[[], object]] = {}
    if "float" in modes:
        flat = rows.reshape(-1)
        half = flat.size // 2
        found["read-float"] = lambda: np.dot(flat[:half], flat[half : 2 * half])
    if "int8" in modes:
        codes = rows.reshape(-1)[: rows.size // 4]  # as many bytes as the int8 codes
        quarter = codes.size // 2
        found["read-int8"] = lambda: np.dot(codes[:quarter], codes[quarter : 2 * quarter])
    return found


def _single_calls(settings: ScaleSettings, size: int) -> int:
    return int(min(200, max(20, settings.single_reads // size)))


def _time(
    settings: ScaleSettings,
    contenders: dict[str, _Contender],
    ceilings: dict[str, Callable[[], object]],
    probes: Floats,
    count: int,
) -> ScaleRow:
    batches = [probes[i : i + 1] for i in range(len(probes))] if count == 1 else [probes]
    times: dict[str, list[float]] = {name: [] for name in [*contenders, *ceilings]}
    for _ in range(settings.repeats):
        for name, contender in contenders.items():
            time.sleep(settings.settle_s)
            start = time.perf_counter()
            for batch in batches:
                contender.search(batch, settings.k)
            times[name].append(time.perf_counter() - start)
        for name, read in ceilings.items():
            time.sleep(settings.settle_s)
            start = time.perf_counter()
            read()
            times[name].append(time.perf_counter() - start)
    qps = {name: len(probes) / statistics.median(times[name]) for name in contenders}
    ceiling = {name: 1.0 / statistics.median(times[name]) for name in ceilings}
    return ScaleRow(
        len(contenders["int8" if "int8" in contenders else "float"].target),
        count,
        qps,
        ceiling,
        times,
    )


def _identical(
    settings: ScaleSettings, contenders: dict[str, _Contender], probes: Floats
) -> tuple[bool, int]:
    exact: Gallery = contenders["float"].target
    compact: Gallery = contenders["int8"].target
    same = True
    hits = 0
    for k, threshold in ((3, settings.threshold), (settings.k, None)):
        want = exact.search(probes, k=k, threshold=threshold)
        got = compact.search(probes, k=k, threshold=threshold)
        same = same and _same(got, want)
        if threshold is not None:
            hits = int(np.count_nonzero(want.ids[:, 0] != ""))
    for probe in probes[:: max(1, len(probes) // 200)]:  # the one-probe path too
        want = exact.search(probe, k=3, threshold=settings.threshold)
        same = same and _same(compact.search(probe, k=3, threshold=settings.threshold), want)
    return same, hits


def _same(got: SearchResult, want: SearchResult) -> bool:
    return bool(got.ids.tolist() == want.ids.tolist()) and bool(
        np.array_equal(got.distances, want.distances)
    )


def format_scale(report: ScaleReport) -> str:
    """Side by side: queries/s per size and Q, ceilings, memory, the equality check."""
    names = [
        n
        for n in ("float", "faiss-flat", "int8", "faiss-sq8")
        if report.rows and n in report.rows[0].qps
    ]
    lines = [
        f"{'N':>9} {'Q':>5} "
        + " ".join(f"{n:>11}" for n in names)
        + (
            "   int8/FAISS-flat  int8/FAISS-SQ8"
            if {"int8", "faiss-flat", "faiss-sq8"} <= set(names)
            else ""
        ),
    ]
    for row in report.rows:
        line = f"{row.gallery:>9} {row.probes:>5} " + " ".join(
            f"{row.qps[n]:>11.1f}" for n in names
        )
        if {"int8", "faiss-flat", "faiss-sq8"} <= set(names):
            line += (
                f"   {row.qps['int8'] / row.qps['faiss-flat']:>15.2f}"
                f"  {row.qps['int8'] / row.qps['faiss-sq8']:>14.2f}"
            )
        lines.append(line)
    lines.append(f"(queries/s, median of repetitions, k = 10; int8 kernel: {report.kernel})")
    for row in report.rows:
        for name, ceiling in row.ceiling_qps.items():
            mode = name.removeprefix("read-")
            if mode in row.qps:
                lines.append(
                    f"N={row.gallery} Q=1 {mode}: memory-read ceiling {ceiling:.1f} reads/s of "
                    f"its rows; engine at {row.qps[mode] / ceiling:.0%} of it"
                )
    for size, memory in report.memory_mib.items():
        lines.append(
            f"N={size} memory (MiB): " + ", ".join(f"{n} {v:,.0f}" for n, v in memory.items())
        )
    for size, same in report.identical.items():
        lines.append(
            f"N={size} int8 vs exact float on {report.check_probes} probes "
            f"({report.check_hits[size]} with a hit under the threshold; top-k and hits): "
            f"identical: {'yes' if same else 'no'}"
        )
    for item in report.openings:
        lines.append(
            f"N={item.gallery} snapshot {item.snapshot_mib:,.0f} MiB sealed "
            f"(save {item.save_s:.1f} s); "
            f"opened in a fresh process in {item.open_s:.1f} s, resident {item.resident_mib:,.0f} "
            f"MiB after {item.single_qps:.0f} one-probe searches/s; shared image: first "
            f"{item.shared_first_s:.1f} s, next process {item.shared_again_s:.1f} s"
        )
    lines.append("load average: " + " -> ".join(f"{a[0]:.2f}" for a in report.loadavg))
    return "\n".join(lines)
