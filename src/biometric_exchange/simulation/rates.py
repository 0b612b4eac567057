"""FPIR and FNIR at the operating threshold, measured on the run, and the DET curve.

Measured: every watchlist search the run made, local (an encounter the
person-level rules cover, against its own country's watchlist) or through
step 1 (a probe sent, against the partner's). A search is *mated* when the
person has an entry in force in the searched watchlist; FNIR is the share of
mated searches that did not return the mate, FPIR the share of non-mated
searches that returned anyone.

Modelled: the DET curve (FNMR against FMR, ISO/IEC 19795-1) from the run's own
template model: fresh captures of sampled travellers against enrolment-quality
photos of the same and of other faces, with the operating point at the threshold and
FPIR = 1 - (1 - FMR)^N for the watchlists' size N.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from biometric_exchange.evaluation.metrics import (
    FloatArray,
    SortedScores,
    equal_error_rate,
    error_curve,
    fpir_from_fmr,
)
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.simulation.accuracy import ratio
from biometric_exchange.simulation.detections import Detection
from biometric_exchange.simulation.truth import GroundTruth
from biometric_exchange.synthetic.templates import TemplateModel, paired_distances

GENUINE_PAIRS = 20_000
"""Travellers sampled for genuine pairs."""
IMPOSTOR_SIDE = 2000
"""Impostor pairs: every probe of this many travellers against every other one's photo."""
GRID = np.linspace(0.2, 1.2, 501)


def measured_rates(truth: GroundTruth, found: list[Detection]) -> dict[str, Any]:
    """FPIR/FNIR of the run's local and step-1 searches at the operating threshold."""
    hits: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    """(side, encounter, watchlist owner) → entries returned."""
    for d in found:
        if d.side in ("local", "requester") and d.encounters and d.entry:
            owner = d.node if d.side == "local" else d.via or ""
            hits[(d.side, d.encounters[0], owner)].add(d.entry)
    rules, countries = truth.rules, truth.world.scenario.nodes.countries
    tally = {
        side: {"mated": 0, "missed": 0, "non_mated": 0, "false": 0}
        for side in ("local", "requester")
    }
    for enc in truth.encounters.values():
        searches = []
        if rules.person_rules_apply(enc):
            searches.append(("local", enc.country))
        searches += [
            ("requester", owner)
            for owner in countries
            if owner != enc.country and rules.refusal(enc, owner) is None
        ]
        for side, owner in searches:
            mates = {e.entry_id for e in truth.listed(enc.face, owner)}
            returned = hits.get((side, enc.encounter_id, owner), set())
            counts = tally[side]
            if mates:
                counts["mated"] += 1
                counts["missed"] += int(not returned & mates)
            else:
                counts["non_mated"] += 1
                counts["false"] += int(bool(returned))
    result: dict[str, Any] = {"threshold": truth.threshold}
    total = {key: sum(t[key] for t in tally.values()) for key in tally["local"]}
    for name, counts in (("local", tally["local"]), ("step1", tally["requester"]), ("all", total)):
        result[name] = {
            "mated_searches": counts["mated"],
            "non_mated_searches": counts["non_mated"],
            "fnir": ratio(counts["missed"], counts["mated"]),
            "fpir": ratio(counts["false"], counts["non_mated"]),
        }
    return result


def det_scores(truth: GroundTruth, seed: int) -> tuple[FloatArray, FloatArray]:
    """(genuine, impostor) distances from the run's template model: for sampled
    travellers, a fresh encounter capture against an enrolment-quality photo of the same
    face (genuine) and of other faces (impostor)."""
    world = truth.world
    model = TemplateModel()
    rng = np.random.default_rng([seed, 19795])
    faces = rng.choice(world.travellers, min(GENUINE_PAIRS, world.travellers), replace=False)
    latents, noise = world.latents[faces], world.noise[faces]
    probes = model.captures(latents, rng, noise_multiplier=noise).astype(np.float64)
    photos = model.captures(latents, rng, noise_multiplier=noise, max_noise_factor=1.0)
    genuine = paired_distances(probes.astype(np.float32), photos)
    width = min(faces.size, IMPOSTOR_SIDE)
    a, b = probes[:width], photos[:width].astype(np.float64)
    squared = (
        np.einsum("ij,ij->i", a, a)[:, None] - 2 * a @ b.T + np.einsum("ij,ij->i", b, b)[None, :]
    )
    off_diagonal = ~np.eye(width, dtype=np.bool_)
    impostor: FloatArray = np.sqrt(np.maximum(squared, 0))[off_diagonal]
    return genuine, impostor


def det_curve(truth: GroundTruth, seed: int) -> dict[str, Any]:
    """The DET curve's points, its EER and the operating point at the threshold."""
    genuine, impostor = det_scores(truth, seed)
    if not genuine.size or not impostor.size:
        return {"genuine_pairs": int(genuine.size), "impostor_pairs": int(impostor.size)}
    g, i = SortedScores.of(genuine), SortedScores.of(impostor)
    curve = error_curve(g, i, GRID)
    threshold = truth.threshold
    fmr = float(i.fraction_below([threshold])[0])
    gallery = len(truth.world.listings) // max(1, len(truth.world.scenario.nodes.countries))
    try:
        eer, eer_threshold = equal_error_rate(curve)
    except InvalidInput:
        eer, eer_threshold = None, None
    return {
        "genuine_pairs": len(g),
        "impostor_pairs": len(i),
        "threshold": threshold,
        "fmr": fmr,
        "fnmr": float(g.fraction_at_or_above([threshold])[0]),
        "gallery_size": gallery,
        "fpir_modelled": float(fpir_from_fmr([fmr], gallery)[0]),
        "eer": eer,
        "eer_threshold": eer_threshold,
        "curve": {
            "thresholds": [round(float(t), 4) for t in curve.thresholds],
            "fmr": [float(v) for v in curve.fmr],
            "fnmr": [float(v) for v in curve.fnmr],
        },
    }
