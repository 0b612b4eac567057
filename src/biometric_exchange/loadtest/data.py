"""Synthetic load data: watchlist entries, probes, and the holder's watchlist load."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.loadtest.config import GENERATOR, INSERT_BATCH, LoadConfig
from biometric_exchange.node.runtime import Node
from biometric_exchange.synthetic import TemplateModel
from biometric_exchange.synthetic.numbered import numbered_entry

Matrix = NDArray[np.float32]


@dataclass(frozen=True)
class SyntheticWatchlist:
    ids: list[str]
    latents: Matrix
    templates: Matrix


def synthetic_watchlist(
    count: int, model: TemplateModel, rng: np.random.Generator
) -> SyntheticWatchlist:
    """``count`` identities, each with an enrolment-quality capture."""
    latents = model.latents(rng, count)
    templates = model.captures(latents, rng, max_noise_factor=1.0)
    return SyntheticWatchlist(watchlist_ids(count), latents, templates)


def watchlist_ids(count: int) -> list[str]:
    """The entry ids of a load watchlist of ``count`` entries."""
    return [f"CHL-LOAD-{number:07d}" for number in range(count)]


def probe_templates(
    count: int,
    watchlist: SyntheticWatchlist,
    model: TemplateModel,
    rng: np.random.Generator,
    *,
    hit_rate: float,
) -> Matrix:
    """``count`` probes: a ``hit_rate`` share are new captures of watchlist subjects,
    the rest captures of new identities."""
    subjects = rng.integers(0, len(watchlist.ids), count)
    known = rng.random(count) < hit_rate
    latents = np.where(known[:, None], watchlist.latents[subjects], model.latents(rng, count))
    return model.captures(np.ascontiguousarray(latents, dtype=np.float32), rng)


def load_watchlist(node: Node, watchlist: SyntheticWatchlist, *, seed: int) -> None:
    """Add every entry through ``RecordStore.add_watchlist``, INSERT_BATCH at a time."""
    for start in range(0, len(watchlist.ids), INSERT_BATCH):
        stop = min(start + INSERT_BATCH, len(watchlist.ids))
        node.records.add_watchlist(
            [
                numbered_entry(
                    number,
                    watchlist.ids[number],
                    watchlist.templates[number],
                    label="Load",
                    generator=GENERATOR,
                    seed=seed,
                )
                for number in range(start, stop)
            ]
        )


@dataclass(frozen=True)
class GeneratedData:
    """A run's synthetic watchlist and probe pools, and the seconds taken to make them."""

    watchlist: SyntheticWatchlist
    single_probes: Matrix
    batch_probes: Matrix
    generate_s: float


def generate_data(config: LoadConfig) -> GeneratedData:
    """The watchlist, single probes and batch probes of a run, from ``config.seed``:
    every probe a distinct capture, as real traffic would be."""
    rng = np.random.default_rng(config.seed)
    model = TemplateModel()
    started = time.perf_counter()
    watchlist = synthetic_watchlist(config.watchlist, model, rng)
    single = probe_templates(
        config.single_probes_needed, watchlist, model, rng, hit_rate=config.hit_rate
    )
    batch = probe_templates(
        config.batch_size * config.batch_calls_needed,
        watchlist,
        model,
        rng,
        hit_rate=config.hit_rate,
    )
    return GeneratedData(watchlist, single, batch, time.perf_counter() - started)
