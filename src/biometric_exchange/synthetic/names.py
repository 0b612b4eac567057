"""Names in bulk: pools of Faker-made names per locale, combined at random.

Calling Faker once per person costs tens of microseconds; a million people
would spend most of their time there. Instead each locale gets pools of
``POOL_SIZE`` Faker draws (female and male given names, female and male
family names), made once by a Faker instance seeded from the population seed
and the locale. A person's given and family names are drawn independently
from the pools, so combinations repeat more than Faker alone would produce,
and duplicates in a pool keep Faker's own frequencies. Spanish- and
Portuguese-speaking locales get two family names, as their documents do.
Names are stored JSON-escaped (without quotes), ready for the record writers.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from functools import cache

import numpy as np
from faker import Faker
from numpy.typing import NDArray

POOL_SIZE = 2000
"""Faker draws per locale and kind."""
TWO_SURNAME_PREFIXES = ("es_", "pt_")


def _escaped(name: object) -> str:
    return json.dumps(str(name).strip() or "X", ensure_ascii=False)[1:-1]


@dataclass(frozen=True)
class _LocalePools:
    given: dict[str, NDArray[np.str_]]
    family: dict[str, NDArray[np.str_]]
    two_surnames: bool


@cache
def _build(seed: int, locale: str, n: int) -> _LocalePools:
    """Pools of ``n`` Faker draws per kind (cached: the same inputs give the same pools)."""
    fake = Faker(locale)
    state = np.random.SeedSequence([seed, zlib.crc32(locale.encode())])
    fake.seed_instance(int(state.generate_state(1)[0]))
    given = {
        "F": np.asarray([_escaped(fake.first_name_female()) for _ in range(n)]),
        "M": np.asarray([_escaped(fake.first_name_male()) for _ in range(n)]),
    }
    family = {
        "F": np.asarray([_escaped(fake.last_name_female()) for _ in range(n)]),
        "M": np.asarray([_escaped(fake.last_name_male()) for _ in range(n)]),
    }
    return _LocalePools(given, family, locale.startswith(TWO_SURNAME_PREFIXES))


@dataclass(frozen=True)
class NamePools:
    """Per-locale name pools, built on first use (and cached), deterministic for ``seed``."""

    seed: int
    pool_size: int = POOL_SIZE

    def draw(
        self, rng: np.random.Generator, locale: str, sex: NDArray[np.str_]
    ) -> tuple[NDArray[np.str_], NDArray[np.str_]]:
        """(given, family) names, JSON-escaped, for people of ``sex`` ("F"/"M") in ``locale``."""
        pools = _build(self.seed, locale, self.pool_size)
        n = sex.size
        given = np.empty(n, dtype=object)
        family = np.empty(n, dtype=object)
        for code in ("F", "M"):
            rows = np.flatnonzero(sex == code)
            picks = rng.integers(0, self.pool_size, (rows.size, 2))
            given[rows] = pools.given[code][picks[:, 0]]
            family[rows] = pools.family[code][picks[:, 1]]
            if pools.two_surnames:
                second = pools.family[code][rng.integers(0, self.pool_size, rows.size)]
                family[rows] = np.char.add(np.char.add(family[rows].astype(str), " "), second)
        return given.astype(str), family.astype(str)
