"""The synthetic watchlist under attack, its victims and their starting probes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from biometric_exchange.evaluation.attacks.oracle import Matrix
from biometric_exchange.matching import Gallery
from biometric_exchange.synthetic import TemplateModel

MAX_DRAWS = 50
"""Captures drawn for a victim's starting probe before giving up on a hit."""


@dataclass(frozen=True)
class Scenario:
    """``templates[i]`` is enrolled as ``ids[i]``; victim ``k`` is entry
    ``victims[k]``, and ``starts[k]`` a second capture of that face which hits it."""

    ids: tuple[str, ...]
    templates: Matrix
    victims: tuple[int, ...]
    starts: Matrix

    def gallery(self) -> Gallery:
        """The watchlist as the holder searches it (for judging estimates)."""
        gallery = Gallery()
        gallery.add(list(self.ids), self.templates)
        return gallery


def make_scenario(size: int, victims: int, *, seed: int, threshold: float) -> Scenario:
    """``size`` synthetic entries (enrolment-quality captures); ``victims`` of them
    drawn at random, each with a second capture under ``threshold`` of its entry
    (redrawn until it is one: the attacker starts from a probe that hits)."""
    rng = np.random.default_rng(seed)
    model = TemplateModel()
    latents = model.latents(rng, size)
    templates = model.captures(latents, rng, max_noise_factor=1.0)
    chosen = tuple(int(i) for i in rng.choice(size, victims, replace=False))
    starts = np.empty((victims, templates.shape[1]), dtype=np.float32)
    for row, index in enumerate(chosen):
        for _ in range(MAX_DRAWS):
            capture = model.captures(latents[index : index + 1], rng)[0]
            if np.linalg.norm(capture - templates[index]) < threshold:
                break
        starts[row] = capture
    ids = tuple(f"PAN-WL-ATK-{number:06d}" for number in range(size))
    return Scenario(ids, templates, chosen, starts)
