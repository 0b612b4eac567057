"""Genuine and impostor distance statistics of a ``TemplateModel``, overall and per group.

For each group, ``pairs`` genuine pairs (two captures of one subject) and
``pairs`` impostor pairs (one capture each of two subjects, both in the
group) are drawn. Pair accuracy at the tolerance is taken over the balanced
set, as dlib reports its LFW figure: ``1 - (FNMR + FMR) / 2``. Subjects'
nationalities follow the population mix (restricted to the group's codes);
minors make up ``minor_share`` unless the group fixes the age band. The same
seed gives the same figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.synthetic.mix import (
    POPULATION_EXTRA_REGIONAL_MIX,
    POPULATION_MIX,
    POPULATION_REGIONAL_MIX,
    draw_codes,
)
from biometric_exchange.synthetic.people import MINOR_SHARE
from biometric_exchange.synthetic.templates import (
    FloatVector,
    Group,
    TemplateModel,
    paired_distances,
)

TOLERANCE = 0.6
"""face_recognition's default ``compare_faces`` tolerance."""
DLIB_LFW_ACCURACY = 0.9938
"""dlib_face_recognition_resnet_model_v1 on LFW, as dlib and face_recognition report it."""
PERCENTILES = (1, 5, 25, 50, 75, 95, 99)
BLOCK = 50_000
"""Pairs drawn per block, which bounds memory for any ``pairs``."""

ALL = Group("all")
STANDARD_GROUPS = (
    ALL,
    Group("adults", age_band="adult"),
    Group("minors", age_band="minor"),
    Group("regional", frozenset(POPULATION_REGIONAL_MIX)),
    Group("extra-regional", frozenset(POPULATION_EXTRA_REGIONAL_MIX)),
)


@dataclass(frozen=True)
class DistanceStats:
    """Summary of one set of distances."""

    count: int
    mean: float
    percentiles: tuple[tuple[int, float], ...]

    @property
    def median(self) -> float:
        return self.percentile(50)

    def percentile(self, q: int) -> float:
        return dict(self.percentiles)[q]

    @classmethod
    def of(cls, values: FloatVector) -> DistanceStats:
        points = np.percentile(values, PERCENTILES)
        return cls(
            count=int(values.size),
            mean=float(values.mean()),
            percentiles=tuple((q, float(p)) for q, p in zip(PERCENTILES, points, strict=True)),
        )


@dataclass(frozen=True)
class GroupReport:
    """Genuine and impostor statistics of one group at one tolerance."""

    name: str
    genuine: DistanceStats
    impostor: DistanceStats
    false_non_match_rate: float
    """Share of genuine pairs at or above the tolerance."""
    false_match_rate: float
    """Share of impostor pairs below the tolerance."""

    @property
    def accuracy(self) -> float:
        """Pair accuracy over balanced genuine and impostor pairs."""
        return 1.0 - (self.false_non_match_rate + self.false_match_rate) / 2.0


@dataclass(frozen=True)
class CalibrationReport:
    seed: int
    pairs: int
    tolerance: float
    groups: tuple[GroupReport, ...]

    def group(self, name: str) -> GroupReport:
        for report in self.groups:
            if report.name == name:
                return report
        raise KeyError(name)


def calibration_groups(model: TemplateModel) -> tuple[Group, ...]:
    """The standard groups, plus each effect's group not already among them."""
    groups = list(STANDARD_GROUPS)
    for effect in model.effects:
        if effect.group not in groups:
            groups.append(effect.group)
    return tuple(groups)


def calibrate(
    model: TemplateModel | None = None,
    *,
    pairs: int = 20_000,
    seed: int = 0,
    tolerance: float = TOLERANCE,
    minor_share: float = MINOR_SHARE,
    groups: Sequence[Group] | None = None,
) -> CalibrationReport:
    """Draw genuine and impostor pairs per group and summarise them."""
    if pairs < 1:
        raise InvalidInput("pairs: must be at least 1")
    if seed < 0:
        raise InvalidInput("seed: must not be negative")
    model = model or TemplateModel()
    chosen = tuple(groups) if groups is not None else calibration_groups(model)
    streams = np.random.SeedSequence(seed).spawn(len(chosen))
    reports = []
    for group, stream in zip(chosen, streams, strict=True):
        rng = np.random.default_rng(stream)
        genuine = np.concatenate(
            [_genuine(model, rng, group, n, minor_share) for n in _blocks(pairs)]
        )
        impostor = np.concatenate(
            [_impostor(model, rng, group, n, minor_share) for n in _blocks(pairs)]
        )
        reports.append(
            GroupReport(
                name=group.name,
                genuine=DistanceStats.of(genuine),
                impostor=DistanceStats.of(impostor),
                false_non_match_rate=float((genuine >= tolerance).mean()),
                false_match_rate=float((impostor < tolerance).mean()),
            )
        )
    return CalibrationReport(seed, pairs, tolerance, tuple(reports))


def _blocks(total: int) -> list[int]:
    return [min(BLOCK, total - start) for start in range(0, total, BLOCK)]


def _subjects(
    rng: np.random.Generator, group: Group, n: int, minor_share: float
) -> tuple[NDArray[np.str_], NDArray[np.bool_]]:
    """Nationalities and minor flags of ``n`` subjects of ``group``."""
    mix = POPULATION_MIX
    if group.nationalities is not None:
        known = {code: w for code, w in POPULATION_MIX.items() if code in group.nationalities}
        mix = known or dict.fromkeys(sorted(group.nationalities), 1.0)
    codes = draw_codes(rng, n, mix)
    if group.age_band is None:
        minor = rng.random(n) < minor_share
    else:
        minor = np.full(n, group.age_band == "minor")
    return codes, minor


def _genuine(
    model: TemplateModel, rng: np.random.Generator, group: Group, n: int, minor_share: float
) -> FloatVector:
    identity, noise = model.multipliers(*_subjects(rng, group, n, minor_share))
    latents = model.latents(rng, n, identity_multiplier=identity)
    first = model.captures(latents, rng, noise_multiplier=noise)
    second = model.captures(latents, rng, noise_multiplier=noise)
    return paired_distances(first, second)


def _impostor(
    model: TemplateModel, rng: np.random.Generator, group: Group, n: int, minor_share: float
) -> FloatVector:
    identity, noise = model.multipliers(*_subjects(rng, group, 2 * n, minor_share))
    latents = model.latents(rng, 2 * n, identity_multiplier=identity)
    captures = model.captures(latents, rng, noise_multiplier=noise)
    return paired_distances(captures[0::2], captures[1::2])
