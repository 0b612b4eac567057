"""The gallery search alone, timed on the run's watchlist in a fresh process."""

from __future__ import annotations

import itertools
import multiprocessing
import shutil
import statistics
import threading
import time
from pathlib import Path

import numpy as np

from biometric_exchange.config import MatchingSection
from biometric_exchange.loadtest.config import (
    MAX_CANDIDATES,
    SERVER_WORKERS,
    THRESHOLD,
    LoadConfig,
    temporary_environment,
)
from biometric_exchange.loadtest.data import GeneratedData, Matrix, watchlist_ids
from biometric_exchange.loadtest.results import MatchingStats
from biometric_exchange.matching import CompactGallery, Gallery


def time_matching(
    templates: Matrix,
    probes: Matrix,
    *,
    per_search: int,
    repeats: int,
    threads: int,
    compact: bool = False,
) -> MatchingStats:
    """The holder's search (exact top-k under the threshold), alone: one at a time,
    then ``threads`` at once as the server's workers would run them. ``compact``:
    on int8 codes, as the holder searches a watchlist of ``compact_from`` entries."""
    gallery = CompactGallery() if compact else Gallery()
    gallery.add(watchlist_ids(len(templates)), templates)
    span = max(1, len(probes) - per_search + 1)
    batches = [probes[(i * per_search) % span :][:per_search] for i in range(repeats)]
    gallery.search(batches[0], k=MAX_CANDIDATES, threshold=THRESHOLD)  # warm-up
    serial = []
    for batch in batches:
        started = time.perf_counter()
        gallery.search(batch, k=MAX_CANDIDATES, threshold=THRESHOLD)
        serial.append(time.perf_counter() - started)
    numbers = itertools.count()
    lock = threading.Lock()
    total = repeats * threads

    def worker() -> None:
        while True:
            with lock:
                number = next(numbers)
            if number >= total:
                return
            gallery.search(batches[number % repeats], k=MAX_CANDIDATES, threshold=THRESHOLD)

    workers = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    started = time.perf_counter()
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    concurrent = time.perf_counter() - started
    return MatchingStats(
        probes=per_search,
        serial_p50_ms=1000.0 * statistics.median(serial),
        concurrent_threads=threads,
        concurrent_cost_ms=1000.0 * concurrent / total,
    )


def _matching_job(
    folder: str, batch_size: int, repeats: int, with_batch: bool, compact: bool
) -> tuple[MatchingStats, MatchingStats | None]:
    """In a fresh process: the searches alone on the arrays saved in ``folder``."""
    base = Path(folder)
    templates = np.load(base / "watchlist.npy")
    single = time_matching(
        templates,
        np.load(base / "single.npy"),
        per_search=1,
        repeats=max(repeats, 50),
        threads=SERVER_WORKERS,
        compact=compact,
    )
    if not with_batch:
        return single, None
    batch = time_matching(
        templates,
        np.load(base / "batch.npy"),
        per_search=batch_size,
        repeats=repeats,
        threads=SERVER_WORKERS,
        compact=compact,
    )
    return single, batch


def matching_alone(
    config: LoadConfig, workdir: Path, data: GeneratedData, *, with_batch: bool
) -> tuple[MatchingStats, MatchingStats | None]:
    """Time the searches in a spawned process with the holder's BLAS environment."""
    folder = workdir / "matching"
    folder.mkdir(exist_ok=True)
    np.save(folder / "watchlist.npy", data.watchlist.templates)
    np.save(folder / "single.npy", data.single_probes)
    np.save(folder / "batch.npy", data.batch_probes)
    threshold = config.compact_from
    if threshold is None:
        threshold = MatchingSection().compact_from
    compact = config.watchlist >= threshold
    context = multiprocessing.get_context("spawn")
    try:
        with temporary_environment(config.holder_environment()), context.Pool(1) as pool:
            return pool.apply(
                _matching_job,
                (str(folder), config.batch_size, config.matching_repeats, with_batch, compact),
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
