"""JSON Lines of population records, formatted from columns.

f-strings over pre-escaped columns are several times faster than
``json.dumps`` per record; every value interpolated here is either
JSON-escaped already (names), generated from a fixed alphabet (codes, ids,
dates) or a number. ``tests/unit/test_population.py`` parses every line back.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.domain import Provenance
from biometric_exchange.synthetic.identities import People


def provenance_json(provenance: Provenance) -> str:
    return json.dumps(
        {
            "synthetic": provenance.synthetic,
            "generator": provenance.generator,
            "seed": provenance.seed,
        },
        separators=(",", ":"),
    )


def _bools(values: NDArray[np.bool_]) -> list[str]:
    return list(np.where(values, "true", "false").tolist())


def _dates(values: NDArray[np.datetime64]) -> list[str]:
    return list(np.datetime_as_string(values.astype("M8[D]")).tolist())


def person_json(people: People) -> list[str]:
    """The ``person`` object of each row, as ``recordfiles`` reads it."""
    return [
        f'{{"given_name":"{g}","family_name":"{f}","sex":"{s}","birth_date":"{b}",'
        f'"nationality":"{n}","document_number":"{d}","legal_status":"{ls}",'
        f'"unaccompanied_minor":{u}}}'
        for g, f, s, b, n, d, ls, u in zip(
            people.given_name.tolist(),
            people.family_name.tolist(),
            people.sex.tolist(),
            _dates(people.birth_date),
            people.nationality.tolist(),
            people.document_number.tolist(),
            people.legal_status.tolist(),
            _bools(people.unaccompanied_minor),
            strict=True,
        )
    ]


def identity_lines(
    *,
    ids: Sequence[str],
    faces: NDArray[np.int64],
    traveller: NDArray[np.bool_],
    people: People,
    persons: Sequence[str],
    provenance: str,
) -> list[str]:
    return [
        f'{{"record_type":"identity","identity_id":"{i}","face_id":{face},'
        f'"traveller":{t},"minor":{m},"extra_regional":{x},"person":{p},'
        f'"provenance":{provenance}}}'
        for i, face, t, m, x, p in zip(
            ids,
            faces.tolist(),
            _bools(traveller),
            _bools(people.minor),
            _bools(people.extra_regional),
            persons,
            strict=True,
        )
    ]


def journey_lines(
    *,
    ids: Sequence[str],
    faces: NDArray[np.int64],
    identity_ids: Sequence[str],
    routes: NDArray[np.str_],
    points: Sequence[tuple[str, ...]],
    dates: NDArray[np.datetime64],
    provenance: str,
) -> list[str]:
    day_text = np.datetime_as_string(dates).tolist()
    lines = []
    for row, (j, face, i, route, stops) in enumerate(
        zip(ids, faces.tolist(), identity_ids, routes.tolist(), points, strict=True)
    ):
        days = day_text[row]
        trail = ",".join(f'["{p}","{d}"]' for p, d in zip(stops, days, strict=False))
        lines.append(
            f'{{"record_type":"journey","journey_id":"{j}","face_id":{face},'
            f'"identity_id":"{i}","route":"{route}","stops":[{trail}],'
            f'"provenance":{provenance}}}'
        )
    return lines


def encounter_lines(
    *,
    ids: Sequence[str],
    countries: NDArray[np.str_],
    journey_ids: Sequence[str],
    faces: Sequence[int],
    identity_ids: Sequence[str],
    persons: Sequence[str],
    times: NDArray[np.datetime64],
    points: NDArray[np.str_],
    first_rows: NDArray[np.int64],
    counts: NDArray[np.int64],
    provenance: str,
) -> list[str]:
    stamps = np.datetime_as_string(times.astype("M8[s]")).tolist()
    return [
        f'{{"record_type":"encounter","encounter_id":"{e}","country":"{c}",'
        f'"journey_id":"{j}","face_id":{face},"identity_id":"{i}","person":{p},'
        f'"encountered_at":"{t}+00:00","border_point":"{b}",'
        f'"template_rows":[{",".join(str(first + k) for k in range(count))}],'
        f'"provenance":{provenance}}}'
        for e, c, j, face, i, p, t, b, first, count in zip(
            ids,
            countries.tolist(),
            journey_ids,
            faces,
            identity_ids,
            persons,
            stamps,
            points.tolist(),
            first_rows.tolist(),
            counts.tolist(),
            strict=True,
        )
    ]


def watchlist_lines(
    *,
    ids: Sequence[str],
    owners: NDArray[np.str_],
    categories: NDArray[np.str_],
    faces: Sequence[int],
    identity_ids: Sequence[str],
    persons: Sequence[str],
    valid_from: NDArray[np.datetime64],
    valid_until: NDArray[np.datetime64],
    template_rows: NDArray[np.int64],
    provenance: str,
) -> list[str]:
    until = [
        "null" if np.isnat(day) else f'"{text}"'
        for day, text in zip(valid_until, _dates(valid_until), strict=True)
    ]
    return [
        f'{{"record_type":"watchlist_entry","entry_id":"{e}","owner":"{o}",'
        f'"category":"{c}","face_id":{face},"identity_id":"{i}","person":{p},'
        f'"valid_from":"{f}","valid_until":{u},"template_row":{row},'
        f'"provenance":{provenance}}}'
        for e, o, c, face, i, p, f, u, row in zip(
            ids,
            owners.tolist(),
            categories.tolist(),
            faces,
            identity_ids,
            persons,
            _dates(valid_from),
            until,
            template_rows.tolist(),
            strict=True,
        )
    ]
