"""One chunk of a population: identities, faces, journeys, encounters, watchlists.

A chunk of k identities holds ``FRAUD_SHARE``·k fraud travellers (one face,
a primary and an alias identity), ``WATCHLIST_ONLY_SHARE``·k subjects who
only fill the watchlists, and ordinary travellers for the rest. Its random
streams come from ``SeedSequence(seed, spawn_key=(chunk index,))``, so a
chunk depends only on the seed, its index and its size.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.synthetic.corridor import (
    Journeys,
    NodeEncounters,
    choose_routes,
    draw_journeys,
    node_encounters,
)
from biometric_exchange.synthetic.identities import People, draw_people
from biometric_exchange.synthetic.lines import (
    encounter_lines,
    identity_lines,
    journey_lines,
    person_json,
    watchlist_lines,
)
from biometric_exchange.synthetic.names import NamePools
from biometric_exchange.synthetic.templates import FloatVector, Matrix, TemplateModel
from biometric_exchange.synthetic.truth import identity_frauds, watchlisted_travellers
from biometric_exchange.synthetic.watchlists import OWNERS, Listings, draw_listings

FRAUD_SHARE = 0.005
WATCHLIST_ONLY_SHARE = 0.01
ENROLMENT_MAX_NOISE = 1.0
"""Watchlist photos are enrolment quality: the capture-noise factor is capped at 1."""
NODES = ("CHL", "PAN")


@dataclass(frozen=True)
class Settings:
    """What every chunk of one population shares."""

    seed: int
    start: dt.date
    window_days: int
    model: TemplateModel
    pools: NamePools
    document_offset: int
    provenance: str
    """The provenance object, as JSON."""


@dataclass
class Counters:
    """Running totals across chunks: they number ids and template rows."""

    identities: int = 0
    faces: int = 0
    journeys: int = 0
    captures: int = 0
    watchlist_rows: int = 0
    encounters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(NODES, 0))
    entries: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OWNERS, 0))
    fraud_cases: int = 0
    watchlisted_travellers: int = 0


@dataclass(frozen=True)
class ChunkOutput:
    identities: list[str]
    journeys: list[str]
    encounters: list[str]
    watchlist: list[str]
    ground_truth: list[str]
    captures: Matrix
    capture_faces: NDArray[np.int64]
    watchlist_templates: Matrix
    watchlist_faces: NDArray[np.int64]


@dataclass(frozen=True)
class _Cast:
    """The chunk's faces (travellers first, then watchlist-only) and their identities."""

    primary: People
    alias: People
    """One alias identity per fraud face, in ``fraud_faces`` order."""
    numbers: NDArray[np.int64]
    """Identity numbers: primaries (one per face), then aliases."""
    fraud_faces: NDArray[np.int64]
    n_trav: int
    face_ids: NDArray[np.int64]
    latents: Matrix
    noise: FloatVector

    @property
    def n_faces(self) -> int:
        return int(self.face_ids.size)

    @property
    def travelling(self) -> NDArray[np.bool_]:
        return np.arange(self.n_faces) < self.n_trav

    @property
    def is_fraud(self) -> NDArray[np.bool_]:
        flags = np.zeros(self.n_faces, dtype=np.bool_)
        flags[self.fraud_faces] = True
        return flags

    def primary_ids(self) -> list[str]:
        return _ids("ID-", self.numbers[: self.n_faces])

    def alias_ids(self) -> list[str]:
        """The alias identity id of each face ("" where it has none)."""
        spread = [""] * self.n_faces
        aliases = _ids("ID-", self.numbers[self.n_faces :])
        for face, identity in zip(self.fraud_faces.tolist(), aliases, strict=True):
            spread[face] = identity
        return spread


def _ids(prefix: str, numbers: NDArray[np.int64], width: int = 8) -> list[str]:
    return [f"{prefix}{n:0{width}d}" for n in numbers.tolist()]


def _rngs(seed: int, index: int) -> list[np.random.Generator]:
    streams = np.random.SeedSequence(seed, spawn_key=(index,)).spawn(6)
    return [np.random.default_rng(stream) for stream in streams]


def build_chunk(index: int, k: int, s: Settings, c: Counters) -> ChunkOutput:
    """Generate chunk ``index`` of ``k`` identities; advance the counters."""
    people_rng, face_rng, route_rng, meet_rng, capture_rng, list_rng = _rngs(s.seed, index)
    cast = _cast(people_rng, face_rng, k, s, c)
    primary_ids, alias_ids = cast.primary_ids(), cast.alias_ids()
    primary_persons = person_json(cast.primary)
    alias_persons = [""] * cast.n_faces
    for face, person in zip(cast.fraud_faces.tolist(), person_json(cast.alias), strict=True):
        alias_persons[face] = person

    journeys = _journeys(route_rng, cast, s)
    met = node_encounters(meet_rng, journeys, cast.is_fraud[: cast.n_trav])
    encounter_ids = _numbered(met.country, NODES, "ENC", 8, c.encounters)
    presented = [
        (alias_ids if alias else primary_ids)[face]
        for face, alias in zip(met.face.tolist(), met.alias.tolist(), strict=True)
    ]
    capture_faces = np.repeat(met.face, met.captures)
    captures = s.model.captures(
        cast.latents[capture_faces], capture_rng, noise_multiplier=cast.noise[capture_faces]
    )
    first_rows = c.captures + np.concatenate([[0], np.cumsum(met.captures)[:-1]]).astype(np.int64)

    listings = draw_listings(
        list_rng,
        travelling=cast.travelling,
        minor=cast.primary.minor,
        unaccompanied=cast.primary.unaccompanied_minor,
        fraud=cast.is_fraud,
        start=s.start,
    )
    listed = s.model.captures(
        cast.latents[listings.face],
        list_rng,
        noise_multiplier=cast.noise[listings.face],
        max_noise_factor=ENROLMENT_MAX_NOISE,
    )
    entry_ids = _numbered(listings.owner, OWNERS, "WL", 7, c.entries)

    output = ChunkOutput(
        identities=_identity_records(cast, primary_ids, primary_persons, s.provenance),
        journeys=journey_lines(
            ids=_ids("JRN-", c.journeys + 1 + np.arange(cast.n_trav, dtype=np.int64)),
            faces=cast.face_ids[: cast.n_trav],
            identity_ids=primary_ids[: cast.n_trav],
            routes=journeys.route,
            points=journeys.points,
            dates=journeys.dates,
            provenance=s.provenance,
        ),
        encounters=encounter_lines(
            ids=encounter_ids,
            countries=met.country,
            journey_ids=_ids("JRN-", c.journeys + 1 + met.journey),
            faces=cast.face_ids[met.face].tolist(),
            identity_ids=presented,
            persons=[
                (alias_persons if alias else primary_persons)[face]
                for face, alias in zip(met.face.tolist(), met.alias.tolist(), strict=True)
            ],
            times=met.time,
            points=met.border_point,
            first_rows=first_rows,
            counts=met.captures,
            provenance=s.provenance,
        ),
        watchlist=_watchlist_records(
            listings=listings,
            entry_ids=entry_ids,
            cast=cast,
            primary_ids=primary_ids,
            primary_persons=primary_persons,
            c=c,
            provenance=s.provenance,
        ),
        ground_truth=watchlisted_travellers(
            listings=listings,
            entry_ids=entry_ids,
            listed=listed,
            met=met,
            encounter_ids=encounter_ids,
            presented=presented,
            captures=captures,
            face_ids=cast.face_ids,
            primary_ids=primary_ids,
            travelling=cast.travelling,
            provenance=s.provenance,
        )
        + identity_frauds(
            met=met,
            encounter_ids=encounter_ids,
            fraud_faces=cast.fraud_faces,
            face_ids=cast.face_ids,
            primary_ids=primary_ids,
            alias_ids=alias_ids,
            provenance=s.provenance,
        ),
        captures=captures,
        capture_faces=cast.face_ids[capture_faces],
        watchlist_templates=listed,
        watchlist_faces=cast.face_ids[listings.face],
    )
    _advance(c, cast, met, listings)
    return output


def _cast(
    people_rng: np.random.Generator, face_rng: np.random.Generator, k: int, s: Settings, c: Counters
) -> _Cast:
    """Identities and faces; fraud travellers are adults chosen at random."""
    n_alias = round(k * FRAUD_SHARE)
    n_trav = k - round(k * WATCHLIST_ONLY_SHARE) - n_alias
    n_faces = k - n_alias
    numbers = c.identities + 1 + people_rng.permutation(k).astype(np.int64)
    fraud_faces = np.sort(people_rng.choice(n_trav, n_alias, replace=False)).astype(np.int64)
    forced_adult = np.zeros(n_faces, dtype=np.bool_)
    forced_adult[fraud_faces] = True
    primary = draw_people(
        people_rng,
        numbers[:n_faces],
        s.start,
        s.pools,
        document_offset=s.document_offset,
        adult=forced_adult,
    )
    alias = draw_people(
        people_rng,
        numbers[n_faces:],
        s.start,
        s.pools,
        document_offset=s.document_offset,
        sex=primary.sex[fraud_faces],
        adult=np.ones(n_alias, dtype=np.bool_),
    )
    identity, noise = s.model.multipliers(primary.nationality, primary.minor)
    return _Cast(
        primary=primary,
        alias=alias,
        numbers=numbers,
        fraud_faces=fraud_faces,
        n_trav=n_trav,
        face_ids=c.faces + np.arange(n_faces, dtype=np.int64),
        latents=s.model.latents(face_rng, n_faces, identity_multiplier=identity),
        noise=noise,
    )


def _journeys(rng: np.random.Generator, cast: _Cast, s: Settings) -> Journeys:
    travellers = cast.primary.nationality[: cast.n_trav]
    routes = choose_routes(rng, travellers, cast.primary.extra_regional[: cast.n_trav])
    return draw_journeys(
        rng,
        np.arange(cast.n_trav, dtype=np.int64),
        routes,
        s.start,
        window_days=s.window_days,
        must_reach_panama=cast.is_fraud[: cast.n_trav],
    )


def _numbered(
    countries: NDArray[np.str_],
    order: tuple[str, ...],
    kind: str,
    width: int,
    next_: dict[str, int],
) -> list[str]:
    """Ids like ``PAN-ENC-00000001``, numbered per country across chunks."""
    ids = [""] * countries.size
    for country in order:
        rows = np.flatnonzero(countries == country)
        numbers = next_[country] + 1 + np.arange(rows.size, dtype=np.int64)
        for row, text in zip(
            rows.tolist(), _ids(f"{country}-{kind}-", numbers, width), strict=True
        ):
            ids[row] = text
        next_[country] += rows.size
    return ids


def _identity_records(
    cast: _Cast, primary_ids: list[str], primary_persons: list[str], provenance: str
) -> list[str]:
    """Every identity of the chunk, sorted by identity number."""
    aliases = cast.fraud_faces.size
    lines = identity_lines(
        ids=primary_ids,
        faces=cast.face_ids,
        traveller=cast.travelling,
        people=cast.primary,
        persons=primary_persons,
        provenance=provenance,
    ) + identity_lines(
        ids=_ids("ID-", cast.numbers[cast.n_faces :]),
        faces=cast.face_ids[cast.fraud_faces],
        traveller=np.ones(aliases, dtype=np.bool_),
        people=cast.alias,
        persons=person_json(cast.alias),
        provenance=provenance,
    )
    return [lines[i] for i in np.argsort(cast.numbers, kind="stable").tolist()]


def _watchlist_records(
    *,
    listings: Listings,
    entry_ids: list[str],
    cast: _Cast,
    primary_ids: list[str],
    primary_persons: list[str],
    c: Counters,
    provenance: str,
) -> list[str]:
    faces = listings.face.tolist()
    return watchlist_lines(
        ids=entry_ids,
        owners=listings.owner,
        categories=listings.category,
        faces=cast.face_ids[listings.face].tolist(),
        identity_ids=[primary_ids[f] for f in faces],
        persons=[primary_persons[f] for f in faces],
        valid_from=listings.valid_from,
        valid_until=listings.valid_until,
        template_rows=c.watchlist_rows + np.arange(len(listings), dtype=np.int64),
        provenance=provenance,
    )


def _advance(c: Counters, cast: _Cast, met: NodeEncounters, listings: Listings) -> None:
    c.identities += int(cast.numbers.size)
    c.faces += cast.n_faces
    c.journeys += cast.n_trav
    c.captures += int(met.captures.sum())
    c.watchlist_rows += len(listings)
    c.fraud_cases += int(cast.fraud_faces.size)
    c.watchlisted_travellers += int(cast.travelling[listings.face].sum())
