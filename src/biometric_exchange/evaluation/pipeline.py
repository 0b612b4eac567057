"""The whole evaluation: configuration, seeded streams, verification then identification."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from biometric_exchange.evaluation.bootstrap import REPLICATES, Estimate, bootstrap
from biometric_exchange.evaluation.dataset import Design
from biometric_exchange.evaluation.demographics import design_groups
from biometric_exchange.evaluation.identification import (
    Identification,
    IdentificationSettings,
    run_identification,
)
from biometric_exchange.evaluation.intervals import (
    Operating,
    identification_statistic,
    verification_statistic,
)
from biometric_exchange.evaluation.scenario import Differential
from biometric_exchange.evaluation.verification import (
    Verification,
    VerificationSettings,
    run_verification,
)
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.matching import DEFAULT_THRESHOLD
from biometric_exchange.synthetic.templates import TemplateModel

DEFAULT_SEED = 2017
CURVE_STRIDE = 10
"""Curves keep every 10th threshold of the grid (with their bands)."""
DEFAULT_SIZES = (1_000, 10_000, 100_000, 1_000_000)


@dataclass(frozen=True)
class EvaluationConfig:
    """Sample sizes and operating points; the defaults are the full run."""

    seed: int = DEFAULT_SEED
    sizes: tuple[int, ...] = DEFAULT_SIZES
    max_searched: int = 1_000_000
    """Gallery sizes up to this are searched; larger ones are only modelled."""
    genuine_pairs: int = 100_000
    impostor_pairs: int = 10_000_000
    impostor_block: int = 1_000
    mated_searches: int = 5_000
    nonmated_searches: int = 10_000
    max_rank: int = 10
    target_fpir: float = 0.003
    breakdown_fmr: float = 1e-4
    operational_threshold: float = DEFAULT_THRESHOLD
    extra_regional_share: float = 0.5
    """Balanced by design so both region groups are large (the 2023 Darién mix is ~8 %)."""
    female_share: float = 0.5
    age_shares: tuple[float, ...] = (1 / 6,) * 6
    """Shares of the age bands 0-11, 12-17, 18-29, 30-49, 50-64, 65+ (balanced by design)."""
    scenario: tuple[Differential, ...] = ()
    """Demographic differentials (``scenario.NIST_SCENARIO``); none: flat by construction."""
    replicates: int = REPLICATES
    """Bootstrap replicates (subjects resampled) behind every interval."""
    threshold_step: float = 2.5e-4
    quick: bool = False
    template_model: TemplateModel = field(default_factory=TemplateModel)

    def __post_init__(self) -> None:
        if not self.sizes or any(n < 2 for n in self.sizes):
            raise InvalidInput("sizes: expected gallery sizes of at least 2")
        if list(self.sizes) != sorted(set(self.sizes)):
            raise InvalidInput("sizes: expected distinct sizes in ascending order")
        counts = ("genuine_pairs", "impostor_pairs", "impostor_block", "mated_searches")
        for name in (*counts, "nonmated_searches", "max_rank", "max_searched", "replicates"):
            if getattr(self, name) < 1:
                raise InvalidInput(f"{name}: expected a positive integer")
        for name in ("target_fpir", "breakdown_fmr", "extra_regional_share", "female_share"):
            if not 0 < getattr(self, name) < 1:
                raise InvalidInput(f"{name}: expected a value strictly between 0 and 1")

    def quickened(self) -> EvaluationConfig:
        """Smaller samples and searched galleries up to 10k, for a run of seconds."""
        return replace(
            self,
            quick=True,
            max_searched=min(self.max_searched, 10_000),
            genuine_pairs=20_000,
            impostor_pairs=2_000_000,
            mated_searches=1_000,
            nonmated_searches=3_000,
            replicates=min(self.replicates, 200),
        )

    @property
    def design(self) -> Design:
        return Design(self.extra_regional_share, self.female_share, self.age_shares, self.scenario)


@dataclass(frozen=True, eq=False)
class Evaluation:
    config: EvaluationConfig
    groups: dict[str, tuple[str, ...]]
    verification: Verification
    identification: Identification
    points: Operating
    estimates: dict[str, Estimate]
    """Every rate with its bootstrap interval: verification keys, then identification's."""
    seconds: dict[str, float]


def run_evaluation(
    config: EvaluationConfig, progress: Callable[[str], None] = lambda _: None
) -> Evaluation:
    """Run verification then identification from ``config.seed`` (independent streams)."""
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(5)]
    groups = design_groups(config.extra_regional_share)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    progress("verification: genuine and impostor pairs")
    verification = run_verification(
        streams[0],
        config.template_model,
        VerificationSettings(
            genuine_pairs=config.genuine_pairs,
            impostor_pairs=config.impostor_pairs,
            block=config.impostor_block,
            design=config.design,
            threshold_step=config.threshold_step,
            operational_threshold=config.operational_threshold,
            breakdown_fmr=config.breakdown_fmr,
        ),
    )
    seconds["verification"] = time.perf_counter() - started
    cpu_started = time.process_time()
    identification = run_identification(
        (streams[1], streams[2], streams[3]),
        config.template_model,
        IdentificationSettings(
            sizes=config.sizes,
            max_searched=config.max_searched,
            mated_searches=config.mated_searches,
            nonmated_searches=config.nonmated_searches,
            max_rank=config.max_rank,
            target_fpir=config.target_fpir,
            design=config.design,
        ),
        tail=verification.tail,
        genuine=verification.genuine,
        progress=progress,
    )
    seconds["identification"] = time.perf_counter() - started - seconds["verification"]
    seconds["identification_cpu"] = time.process_time() - cpu_started
    progress(f"bootstrap: {config.replicates} replicates of the subjects")
    points = Operating(
        config.operational_threshold,
        config.breakdown_fmr,
        config.target_fpir,
        config.max_rank,
        det_grid=verification.curve.thresholds[::CURVE_STRIDE],
        fpir_grid=np.arange(0.5, 0.8, 0.0025),
    )
    estimates = bootstrap(
        verification_statistic(verification, points, groups),
        verification.subjects,
        streams[4],
        config.replicates,
    )
    statistic, sets = identification_statistic(identification, points, groups)
    if sets:
        estimates |= bootstrap(statistic, sets, streams[4], config.replicates)
    seconds["bootstrap"] = (
        time.perf_counter() - started - seconds["verification"] - seconds["identification"]
    )
    return Evaluation(config, groups, verification, identification, points, estimates, seconds)
