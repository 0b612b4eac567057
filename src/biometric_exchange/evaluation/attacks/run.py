"""Attacking each victim in turn through one campaign; the in-process baseline run."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from biometric_exchange import agreement
from biometric_exchange.agreement.terms import Step1Terms
from biometric_exchange.config import MatchingSection
from biometric_exchange.evaluation.attacks.attack import Attack, Vector
from biometric_exchange.evaluation.attacks.baseline import ScoresOnOracle
from biometric_exchange.evaluation.attacks.boundary import BoundarySearch
from biometric_exchange.evaluation.attacks.campaign import Campaign
from biometric_exchange.evaluation.attacks.config import AttackConfig
from biometric_exchange.evaluation.attacks.recovery import Outcome, judge
from biometric_exchange.evaluation.attacks.report import AttackReport
from biometric_exchange.evaluation.attacks.scenario import Scenario, make_scenario
from biometric_exchange.evaluation.attacks.trilateration import Trilateration

SHIPPED_TERMS = Path(agreement.__file__).resolve().parent / "chile_panama.toml"
BASELINE_ORACLE = "previous behaviour (scores on), in process"


def band_distances(threshold: float) -> dict[str, float]:
    """What a trilateration attacker assumes for a band: the middle of its range."""
    distances = {}
    lower = 0.0
    for band in Step1Terms().bands:
        distances[band.name] = (lower + band.up_to) / 2 * threshold
        lower = band.up_to
    return distances


def make_attack(name: str, start: Vector, rng: np.random.Generator, *, threshold: float) -> Attack:
    if name == "trilateration":
        return Trilateration(start, band_distances=band_distances(threshold))
    return BoundarySearch(start, rng)


def attack_victims(
    scenario: Scenario, campaign: Campaign, config: AttackConfig, *, threshold: float
) -> tuple[Outcome, ...]:
    """Each victim attacked in turn from its starting probe, then judged."""
    rng = np.random.default_rng(config.seed + 1)
    gallery = scenario.gallery()
    outcomes = []
    for index, start in zip(scenario.victims, scenario.starts, strict=True):
        attack = make_attack(config.attack, start.astype(np.float64), rng, threshold=threshold)
        probes = campaign.run(attack, budget=config.budget)
        estimate = attack.estimate()
        outcomes.append(
            judge(
                estimate,
                victim=scenario.ids[index],
                enrolled=scenario.templates[index].astype(np.float64),
                start=start,
                gallery=gallery,
                threshold=threshold,
                probes=probes,
                note=(attack.failure or "") if estimate is None else "",
            )
        )
    return tuple(outcomes)


def run_baseline(config: AttackConfig) -> AttackReport:
    """The attack against the previous behaviour: exact distances, no defences."""
    step1 = Step1Terms.model_validate(agreement.load_terms(SHIPPED_TERMS).get("step1", {}))
    matching = MatchingSection()
    scenario = make_scenario(
        config.watchlist, config.victims, seed=config.seed, threshold=matching.threshold
    )
    oracle = ScoresOnOracle(
        scenario.ids,
        scenario.templates,
        threshold=matching.threshold,
        max_candidates=min(step1.max_candidates, matching.max_candidates),
        bands=step1.bands if config.banded else (),
    )
    campaign = Campaign(oracle, per_request=step1.max_probes_per_request)
    outcomes = attack_victims(scenario, campaign, config, threshold=matching.threshold)
    return AttackReport(
        attack=config.attack,
        oracle=BASELINE_ORACLE + (", banded" if config.banded else ""),
        watchlist=config.watchlist,
        threshold=matching.threshold,
        seed=config.seed,
        days_allowed=None,
        daily_probes=None,
        outcomes=outcomes,
        ledger=campaign.ledger,
    )
