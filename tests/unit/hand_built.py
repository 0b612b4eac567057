"""Hand-built synthetic people for the simulation tests' tiny worlds."""

from __future__ import annotations

from typing import Any

import numpy as np

from biometric_exchange.synthetic.identities import People


def hand_built_people(rows: list[dict[str, Any]]) -> People:
    """People from rows with given, family, sex, born, nationality, document, extra and
    (optionally) minor."""

    def column(name: str, dtype: str) -> np.ndarray[Any, Any]:
        return np.asarray([row[name] for row in rows], dtype=dtype)

    return People(
        given_name=column("given", "<U32"),
        family_name=column("family", "<U32"),
        sex=column("sex", "<U1"),
        birth_date=np.asarray([row["born"] for row in rows], dtype="M8[D]"),
        nationality=column("nationality", "<U3"),
        document_number=column("document", "<U12"),
        legal_status=np.full(len(rows), "none", dtype="<U16"),
        unaccompanied_minor=np.zeros(len(rows), dtype=np.bool_),
        minor=np.asarray([bool(row.get("minor", False)) for row in rows], dtype=np.bool_),
        extra_regional=column("extra", "?"),
    )
