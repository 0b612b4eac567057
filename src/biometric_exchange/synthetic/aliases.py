"""One synthetic traveller met again and again under many identities.

The load behind ``IDENTITY_CONFLICT``: ``encounters`` captures of ONE synthetic
face, spread round-robin over ``identities`` synthetic people (extra-regional,
adults), so that every capture lies within the matching threshold of every
other (checked: a draw that does not is refused) while the biographic
identities differ.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from biometric_exchange import __version__
from biometric_exchange.domain import Encounter, Provenance, validate_template
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.synthetic.dataset import BORDER_POINTS
from biometric_exchange.synthetic.people import FakerPool, draw_nationality, generate_person
from biometric_exchange.synthetic.templates import TemplateModel

NOISE_MULTIPLIER = 0.5
"""Half the usual capture noise: captures of the face lie about 0.2 apart."""


def one_face_many_identities(
    country: str,
    *,
    encounters: int,
    identities: int,
    seed: int,
    start: dt.datetime,
    threshold: float,
) -> list[Encounter]:
    """``encounters`` encounters met at ``country``'s border points, one minute apart
    from ``start``, of one face under ``identities`` distinct people (encounter ``i``
    carries identity ``i % identities``). Raises InvalidInput when the captures do
    not all lie below ``threshold`` of each other."""
    if not 1 <= identities <= encounters:
        raise InvalidInput("identities: between 1 and the number of encounters")
    rng = np.random.default_rng(seed)
    model, pool = TemplateModel(), FakerPool()
    latent = model.latent(rng)
    templates = model.captures(
        np.repeat(latent[None, :].astype(np.float32), encounters, axis=0),
        rng,
        noise_multiplier=NOISE_MULTIPLIER,
    )
    if _widest(templates) >= threshold:
        raise InvalidInput(f"seed {seed}: two captures lie {threshold} or more apart")
    people = [
        generate_person(rng, pool, draw_nationality(rng, extra_regional=True), minor_share=0.0)
        for _ in range(identities)
    ]
    points = BORDER_POINTS[country]
    provenance = Provenance(
        synthetic=True, generator=f"biometric-exchange {__version__} aliases", seed=seed
    )
    return [
        Encounter(
            encounter_id=f"{country}-ENC-A{number:05d}",
            person=people[number % identities],
            encountered_at=start + dt.timedelta(minutes=number),
            border_point=points[number % len(points)],
            template=validate_template(templates[number]),
            provenance=provenance,
        )
        for number in range(encounters)
    ]


def _widest(templates: np.ndarray) -> float:
    """The largest distance between two rows (``templates`` is small enough to square)."""
    rows = templates.astype(np.float64)
    norms = np.einsum("ij,ij->i", rows, rows)
    squared = norms[:, None] + norms[None, :] - 2.0 * rows @ rows.T
    return float(np.sqrt(max(float(squared.max()), 0.0)))
