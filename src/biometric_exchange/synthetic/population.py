"""A synthetic population on the Chile → Darién → Panama corridor, streamed to disk.

SYNTHETIC DATA ONLY: every identity, document, face template, journey and
watchlist entry is generated; none describes a real person.

Files (this text is also written to the folder as FORMAT.md)
------------------------------------------------------------

JSON Lines files hold one UTF-8 JSON object per line. Every record carries
``"provenance": {"synthetic": true, "generator": "biometric-exchange
<version>", "seed": <seed>}``; ``.npy`` files (NumPy format 1.0, little-endian,
read with ``np.load(path, allow_pickle=False, mmap_mode="r")``) get theirs,
with a SHA-256, from ``manifest.json``. A ``person`` object has exactly the
fields of the node's record files (``recordfiles``): given_name, family_name,
sex (F/M), birth_date, nationality (ISO 3166-1 alpha-3), document_number
(``SYN-`` + 8 characters, unique), legal_status (none / asylum_seeker /
refugee) and unaccompanied_minor.

``identities.jsonl``
    One biographic identity: ``identity_id`` (``ID-00000001``), ``face_id``
    (the biological person; two identities share one only in fraud cases),
    ``traveller`` (false for subjects made only to fill watchlists),
    ``minor`` (under 18 at the start date), ``extra_regional`` (nationality
    outside the Americas, UN M49 019) and ``person``. Sorted by identity_id.
``journeys.jsonl``
    One per travelling face: ``journey_id``, ``face_id``, ``identity_id``
    (primary identity), ``route`` (see ``corridor.ROUTES``) and ``stops``,
    a list of ``[border_point, arrival date]`` pairs in travel order; a
    point's country is its first three letters.
``encounters.jsonl``
    A node's encounter with a traveller: ``encounter_id``
    (``CHL-ENC-00000001`` / ``PAN-ENC-…``), ``country`` (CHL or PAN),
    ``journey_id``, ``face_id``, ``identity_id`` and ``person`` (the identity
    presented), ``encountered_at`` (UTC, ISO 8601), ``border_point`` and
    ``template_rows``: one or more rows of ``captures.npy``, one per capture.
``captures.npy`` / ``capture_faces.npy``
    float32 (n, 128) encounter captures; int64 (n,) the face of each row.
``watchlists.jsonl``
    ``entry_id`` (``CHL-WL-0000001``), ``owner`` (CHL or PAN), ``category``
    (arrest_warrant, trafficking_suspect, smuggling_network, missing_person,
    deportation_order, fraudulent_document), ``face_id``, ``identity_id``,
    ``person``, ``valid_from``, ``valid_until`` (null: no expiry) and
    ``template_row`` in ``watchlist_templates.npy``.
``watchlist_templates.npy`` / ``watchlist_faces.npy``
    float32 (m, 128) enrolment-quality photos; int64 (m,) faces.
``ground_truth.jsonl``
    ``watchlisted_traveller``: a watchlist entry on someone who travels,
    with each of their encounters: ``identity_id`` presented, ``in_force``
    (entry valid that day), ``distance`` (best capture to the entry's
    template) and ``match`` (distance below face_recognition's 0.6; a
    genuine pair can miss, as with the real model). ``identity_fraud``: one
    ``face_id`` under two ``identity_ids`` (primary, alias) and the
    encounters under each.
``manifest.json``
    Parameters (seed, size, start, chunk size, template model, name pool
    size), counts, and per file its SHA-256, size and provenance.
``node_files/`` (optional)
    ``watchlist_CHL.jsonl``, ``watchlist_PAN.jsonl`` and
    ``encounters_CHL/*.json``, ``encounters_PAN/*.json`` in the node's own
    formats (``bx watchlist import``, ``bx enroll``); see ``nodefiles``.

Generation
----------
Identities are made in chunks of ``CHUNK`` and written as they are made,
so memory stays bounded at any size. Output depends only on the seed, the
size, the start date, the template model and the generator version: the
same inputs give identical bytes. Names come from pools of Faker draws per
locale (``names``); shares, routes and rates are documented, and
illustrative, in ``identities``, ``corridor``, ``watchlists`` and ``chunk``;
nationality weights in ``mix``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from biometric_exchange import SYNTHETIC_NOTICE, __version__
from biometric_exchange.domain import TEMPLATE_DIM, Provenance
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.synthetic.chunk import Counters, Settings, build_chunk
from biometric_exchange.synthetic.identities import DOCUMENT_SPACE
from biometric_exchange.synthetic.lines import provenance_json
from biometric_exchange.synthetic.names import POOL_SIZE, NamePools
from biometric_exchange.synthetic.templates import TemplateModel
from biometric_exchange.synthetic.writers import JsonlWriter, NpyWriter, sha256_of

FORMAT_VERSION = 1
GENERATOR = f"biometric-exchange {__version__}"
CHUNK = 10_000
DEFAULT_START = dt.date(2023, 1, 1)
"""Journeys start during the year from here: 2023, the year of the Darién figures."""
WINDOW_DAYS = 365
MAX_SIZE = 50_000_000
JSONL_FILES = (
    "identities.jsonl",
    "journeys.jsonl",
    "encounters.jsonl",
    "watchlists.jsonl",
    "ground_truth.jsonl",
)
NPY_FILES = (
    "captures.npy",
    "capture_faces.npy",
    "watchlist_templates.npy",
    "watchlist_faces.npy",
)

Progress = Callable[[int], None]
"""Called with the number of identities written so far."""


@dataclass(frozen=True)
class PopulationSpec:
    """What to generate; the same spec gives the same bytes."""

    size: int
    seed: int
    start: dt.date = DEFAULT_START
    model: TemplateModel = field(default_factory=TemplateModel)

    def __post_init__(self) -> None:
        if not 1 <= self.size <= MAX_SIZE:
            raise InvalidInput(f"size: must lie between 1 and {MAX_SIZE:,}")
        if self.seed < 0:
            raise InvalidInput("seed: must not be negative")
        if self.start + dt.timedelta(days=WINDOW_DAYS + 120) > dt.datetime.now(dt.UTC).date():
            raise InvalidInput("start: journeys must lie in the past; pick an earlier date")


def generate_population(
    spec: PopulationSpec, out: Path, *, progress: Progress | None = None
) -> dict[str, int]:
    """Write the population's files into ``out``; return the record counts."""
    out.mkdir(parents=True, exist_ok=True)
    provenance = Provenance(synthetic=True, generator=GENERATOR, seed=spec.seed)
    state = np.random.SeedSequence(spec.seed).generate_state(1, dtype=np.uint64)
    settings = Settings(
        seed=spec.seed,
        start=spec.start,
        window_days=WINDOW_DAYS,
        model=spec.model,
        pools=NamePools(spec.seed),
        document_offset=int(state[0]) % DOCUMENT_SPACE,
        provenance=provenance_json(provenance),
    )
    counters = Counters()
    jsonl = {name: JsonlWriter(out / name) for name in JSONL_FILES}
    arrays = {
        "captures.npy": NpyWriter(out / "captures.npy", "<f4", (TEMPLATE_DIM,)),
        "capture_faces.npy": NpyWriter(out / "capture_faces.npy", "<i8"),
        "watchlist_templates.npy": NpyWriter(
            out / "watchlist_templates.npy", "<f4", (TEMPLATE_DIM,)
        ),
        "watchlist_faces.npy": NpyWriter(out / "watchlist_faces.npy", "<i8"),
    }
    try:
        for index, first in enumerate(range(0, spec.size, CHUNK)):
            chunk = build_chunk(index, min(CHUNK, spec.size - first), settings, counters)
            jsonl["identities.jsonl"].write(chunk.identities)
            jsonl["journeys.jsonl"].write(chunk.journeys)
            jsonl["encounters.jsonl"].write(chunk.encounters)
            jsonl["watchlists.jsonl"].write(chunk.watchlist)
            jsonl["ground_truth.jsonl"].write(chunk.ground_truth)
            arrays["captures.npy"].append(chunk.captures)
            arrays["capture_faces.npy"].append(chunk.capture_faces)
            arrays["watchlist_templates.npy"].append(chunk.watchlist_templates)
            arrays["watchlist_faces.npy"].append(chunk.watchlist_faces)
            if progress is not None:
                progress(counters.identities)
    finally:
        writers: list[JsonlWriter | NpyWriter] = [*jsonl.values(), *arrays.values()]
        for writer in writers:
            writer.close()
    counts = _counts(counters)
    (out / "FORMAT.md").write_text(format_text(spec), encoding="utf-8")
    manifest = _manifest(spec, provenance, counts, out)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return counts


def _counts(c: Counters) -> dict[str, int]:
    return {
        "identities": c.identities,
        "faces": c.faces,
        "journeys": c.journeys,
        **{f"encounters_{country}": n for country, n in c.encounters.items()},
        "captures": c.captures,
        **{f"watchlist_{owner}": n for owner, n in c.entries.items()},
        "watchlisted_travellers": c.watchlisted_travellers,
        "fraud_cases": c.fraud_cases,
    }


def format_text(spec: PopulationSpec) -> str:
    """FORMAT.md: this module's documentation, headed by the run's parameters."""
    return (
        f"# Synthetic population: file format (version {FORMAT_VERSION})\n\n"
        f"**{SYNTHETIC_NOTICE}.** Generated by {GENERATOR}, seed {spec.seed}, "
        f"{spec.size:,} identities, journeys from {spec.start.isoformat()}.\n\n"
        f"{__doc__}"
    )


def _model_dict(model: TemplateModel) -> dict[str, Any]:
    described = dataclasses.asdict(model)
    described["effects"] = [
        {
            "group": effect.group.name,
            "nationalities": (
                sorted(effect.group.nationalities) if effect.group.nationalities else None
            ),
            "age_band": effect.group.age_band,
            "noise_multiplier": effect.noise_multiplier,
            "identity_multiplier": effect.identity_multiplier,
        }
        for effect in model.effects
    ]
    return described


def _manifest(
    spec: PopulationSpec, provenance: Provenance, counts: dict[str, int], out: Path
) -> dict[str, Any]:
    files = {}
    for name in (*JSONL_FILES, *NPY_FILES, "FORMAT.md"):
        path = out / name
        entry: dict[str, Any] = {"sha256": sha256_of(path), "bytes": path.stat().st_size}
        if name.endswith(".npy"):
            array = np.load(path, allow_pickle=False, mmap_mode="r")
            entry |= {"dtype": array.dtype.str, "shape": list(array.shape)}
        entry["provenance"] = dataclasses.asdict(provenance)
        files[name] = entry
    return {
        "synthetic": True,
        "notice": SYNTHETIC_NOTICE,
        "format_version": FORMAT_VERSION,
        "provenance": dataclasses.asdict(provenance),
        "parameters": {
            "size": spec.size,
            "seed": spec.seed,
            "start": spec.start.isoformat(),
            "window_days": WINDOW_DAYS,
            "chunk": CHUNK,
            "name_pool_size": POOL_SIZE,
            "template_model": _model_dict(spec.model),
        },
        "counts": counts,
        "files": files,
    }
