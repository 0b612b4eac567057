"""Synthetic watchlist entries made in bulk from templates alone (load and attack
runs): each record's fields follow from its number."""

from __future__ import annotations

import datetime as dt

from biometric_exchange.domain import (
    Person,
    Provenance,
    Sex,
    Template,
    WatchlistCategory,
    WatchlistEntry,
)

CATEGORIES = tuple(WatchlistCategory)
NATIONALITIES = ("CHN", "IND", "AFG", "CMR", "NPL", "UZB", "BGD", "SEN")
"""Extra-regional, none a protected code."""


def numbered_entry(
    number: int, entry_id: str, template: Template, *, label: str, generator: str, seed: int
) -> WatchlistEntry:
    """Entry ``number`` with ``template`` (copied, read-only): an adult of an
    extra-regional nationality, the family name ``<label> Subject <number>``."""
    row = template.copy()
    row.setflags(write=False)
    return WatchlistEntry(
        entry_id=entry_id,
        category=CATEGORIES[number % len(CATEGORIES)],
        person=Person(
            given_name="Synthetic",
            family_name=f"{label} Subject {number}",
            sex=(Sex.FEMALE, Sex.MALE)[number % 2],
            birth_date=dt.date(1960 + number % 40, 1 + number % 12, 1 + number % 28),
            nationality=NATIONALITIES[number % len(NATIONALITIES)],
            document_number=f"SYN-{label[:4].upper()}{number:07d}",
        ),
        template=row,
        valid_until=None,
        provenance=Provenance(synthetic=True, generator=generator, seed=seed),
    )
