"""IDENTITY_CONFLICT thresholds per gallery size, and the world's relatives and look-alikes."""

from __future__ import annotations

import dataclasses
import itertools
import math
from pathlib import Path

import numpy as np
import pytest

from biometric_exchange.config import CONFIG_FILENAME
from biometric_exchange.domain import AlertKind, Encounter, validate_template
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.node.enrolment import enrol
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.send.conflicts import threshold_for_size
from biometric_exchange.regions import is_extra_regional
from biometric_exchange.simulation.accuracy import wilson
from biometric_exchange.simulation.conflict_thresholds import conflict_thresholds
from biometric_exchange.simulation.resemblance import TWIN_RHO, draw_resemblance
from biometric_exchange.synthetic import DemoDataset
from biometric_exchange.synthetic.templates import TemplateModel, paired_distances
from tests.wiring import worker

TABLE = {1_000: 0.62, 10_000: 0.60, 100_000: 0.58}


def test_threshold_for_size_interpolates_in_log_size() -> None:
    assert threshold_for_size({}, 50_000, 0.6) == 0.6
    assert threshold_for_size(TABLE, 10, 0.6) == 0.62
    assert threshold_for_size(TABLE, 10_000, 0.5) == 0.60
    assert threshold_for_size(TABLE, 10**7, 0.6) == 0.58
    assert threshold_for_size(TABLE, round(10**4.5), 0.6) == pytest.approx(0.59, abs=1e-4)
    middle = threshold_for_size(TABLE, 3_000, 0.6)
    assert middle == pytest.approx(0.62 - 0.02 * math.log10(3), abs=1e-9)


def test_thresholds_per_gallery_size_follow_the_evaluation_calibration() -> None:
    """The same method as bx evaluate's watchlist table (FPIR 0.003: 0.622 at 1,000,
    0.599 at 10,000, 0.580 at 100,000); a stricter FPIR gives lower thresholds."""
    table = conflict_thresholds(0.003)
    assert table[1_000] == pytest.approx(0.622, abs=0.005)
    assert table[10_000] == pytest.approx(0.599, abs=0.005)
    assert table[100_000] == pytest.approx(0.579, abs=0.005)
    sizes = sorted(table)
    assert all(table[a] > table[b] for a, b in itertools.pairwise(sizes))
    strict = conflict_thresholds(0.0001)
    assert all(strict[n] < table[n] for n in sizes)
    with pytest.raises(InvalidInput, match=r"conflicts\.fpir"):
        conflict_thresholds(0.0)


def _alias_at(first: Encounter, distance: float) -> Encounter:
    """Another identity whose template lies ``distance`` from ``first``'s."""
    direction = np.random.default_rng(9).normal(size=first.template.shape)
    direction *= distance / np.linalg.norm(direction)
    person = dataclasses.replace(first.person, given_name="Other", document_number="SYN-OTHER1")
    return dataclasses.replace(
        first,
        encounter_id="PAN-ENC-NEAR",
        person=person,
        template=validate_template(first.template + direction),
    )


@pytest.mark.parametrize(
    ("table", "raised"), [("", True), ("[alerts.conflict_thresholds]\n1 = 0.5\n", False)]
)
def test_a_node_searches_its_encounters_at_the_threshold_for_their_number(
    pair_dirs: tuple[Path, Path], dataset: DemoDataset, table: str, raised: bool
) -> None:
    """At 0.55, below the fixed 0.6, another identity is a conflict; with a table whose
    threshold at this gallery size is 0.5 it is not."""
    config = pair_dirs[1] / CONFIG_FILENAME
    config.write_text(config.read_text(encoding="utf-8") + table, encoding="utf-8")
    pan, chl = Node.open(pair_dirs[1]), Node.open(pair_dirs[0])
    try:
        first = next(
            e for e in dataset.encounters["PAN"] if is_extra_regional(e.person.nationality)
        )
        enrol(pan, first)
        worker(pan, chl).run_once()
        enrol(pan, _alias_at(first, 0.55))
        worker(pan, chl).run_once()
        conflicts = pan.alerts.list(kind=AlertKind.IDENTITY_CONFLICT)
        assert len(conflicts) == int(raised)
    finally:
        pan.database.close()
        chl.database.close()


def test_relatives_twins_and_lookalikes_are_drawn_as_asked() -> None:
    rng = np.random.default_rng(1)
    nationality = rng.choice(np.array(["AFG", "CHN", "IND", "VEN"]), 20_000)
    drawn = draw_resemblance(
        rng, nationality, 18_000, relatives_share=0.1, twin_share=0.05, lookalike_share=0.01
    )
    kinds = dict(zip(*np.unique(drawn.kind, return_counts=True), strict=True))
    assert kinds["relative"] + kinds["twin"] == 1_800
    assert 50 <= kinds["twin"] <= 130
    assert kinds["look-alike"] == 200
    relatives = drawn.kind != "look-alike"
    assert (nationality[drawn.face[relatives]] == nationality[drawn.like[relatives]]).all()
    assert np.intersect1d(drawn.face, drawn.like).size == 0, "a resembled face never changes"
    assert len(np.unique(drawn.face)) == len(drawn)
    assert (drawn.like < 18_000).all() and (drawn.face[relatives] < 18_000).all()
    face, like = int(drawn.face[0]), int(drawn.like[0])
    assert drawn.kind_of(like, face) == drawn.kind[0]
    none = draw_resemblance(
        rng, nationality, 18_000, relatives_share=0.0, twin_share=0.5, lookalike_share=0.0
    )
    assert len(none) == 0


def test_resemblance_brings_faces_within_reach_of_the_matcher() -> None:
    """Unrelated people practically never match at 0.6; twins nearly always do,
    look-alikes often, relatives sometimes."""
    model = TemplateModel()
    rng = np.random.default_rng(2)
    n = 4_000
    nationality = np.full(2 * n, "AFG")
    latents = model.latents(rng, 2 * n)
    before = latents.copy()
    drawn = draw_resemblance(
        rng, nationality, 2 * n, relatives_share=0.5, twin_share=0.1, lookalike_share=0.0
    )
    drawn.apply(latents, model.centre_vector)
    assert np.array_equal(latents[drawn.like], before[drawn.like])
    spread = np.linalg.norm(latents[drawn.face] - model.centre_vector, axis=1)
    assert spread.mean() == pytest.approx(np.sqrt(128) * model.identity_scale, rel=0.03)
    first = model.captures(latents[drawn.face], rng)
    second = model.captures(latents[drawn.like], rng)
    matched = paired_distances(first, second) < 0.6
    twins = drawn.rho == TWIN_RHO
    assert matched[twins].mean() > 0.9
    assert 0.001 < matched[~twins].mean() < 0.1
    strangers = paired_distances(model.captures(before[:n], rng), model.captures(before[n:], rng))
    assert (strangers < 0.6).mean() < 0.001


def test_wilson_intervals() -> None:
    low, high = wilson(20, 22) or (0.0, 0.0)
    assert (low, high) == pytest.approx((0.7218, 0.9747), abs=1e-3)
    assert wilson(0, 0) is None
    assert wilson(0, 10) == [0.0, pytest.approx(0.2775, abs=1e-3)]
