"""Probes as a partner would send them, for tests that build requests by hand."""

from __future__ import annotations

import numpy as np

from biometric_exchange.agreement.commitment import commit
from biometric_exchange.agreement.policy import ScopeFacts
from biometric_exchange.agreement.terms import ScopeRule
from biometric_exchange.domain import Template, validate_template
from biometric_exchange.serde.identify import ProbeIn
from biometric_exchange.synthetic import DemoDataset

ADULT_FROM_CHINA = ScopeFacts("CHN", 30, None)


def probe(ref: str, template: Template, *, rule: ScopeRule = ScopeRule.STANDARD) -> ProbeIn:
    """A probe under ``rule`` with a real commitment to an extra-regional adult's facts."""
    opening = commit(ref, rule, ADULT_FROM_CHINA, "TEST-POINT", 0)
    return ProbeIn(ref, template, rule, opening.commitment)


def recaptured(template: Template, seed: int) -> Template:
    """Another capture of the same face: about 0.11 from ``template``, far enough
    from it that the holder's guard does not take it for a copy."""
    noise = np.random.default_rng(seed).normal(0.0, 0.01, template.shape)
    return validate_template(template + noise)


def planted_template(dataset: DemoDataset) -> Template:
    """The template of a Panama encounter planted on Chile's watchlist (a sure hit)."""
    case = next(
        c
        for c in dataset.ground_truth
        if c.enrolling_country == "PAN" and c.holder_country == "CHL" and c.extra_regional
    )
    encounters = dataset.encounters["PAN"]
    return next(e for e in encounters if e.encounter_id == case.encounter_id).template
