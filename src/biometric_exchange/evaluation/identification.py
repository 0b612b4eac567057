"""Open-set 1:N identification: FPIR, FNIR, CMC and thresholds per gallery size.

Sizes up to ``max_searched`` (1M by default) are searched for real; the
galleries are nested (each larger one extends the previous) and one fixed set
of non-mated probes (people never enrolled) searches every size, so FPIR vs N
is measured on the same probes. Mated probes are fresh captures of enrolled
people. Every size is also modelled from the fitted impostor tail (see
``extrapolation``); the report puts the model beside the search, with its
error, and uses the model alone only for sizes above ``max_searched``.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from biometric_exchange.evaluation.dataset import (
    SUBJECT_DIMENSIONS,
    Cohort,
    Design,
    Matrix,
    capture_quality,
    draw_cohort,
)
from biometric_exchange.evaluation.extrapolation import (
    ImpostorTail,
    modelled_cmc,
    modelled_fnir,
    modelled_fpir,
    modelled_threshold,
)
from biometric_exchange.evaluation.metrics import (
    FloatArray,
    IntArray,
    SortedScores,
    cmc,
    rank1_mate_distances,
)
from biometric_exchange.matching import PAD_ID, CompactGallery
from biometric_exchange.synthetic.templates import TemplateModel

SEARCH = "search"
MODEL = "model"
CHUNK_ROWS = 131_072
"""Gallery rows drawn and searched at a time (67 MB of float32: bounds memory)."""


@dataclass(frozen=True)
class IdentificationSettings:
    sizes: tuple[int, ...]
    max_searched: int
    mated_searches: int
    nonmated_searches: int
    max_rank: int
    target_fpir: float
    design: Design


class Rates(Protocol):
    """FPIR, FNIR, thresholds and CMC of one gallery size (measured or modelled)."""

    def fpir(self, thresholds: ArrayLike) -> FloatArray: ...
    def fnir(self, thresholds: ArrayLike) -> FloatArray: ...
    def threshold(self, fpir: float) -> float: ...
    def cmc(self, max_rank: int) -> FloatArray: ...


@dataclass(frozen=True, eq=False)
class Prediction:
    """What the fitted impostor tail and the genuine distances predict for ``size``."""

    tail: ImpostorTail
    genuine: SortedScores
    size: int

    @cached_property
    def genuine_fmr(self) -> FloatArray:
        """Modelled FMR at each genuine distance: how likely a non-mate beats that mate."""
        return self.tail.cdf(self.genuine.values)

    def fpir(self, thresholds: ArrayLike) -> FloatArray:
        return modelled_fpir(self.tail, self.size, thresholds)

    def fnir(self, thresholds: ArrayLike) -> FloatArray:
        return modelled_fnir(
            self.tail, self.genuine, self.size, thresholds, genuine_fmr=self.genuine_fmr
        )

    def threshold(self, fpir: float) -> float:
        return modelled_threshold(self.tail, self.size, fpir)

    def cmc(self, max_rank: int) -> FloatArray:
        return modelled_cmc(
            self.tail, self.genuine, self.size, max_rank, genuine_fmr=self.genuine_fmr
        )


@dataclass(frozen=True, eq=False)
class Measurement:
    """Real searches of one gallery; arrays in search order keep each search's subject."""

    nonmated_minima: FloatArray
    """Rank-1 distance of each non-mated search (the same probes for every size)."""
    mated_rank1: FloatArray
    """Rank-1 distance of each mated search whose rank 1 is the mate, else +inf."""
    ranks: IntArray
    """Rank of the mate in each mated search (0: not in the candidate list)."""
    mated_labels: dict[str, NDArray[np.str_]]
    """Per dimension, the label of each mated search."""
    seconds: float

    @cached_property
    def nonmated(self) -> SortedScores:
        return SortedScores.of(self.nonmated_minima)

    @cached_property
    def mated(self) -> SortedScores:
        return SortedScores.of(self.mated_rank1)

    def fpir(self, thresholds: ArrayLike) -> FloatArray:
        return self.nonmated.fraction_below(thresholds)

    def fnir(self, thresholds: ArrayLike) -> FloatArray:
        return self.mated.fraction_at_or_above(thresholds)

    def threshold(self, fpir: float) -> float:
        return self.nonmated.threshold_for_rate(fpir)

    def cmc(self, max_rank: int) -> FloatArray:
        return cmc(self.ranks, max_rank)


@dataclass(frozen=True, eq=False)
class GalleryOutcome:
    """One gallery size: the tail's prediction, and real searches when it was searched."""

    size: int
    prediction: Prediction
    measurement: Measurement | None = None

    @property
    def method(self) -> str:
        return MODEL if self.measurement is None else SEARCH

    @property
    def rates(self) -> Rates:
        """The measured rates when searched, else the modelled ones."""
        return self.prediction if self.measurement is None else self.measurement


@dataclass(frozen=True, eq=False)
class Identification:
    galleries: list[GalleryOutcome]
    nonmated_labels: dict[str, NDArray[np.str_]]
    """Per dimension, the label of each non-mated search."""
    peak_rss_mb: float
    """Peak resident memory of the process after the searches."""


def run_identification(
    rngs: tuple[np.random.Generator, np.random.Generator, np.random.Generator],
    model: TemplateModel,
    settings: IdentificationSettings,
    *,
    tail: ImpostorTail,
    genuine: SortedScores,
    progress: Callable[[str], None] = lambda _: None,
) -> Identification:
    """Search the nested galleries, model every size; ``rngs`` = (gallery, mated, non-mated)."""
    searched = [n for n in settings.sizes if n <= settings.max_searched]
    outcomes = {n: GalleryOutcome(n, Prediction(tail, genuine, n)) for n in settings.sizes}
    runner = _Searches(rngs, model, settings, searched)
    for n, measured in runner.run(progress).items():
        outcomes[n] = replace(outcomes[n], measurement=measured)
    return Identification(
        [outcomes[n] for n in settings.sizes], runner.nonmated_labels, peak_rss_mb()
    )


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _Searches:
    """Nested galleries streamed chunk by chunk past every probe, never held whole.

    Chunk ``c`` of the gallery is drawn from its own seed, so it can be drawn
    twice: once to keep the latents of the entries whose mates search, once to
    be searched. Each chunk is searched exactly (``CompactGallery``: int8
    shortlist, exact re-rank, the float engine's answers) and the per-probe
    top-k lists are merged by (float32 distance, row), the engine's own ranking
    (ids are zero-padded rows, so id order is row order): the answers equal
    those of one search of the whole gallery. Non-mated probes ask for rank 1
    only, mated ones for the top ``max_rank``.
    """

    def __init__(
        self,
        rngs: tuple[np.random.Generator, np.random.Generator, np.random.Generator],
        model: TemplateModel,
        settings: IdentificationSettings,
        sizes: list[int],
    ) -> None:
        gallery_rng, self.mated_rng, nonmated_rng = rngs
        self.base_seed = int(gallery_rng.integers(2**63))
        self.model, self.settings, self.sizes = model, settings, sizes
        self.mates = {
            n: np.sort(self.mated_rng.choice(n, min(settings.mated_searches, n), replace=False))
            for n in sizes
        }
        nonmated = draw_cohort(nonmated_rng, settings.nonmated_searches, model, settings.design)
        self.nonmated_probes = nonmated.captures(nonmated_rng, model)
        self.nonmated_labels = {d: nonmated.labels(d) for d in SUBJECT_DIMENSIONS}
        self.nonmated_labels["quality"] = capture_quality(
            nonmated.latents, self.nonmated_probes, model
        )

    def _chunks(self) -> Iterator[tuple[int, int, Cohort, np.random.Generator]]:
        """(start, stop, cohort, rng for its captures), chunks ending at every size."""
        start = 0
        edges = sorted({*self.sizes, *range(CHUNK_ROWS, (self.sizes or [0])[-1], CHUNK_ROWS)})
        for index, stop in enumerate(edges):
            rng = np.random.default_rng([self.base_seed, index])
            yield start, stop, draw_cohort(rng, stop - start, self.model, self.settings.design), rng
            start = stop

    def _mated_probes(self) -> dict[int, tuple[Matrix, dict[str, NDArray[np.str_]]]]:
        """Per size: fresh captures of its mates, and their labels (one pass over the chunks)."""
        needed = np.unique(np.concatenate(list(self.mates.values())))
        kept = np.empty((needed.size, self.model.dim), dtype=np.float32)
        noise = np.ones(needed.size)
        labels = {d: np.empty(needed.size, dtype=object) for d in SUBJECT_DIMENSIONS}
        for start, stop, cohort, _ in self._chunks():
            lo, hi = np.searchsorted(needed, [start, stop])
            rows = needed[lo:hi] - start
            kept[lo:hi] = cohort.latents[rows]
            noise[lo:hi] = cohort.noise_multiplier[rows]
            for d in SUBJECT_DIMENSIONS:
                labels[d][lo:hi] = cohort.labels(d)[rows]
        probes = {}
        for n, rows in self.mates.items():
            at = np.searchsorted(needed, rows)
            captured = self.model.captures(kept[at], self.mated_rng, noise_multiplier=noise[at])
            found = {d: labels[d][at].astype(str) for d in SUBJECT_DIMENSIONS}
            found["quality"] = capture_quality(kept[at], captured, self.model)
            probes[n] = (captured, found)
        return probes

    def run(self, progress: Callable[[str], None]) -> dict[int, Measurement]:
        """Every searched size's measurement, in one pass of the gallery past all probes."""
        if not self.sizes:
            return {}
        progress("drawing the mates of the mated searches")
        mated = self._mated_probes()
        k = self.settings.max_rank
        largest_first = sorted(self.sizes, reverse=True)
        blocks = [self.nonmated_probes, *(mated[n][0] for n in largest_first)]
        offsets = np.cumsum([0, *(b.shape[0] for b in blocks)])
        probes = np.concatenate(blocks)
        best = _TopK(probes.shape[0], k)
        results: dict[int, Measurement] = {}
        started = time.perf_counter()
        for start, stop, cohort, rng in self._chunks():
            progress(f"searching gallery rows {start:,}-{stop:,}")
            # Probes still searching: the non-mated ones and the mates of sizes >= stop.
            active = offsets[1 + sum(n >= stop for n in self.sizes)]
            with CompactGallery(self.model.dim) as chunk:
                ids = [_gallery_id(i) for i in range(start, stop)]
                chunk.add(ids, cohort.captures(rng, self.model))
                # Non-mated searches need only rank 1; mated ones the top k.
                for which, top in ((slice(0, offsets[1]), 1), (slice(offsets[1], active), k)):
                    if which.stop > which.start:
                        found = chunk.search(probes[which], k=top)
                        best.merge(which, found.ids, found.distances)
            if stop in self.mates:
                i = 1 + largest_first.index(stop)
                rows = best.rows[offsets[i] : offsets[i + 1]]
                ranks = _ranks(rows, self.mates[stop])
                rank1 = rank1_mate_distances(ranks, best.distances[offsets[i] : offsets[i + 1], 0])
                results[stop] = Measurement(
                    best.distances[: offsets[1], 0].astype(np.float64),
                    rank1,
                    ranks,
                    mated[stop][1],
                    time.perf_counter() - started,
                )
        return results


class _TopK:
    """Per-probe running top-k (float32 distance, gallery row), ranked as the engine ranks."""

    def __init__(self, probes: int, k: int) -> None:
        self.distances = np.full((probes, k), np.inf, dtype=np.float32)
        self.rows = np.full((probes, k), -1, dtype=np.int64)

    def merge(self, which: slice, ids: NDArray[np.object_], distances: NDArray[np.float32]) -> None:
        """Merge a chunk's top-``j`` answer (j <= k) into the lists of probes ``which``."""
        j = ids.shape[1]
        flat = np.asarray([-1 if i == PAD_ID else int(i) for i in ids.ravel()], dtype=np.int64)
        rows = np.concatenate([self.rows[which, :j], flat.reshape(ids.shape)], axis=1)
        dist = np.concatenate([self.distances[which, :j], distances], axis=1)
        big = np.where(rows < 0, np.iinfo(np.int64).max, rows)
        order = np.lexsort((big, dist), axis=-1)[:, :j]
        self.rows[which, :j] = np.take_along_axis(rows, order, axis=1)
        self.distances[which, :j] = np.take_along_axis(dist, order, axis=1)


def _ranks(rows: NDArray[np.int64], mates: NDArray[np.int64]) -> IntArray:
    hit = rows == mates[:, None]
    ranks: IntArray = np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, 0).astype(np.int64)
    return ranks


def _gallery_id(row: int) -> str:
    return f"{row:09d}"
