"""The scenario's watchlist enrolled on a holder node, as synthetic records."""

from __future__ import annotations

import datetime as dt

from biometric_exchange import __version__
from biometric_exchange.domain import (
    Person,
    Provenance,
    Sex,
    WatchlistCategory,
    WatchlistEntry,
)
from biometric_exchange.evaluation.attacks.scenario import Scenario
from biometric_exchange.node.runtime import Node

BATCH = 1000
_CATEGORIES = tuple(WatchlistCategory)
_NATIONALITIES = ("CHN", "IND", "AFG", "CMR", "NPL", "UZB")


def _entry(number: int, entry_id: str, scenario: Scenario, seed: int) -> WatchlistEntry:
    template = scenario.templates[number].copy()
    template.setflags(write=False)
    return WatchlistEntry(
        entry_id=entry_id,
        category=_CATEGORIES[number % len(_CATEGORIES)],
        person=Person(
            given_name="Synthetic",
            family_name=f"Watchlist Subject {number}",
            sex=(Sex.FEMALE, Sex.MALE)[number % 2],
            birth_date=dt.date(1960 + number % 40, 1 + number % 12, 1 + number % 28),
            nationality=_NATIONALITIES[number % len(_NATIONALITIES)],
            document_number=f"SYN-ATK{number:07d}",
        ),
        template=template,
        valid_until=None,
        provenance=Provenance(
            synthetic=True, generator=f"biometric-exchange {__version__}", seed=seed
        ),
    )


def enrol_watchlist(node: Node, scenario: Scenario, *, seed: int) -> None:
    """Every entry of ``scenario`` on ``node``'s watchlist, BATCH at a time."""
    for start in range(0, len(scenario.ids), BATCH):
        stop = min(start + BATCH, len(scenario.ids))
        node.records.add_watchlist(
            [_entry(n, scenario.ids[n], scenario, seed) for n in range(start, stop)]
        )
