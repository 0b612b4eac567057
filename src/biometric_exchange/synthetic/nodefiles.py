"""Part of a population, exported as the node's own record files.

Layout under the output folder (as ``bx synth demo-data`` writes it)::

    watchlist_CHL.jsonl, watchlist_PAN.jsonl      every entry of that owner
    encounters_CHL/*.json, encounters_PAN/*.json  the chosen encounters, one per file
    selection.json                                which encounters, and why

Chosen encounters: those named in the ground truth (watchlisted travellers,
identity fraud) first, then the others in file order, up to ``per_country``
per country. An encounter file carries the encounter's first capture (a node
encounter has one template). ``valid_from`` and the population's own fields
(``face_id``, ``journey_id``, …) are dropped. Every record passes
``recordfiles.encounter_from_dict`` / ``watchlist_entry_from_dict`` before
it is written.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from biometric_exchange.domain import TEMPLATE_DIM, TEMPLATE_MODEL
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.recordfiles import (
    encounter_from_dict,
    encounter_to_dict,
    watchlist_entry_from_dict,
    watchlist_entry_to_dict,
)
from biometric_exchange.synthetic.chunk import NODES
from biometric_exchange.synthetic.templates import Matrix

_ENCOUNTER_PREFIX = '{"record_type":"encounter","encounter_id":"'


def _lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield line


def _template(values: Matrix, row: int) -> dict[str, Any]:
    return {
        "model": TEMPLATE_MODEL,
        "dim": TEMPLATE_DIM,
        "values": [float(v) for v in values[row]],
    }


def node_watchlist_entry(record: dict[str, Any], templates: Matrix) -> dict[str, Any]:
    """A population watchlist record in the node's format, validated."""
    raw = {
        "record_type": "watchlist_entry",
        "entry_id": record["entry_id"],
        "category": record["category"],
        "person": record["person"],
        "valid_until": record["valid_until"],
        "template": _template(templates, record["template_row"]),
        "provenance": record["provenance"],
    }
    return watchlist_entry_to_dict(watchlist_entry_from_dict(raw, record["entry_id"]))


def node_encounter(record: dict[str, Any], captures: Matrix) -> dict[str, Any]:
    """A population encounter in the node's format (first capture), validated."""
    raw = {
        "record_type": "encounter",
        "encounter_id": record["encounter_id"],
        "person": record["person"],
        "encountered_at": record["encountered_at"],
        "border_point": record["border_point"],
        "template": _template(captures, record["template_rows"][0]),
        "provenance": record["provenance"],
    }
    return encounter_to_dict(encounter_from_dict(raw, record["encounter_id"]))


def ground_truth_encounters(population: Path) -> set[str]:
    """Encounter ids named in the population's ground truth."""
    named: set[str] = set()
    for line in _lines(population / "ground_truth.jsonl"):
        record = json.loads(line)
        if record["record_type"] == "watchlisted_traveller":
            named.update(e["encounter_id"] for e in record["encounters"])
        else:
            named.update(e for ids in record["encounter_ids"] for e in ids)
    return named


def _encounter_id(line: str) -> str:
    if line.startswith(_ENCOUNTER_PREFIX):
        start = len(_ENCOUNTER_PREFIX)
        return line[start : line.index('"', start)]
    return str(json.loads(line)["encounter_id"])


def choose_encounters(population: Path, per_country: int) -> dict[str, list[str]]:
    """Up to ``per_country`` encounter ids per country, ground-truth cases first."""
    named = ground_truth_encounters(population)
    chosen: dict[str, list[str]] = {country: [] for country in NODES}
    for first_pass in (True, False):
        taken = {e for ids in chosen.values() for e in ids}
        for line in _lines(population / "encounters.jsonl"):
            encounter_id = _encounter_id(line)
            country = encounter_id[:3]
            if len(chosen[country]) >= per_country or encounter_id in taken:
                continue
            if not first_pass or encounter_id in named:
                chosen[country].append(encounter_id)
    return chosen


def export_node_files(population: Path, out: Path, *, per_country: int) -> dict[str, int]:
    """Write node-format watchlists and up to ``per_country`` encounters per country."""
    if per_country < 0:
        raise InvalidInput("per_country: must not be negative")
    if out.exists() and any(out.iterdir()):
        raise InvalidInput(f"{out}: the folder is not empty; choose a new one")
    out.mkdir(parents=True, exist_ok=True)
    templates = np.load(population / "watchlist_templates.npy", allow_pickle=False, mmap_mode="r")
    captures = np.load(population / "captures.npy", allow_pickle=False, mmap_mode="r")
    counts: dict[str, int] = {}
    lines: dict[str, list[str]] = {owner: [] for owner in NODES}
    for line in _lines(population / "watchlists.jsonl"):
        record = json.loads(line)
        entry = node_watchlist_entry(record, templates)
        lines[record["owner"]].append(json.dumps(entry))
    for owner, entries in lines.items():
        (out / f"watchlist_{owner}.jsonl").write_text(
            "".join(f"{entry}\n" for entry in entries), encoding="utf-8"
        )
        counts[f"watchlist_{owner}"] = len(entries)
    chosen = choose_encounters(population, per_country)
    wanted = {e for ids in chosen.values() for e in ids}
    for country in NODES:
        (out / f"encounters_{country}").mkdir(exist_ok=True)
        counts[f"encounters_{country}"] = len(chosen[country])
    for line in _lines(population / "encounters.jsonl"):
        if _encounter_id(line) in wanted:
            record = json.loads(line)
            path = out / f"encounters_{record['country']}" / f"{record['encounter_id']}.json"
            path.write_text(json.dumps(node_encounter(record, captures), indent=1), "utf-8")
    selection = {
        "synthetic": True,
        "rule": "ground-truth encounters first, then file order",
        "per_country": per_country,
        "encounters": chosen,
    }
    (out / "selection.json").write_text(json.dumps(selection, indent=1) + "\n", "utf-8")
    return counts
