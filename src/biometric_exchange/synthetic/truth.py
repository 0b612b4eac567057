"""Ground-truth records of a chunk: watchlisted travellers and identity fraud.

A watchlisted traveller's record lists each of their encounters with the
best distance from its captures to the entry's template and whether that is
a match at face_recognition's 0.6; genuine pairs can miss, as with the real
model, and the record says so rather than hiding it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.synthetic.corridor import NodeEncounters
from biometric_exchange.synthetic.templates import Matrix
from biometric_exchange.synthetic.watchlists import Listings, in_force

TOLERANCE = 0.6


def _record(record: dict[str, object], provenance: str) -> str:
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    return f'{text[:-1]},"provenance":{provenance}}}'


def _rows_by_face(met: NodeEncounters) -> dict[int, list[int]]:
    grouped: dict[int, list[int]] = {}
    for row, face in enumerate(met.face.tolist()):
        grouped.setdefault(face, []).append(row)
    return grouped


def watchlisted_travellers(
    *,
    listings: Listings,
    entry_ids: Sequence[str],
    listed: Matrix,
    met: NodeEncounters,
    encounter_ids: Sequence[str],
    presented: Sequence[str],
    captures: Matrix,
    face_ids: NDArray[np.int64],
    primary_ids: Sequence[str],
    travelling: NDArray[np.bool_],
    provenance: str,
) -> list[str]:
    """One record per entry on a traveller (``presented``: identity id per encounter)."""
    by_face = _rows_by_face(met)
    starts = np.concatenate([[0], np.cumsum(met.captures)]).astype(np.int64)
    days = met.time.astype("M8[D]")
    lines = []
    for entry, face in enumerate(listings.face.tolist()):
        if not travelling[face]:
            continue
        template = listed[entry].astype(np.float64)
        seen = []
        for row in by_face.get(face, []):
            block = captures[starts[row] : starts[row + 1]].astype(np.float64)
            best = float(np.linalg.norm(block - template, axis=1).min())
            valid = in_force(
                listings.valid_from[entry : entry + 1],
                listings.valid_until[entry : entry + 1],
                days[row : row + 1],
            )
            seen.append(
                {
                    "encounter_id": encounter_ids[row],
                    "identity_id": presented[row],
                    "in_force": bool(valid[0]),
                    "distance": round(best, 6),
                    "match": best < TOLERANCE,
                }
            )
        record = {
            "record_type": "watchlisted_traveller",
            "entry_id": entry_ids[entry],
            "owner": str(listings.owner[entry]),
            "category": str(listings.category[entry]),
            "face_id": int(face_ids[face]),
            "identity_id": primary_ids[face],
            "encounters": seen,
        }
        lines.append(_record(record, provenance))
    return lines


def identity_frauds(
    *,
    met: NodeEncounters,
    encounter_ids: Sequence[str],
    fraud_faces: NDArray[np.int64],
    face_ids: NDArray[np.int64],
    primary_ids: Sequence[str],
    alias_ids: Sequence[str],
    provenance: str,
) -> list[str]:
    """One record per fraud face: its two identities and the encounters under each."""
    by_face = _rows_by_face(met)
    lines = []
    for face in fraud_faces.tolist():
        rows = by_face.get(face, [])
        record = {
            "record_type": "identity_fraud",
            "face_id": int(face_ids[face]),
            "identity_ids": [primary_ids[face], alias_ids[face]],
            "encounter_ids": [
                [encounter_ids[r] for r in rows if not met.alias[r]],
                [encounter_ids[r] for r in rows if met.alias[r]],
            ],
        }
        lines.append(_record(record, provenance))
    return lines
