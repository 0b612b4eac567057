"""Open-set 1:N identification: FPIR, FNIR, CMC and thresholds per gallery size.

Sizes up to ``max_searched`` are searched for real with ``Gallery``; the
galleries are nested (each larger one extends the previous) and one fixed set
of non-mated probes (people never enrolled) searches every size. Mated probes
are fresh captures of enrolled people. Larger sizes are modelled from the
fitted impostor tail (see ``extrapolation``); searched sizes report both, so
the model is checked against real searches.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property, partial
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from biometric_exchange.evaluation.dataset import Cohort, Matrix, draw_cohort
from biometric_exchange.evaluation.demographics import DIMENSIONS, GroupRate, rates_by_group
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
    mate_ranks,
    rank1_mate_distances,
)
from biometric_exchange.matching import Gallery
from biometric_exchange.synthetic.templates import TemplateModel

SEARCH = "search"
MODEL = "model"
CHUNK_ROWS = 65_536
"""Gallery rows drawn and added at a time (bounds temporary memory)."""


@dataclass(frozen=True)
class IdentificationSettings:
    sizes: tuple[int, ...]
    max_searched: int
    mated_searches: int
    nonmated_searches: int
    max_rank: int
    target_fpir: float
    extra_regional_share: float
    minor_share: float
    groups: dict[str, tuple[str, ...]]


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
    """Real searches of one gallery."""

    nonmated: SortedScores
    """Rank-1 distance of each non-mated search."""
    mated: SortedScores
    """Rank-1 distance of each mated search whose rank 1 is the mate, else +inf."""
    ranks: IntArray
    """Rank of the mate in each mated search (0: not in the candidate list)."""
    seconds: float

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
    breakdown: list[GroupRate]
    breakdown_size: int | None


def run_identification(
    rngs: tuple[np.random.Generator, np.random.Generator, np.random.Generator],
    model: TemplateModel,
    settings: IdentificationSettings,
    *,
    tail: ImpostorTail,
    genuine: SortedScores,
    progress: Callable[[str], None] = lambda _: None,
) -> Identification:
    """Search the nested galleries, model the rest; ``rngs`` = (gallery, mated, non-mated)."""
    searched = [n for n in settings.sizes if n <= settings.max_searched]
    outcomes = {n: GalleryOutcome(n, Prediction(tail, genuine, n)) for n in settings.sizes}
    breakdown: list[GroupRate] = []
    if searched:
        runner = _Searches(rngs, model, settings, searched)
        for n in searched:
            progress(f"searching a gallery of {n:,}")
            measured = runner.measure(n)
            outcomes[n] = replace(outcomes[n], measurement=measured)
        breakdown = runner.breakdown(searched[-1], measured)
    return Identification(
        [outcomes[n] for n in settings.sizes], breakdown, searched[-1] if searched else None
    )


class _Searches:
    """Nested galleries, drawn chunk by chunk, with the probes that search them."""

    def __init__(
        self,
        rngs: tuple[np.random.Generator, np.random.Generator, np.random.Generator],
        model: TemplateModel,
        settings: IdentificationSettings,
        sizes: list[int],
    ) -> None:
        self.rng, self.mated_rng, nonmated_rng = rngs
        self.model, self.settings = model, settings
        self.mates = {
            n: np.sort(self.mated_rng.choice(n, min(settings.mated_searches, n), replace=False))
            for n in sizes
        }
        self.needed = np.unique(np.concatenate(list(self.mates.values())))
        self.kept = np.empty((self.needed.size, model.dim), dtype=np.float32)
        self.kept_noise = np.ones(self.needed.size, dtype=np.float64)
        self.labels: dict[str, list[NDArray[np.str_]]] = {d: [] for d in DIMENSIONS}
        self.gallery = Gallery(model.dim)
        nonmated = self._cohort(nonmated_rng, settings.nonmated_searches)
        self.nonmated_probes = nonmated.captures(nonmated_rng, model)
        self.nonmated_labels = {d: nonmated.labels(d) for d in DIMENSIONS}
        self.in_search_order: dict[int, tuple[FloatArray, FloatArray]] = {}
        """Per size: (non-mated rank-1 distances, rank-1 mate distances), unsorted."""

    def _cohort(self, rng: np.random.Generator, n: int) -> Cohort:
        return draw_cohort(
            rng,
            n,
            self.model,
            extra_regional_share=self.settings.extra_regional_share,
            minor_share=self.settings.minor_share,
        )

    def _grow(self, size: int) -> None:
        while len(self.gallery) < size:
            start = len(self.gallery)
            stop = min(size, start + CHUNK_ROWS)
            cohort = self._cohort(self.rng, stop - start)
            captures = cohort.captures(self.rng, self.model)
            self.gallery.add([_gallery_id(i) for i in range(start, stop)], captures)
            lo, hi = np.searchsorted(self.needed, [start, stop])
            self.kept[lo:hi] = cohort.latents[self.needed[lo:hi] - start]
            self.kept_noise[lo:hi] = cohort.noise_multiplier[self.needed[lo:hi] - start]
            for d in DIMENSIONS:
                self.labels[d].append(cohort.labels(d))

    def _mated_probes(self, size: int) -> tuple[Matrix, list[str]]:
        rows = self.mates[size]
        at = np.searchsorted(self.needed, rows)
        probes = self.model.captures(
            self.kept[at], self.mated_rng, noise_multiplier=self.kept_noise[at]
        )
        return probes, [_gallery_id(int(i)) for i in rows]

    def measure(self, size: int) -> Measurement:
        """Grow the gallery to ``size`` and run the non-mated and mated searches."""
        started = time.perf_counter()
        self._grow(size)
        minima = self.gallery.search(self.nonmated_probes, k=1).distances[:, 0]
        probes, mate_ids = self._mated_probes(size)
        found = self.gallery.search(probes, k=self.settings.max_rank)
        ranks = mate_ranks(found.ids, mate_ids)
        rank1 = rank1_mate_distances(ranks, found.distances[:, 0])
        self.in_search_order[size] = (minima.astype(np.float64), rank1)
        return Measurement(
            SortedScores.of(minima), SortedScores.of(rank1), ranks, time.perf_counter() - started
        )

    def breakdown(self, size: int, measured: Measurement) -> list[GroupRate]:
        """FPIR and FNIR by group at the target-FPIR threshold of gallery ``size``.

        Labels follow search order: non-mated probes as drawn, mated probes by gallery row.
        """
        threshold = measured.threshold(self.settings.target_fpir)
        point = f"FPIR={self.settings.target_fpir:g} N={size}"
        minima, rank1 = self.in_search_order[size]
        rows: list[GroupRate] = []
        for d in DIMENSIONS:
            groups = self.settings.groups[d]
            mated_labels = np.concatenate(self.labels[d])[self.mates[size]]
            by_group = partial(
                rates_by_group,
                groups=groups,
                dimension=d,
                threshold=threshold,
                operating_point=point,
            )
            rows += by_group(self.nonmated_labels[d], minima < threshold, metric="fpir")
            rows += by_group(mated_labels, rank1 >= threshold, metric="fnir")
        return rows


def _gallery_id(row: int) -> str:
    return f"G{row:08d}"
