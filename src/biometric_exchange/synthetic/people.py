"""Synthetic identities (biographic data) for the demo.

Nationality weights
-------------------
``EXTRA_REGIONAL_MIX`` and ``REGIONAL_MIX`` are rounded, approximate relative
frequencies (thousands of people) of irregular crossings of the Darién in
2023, after the statistics of Panama's Servicio Nacional de Migración (SNM,
"Tránsito irregular por Darién 2023", migracion.gob.pa) as reported by EFE and
UNICEF: about 520,000 people, led by Venezuela, Ecuador, Haiti, China and
Colombia; Chile counts mostly Chilean-born children of Haitian parents; to late
September SNM counted 27,878 people from Asia and 7,389 from Africa, and about
a quarter of all crossers were minors. Figures for the small groups are
orders of magnitude only; they shape the demo, they are not statistics.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np
from faker import Faker

from biometric_exchange.domain import Person, Sex

EXTRA_REGIONAL_MIX: Mapping[str, float] = MappingProxyType(
    {
        "CHN": 25.0,
        "IND": 6.0,
        "AFG": 4.0,
        "CMR": 3.0,
        "NPL": 2.0,
        "BGD": 2.0,
        "SOM": 1.0,
        "ERI": 1.0,
        "ETH": 1.0,
        "NGA": 1.0,
    }
)
"""Nationalities outside the Americas (UN M49 019) seen in the Darién, 2023."""

REGIONAL_MIX: Mapping[str, float] = MappingProxyType(
    {
        "VEN": 329.0,
        "ECU": 57.0,
        "HTI": 47.0,
        "COL": 18.0,
        "CHL": 11.0,
        "PER": 3.0,
        "DOM": 2.0,
        "CUB": 1.0,
    }
)
"""Nationalities of the Americas seen in the Darién, 2023."""

NATIONALITY_MIX: Mapping[str, float] = MappingProxyType({**REGIONAL_MIX, **EXTRA_REGIONAL_MIX})
"""All nationalities with their approximate 2023 weights."""

FAKER_LOCALES: Mapping[str, str] = MappingProxyType(
    {
        "CHN": "zh_CN",
        "IND": "hi_IN",
        "NPL": "ne_NP",
        "BGD": "bn_BD",
        "AFG": "fa_IR",
        "CMR": "fr_FR",
        "HTI": "fr_FR",
        "NGA": "en_NG",
        "COL": "es_CO",
        "CHL": "es_CL",
        "VEN": "es_MX",
        "ECU": "es_MX",
        "PER": "es_MX",
        "DOM": "es_MX",
        "CUB": "es_MX",
    }
)
"""Faker locale per nationality; es_MX stands in for Latin American Spanish."""
FALLBACK_LOCALE = "en_US"
"""Used where Faker has no fitting locale (e.g. SOM, ERI, ETH)."""

DOCUMENT_PREFIX = "SYN-"
_DOCUMENT_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_DOCUMENT_LENGTH = 8
FEMALE_SHARE = 0.4
MINOR_SHARE = 0.2
ADULT_AGE_RANGE = (18, 65)
DEFAULT_REFERENCE_DATE = dt.date(2025, 1, 1)


class FakerPool:
    """One Faker instance per locale, reseeded from the caller's rng on each use."""

    def __init__(self) -> None:
        self._cache: dict[str, Faker] = {}

    def seeded(self, locale: str, seed: int) -> Faker:
        fake = self._cache.get(locale)
        if fake is None:
            fake = self._cache[locale] = Faker(locale)
        fake.seed_instance(seed)
        return fake


def draw_nationality(rng: np.random.Generator, *, extra_regional: bool) -> str:
    """Draw an extra-regional or regional nationality code, weighted by the mix."""
    mix = EXTRA_REGIONAL_MIX if extra_regional else REGIONAL_MIX
    codes = list(mix)
    weights = np.array([mix[code] for code in codes])
    return codes[int(rng.choice(len(codes), p=weights / weights.sum()))]


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a non-leap year
        return day.replace(year=day.year - years, day=28)


def _birth_date(rng: np.random.Generator, reference_date: dt.date, minor_share: float) -> dt.date:
    """A birth date giving a whole-year age: a minor, or else an adult aged 18-65."""
    if rng.random() < minor_share:
        age = int(rng.integers(0, ADULT_AGE_RANGE[0]))
    else:
        age = int(rng.integers(ADULT_AGE_RANGE[0], ADULT_AGE_RANGE[1] + 1))
    latest = _years_before(reference_date, age)
    earliest = _years_before(reference_date, age + 1) + dt.timedelta(days=1)
    span = (latest - earliest).days
    return earliest + dt.timedelta(days=int(rng.integers(0, span + 1)))


def _document_number(rng: np.random.Generator) -> str:
    picks = rng.integers(0, len(_DOCUMENT_ALPHABET), _DOCUMENT_LENGTH)
    return DOCUMENT_PREFIX + "".join(_DOCUMENT_ALPHABET[int(i)] for i in picks)


def generate_person(
    rng: np.random.Generator,
    faker_pool: FakerPool,
    nationality_code: str,
    *,
    reference_date: dt.date = DEFAULT_REFERENCE_DATE,
    minor_share: float = MINOR_SHARE,
) -> Person:
    """A synthetic person of ``nationality_code``, a minor with probability ``minor_share``.

    Ages are taken at ``reference_date``.
    """
    sex = Sex.FEMALE if rng.random() < FEMALE_SHARE else Sex.MALE
    locale = FAKER_LOCALES.get(nationality_code, FALLBACK_LOCALE)
    fake = faker_pool.seeded(locale, int(rng.integers(0, 2**63 - 1)))
    given = fake.first_name_female() if sex is Sex.FEMALE else fake.first_name_male()
    return Person(
        given_name=str(given),
        family_name=str(fake.last_name()),
        sex=sex,
        birth_date=_birth_date(rng, reference_date, minor_share),
        nationality=nationality_code,
        document_number=_document_number(rng),
    )
