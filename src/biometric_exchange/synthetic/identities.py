"""Biographic identities drawn in bulk, as columns.

Shares (all illustrative, stated here so nobody mistakes them for statistics):

* sex: female with ``people.FEMALE_SHARE`` (0.4), else male;
* age at the reference date: a minor (0-17) with ``people.MINOR_SHARE`` (0.2;
  UNICEF reported about one crosser in five was a child in 2023), else an
  adult of 18-65, the birth date uniform within the year of age;
* legal status: asylum seeker / refugee with ``LEGAL_STATUS_SHARES`` by
  region (higher for extra-regional people), else none;
* unaccompanied minor: ``UNACCOMPANIED_SHARE`` of minors aged 12 or more;
* documents: ``SYN-`` and 8 characters; the identity number is scrambled by
  a seeded bijection, so numbers look random yet never repeat.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.domain import LegalStatus
from biometric_exchange.synthetic.mix import draw_codes, extra_regional, locale_for
from biometric_exchange.synthetic.names import NamePools
from biometric_exchange.synthetic.people import (
    ADULT_AGE_RANGE,
    DOCUMENT_PREFIX,
    FEMALE_SHARE,
    MINOR_SHARE,
)

LEGAL_STATUS_SHARES: dict[bool, tuple[float, float]] = {
    False: (0.06, 0.02),
    True: (0.15, 0.04),
}
"""extra_regional → (asylum seeker, refugee) shares."""
UNACCOMPANIED_SHARE = 0.1
UNACCOMPANIED_MIN_AGE = 12
_ALPHABET = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", dtype=np.uint8)
_DOC_DIGITS = 8
_DOC_SPACE = 36**_DOC_DIGITS
DOCUMENT_SPACE = _DOC_SPACE
_DOC_MULTIPLIER = 2_147_483_647
"""Prime, so coprime with 36**8: ``n → n·m + c mod 36**8`` is a bijection."""


@dataclass(frozen=True)
class People:
    """n people as columns; names JSON-escaped."""

    given_name: NDArray[np.str_]
    family_name: NDArray[np.str_]
    sex: NDArray[np.str_]
    birth_date: NDArray[np.datetime64]
    nationality: NDArray[np.str_]
    document_number: NDArray[np.str_]
    legal_status: NDArray[np.str_]
    unaccompanied_minor: NDArray[np.bool_]
    minor: NDArray[np.bool_]
    """Under 18 at the reference date."""
    extra_regional: NDArray[np.bool_]

    def __len__(self) -> int:
        return int(self.sex.size)


def draw_people(
    rng: np.random.Generator,
    numbers: NDArray[np.int64],
    reference: dt.date,
    pools: NamePools,
    *,
    document_offset: int,
    sex: NDArray[np.str_] | None = None,
    adult: NDArray[np.bool_] | None = None,
) -> People:
    """People for identity ``numbers``; with one ``document_offset`` per population,
    distinct numbers give distinct document numbers. ``sex`` fixes the sexes;
    ``adult`` forces adults where True."""
    n = numbers.size
    codes = draw_codes(rng, n)
    if sex is None:
        sex = np.where(rng.random(n) < FEMALE_SHARE, "F", "M")
    minor = rng.random(n) < MINOR_SHARE
    if adult is not None:
        minor &= ~adult
    ages = np.where(
        minor,
        rng.integers(0, ADULT_AGE_RANGE[0], n),
        rng.integers(ADULT_AGE_RANGE[0], ADULT_AGE_RANGE[1] + 1, n),
    )
    extra = extra_regional(codes)
    given = np.empty(n, dtype=object)
    family = np.empty(n, dtype=object)
    for code in np.unique(codes):
        rows = np.flatnonzero(codes == code)
        given[rows], family[rows] = pools.draw(rng, locale_for(str(code)), sex[rows])
    return People(
        given_name=given.astype(str),
        family_name=family.astype(str),
        sex=sex,
        birth_date=_birth_dates(rng, ages, reference),
        nationality=codes,
        document_number=document_numbers(numbers, document_offset),
        legal_status=_legal_status(rng, extra),
        unaccompanied_minor=minor
        & (ages >= UNACCOMPANIED_MIN_AGE)
        & (rng.random(n) < UNACCOMPANIED_SHARE),
        minor=minor,
        extra_regional=extra,
    )


def _birth_dates(
    rng: np.random.Generator, ages: NDArray[np.int64], reference: dt.date
) -> NDArray[np.datetime64]:
    """Birth dates giving exactly ``ages`` whole years at ``reference``."""
    top = int(ages.max(initial=0)) + 1
    latest = np.asarray([_years_before(reference, a) for a in range(top)], dtype="M8[D]")
    earliest = np.asarray(
        [_years_before(reference, a + 1) + dt.timedelta(days=1) for a in range(top)],
        dtype="M8[D]",
    )
    span = (latest - earliest).astype(np.int64)[ages]
    offsets = (rng.random(ages.size) * (span + 1)).astype(np.int64)
    result: NDArray[np.datetime64] = earliest[ages] + offsets.astype("m8[D]")
    return result


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a non-leap year
        return day.replace(year=day.year - years, day=28)


def _legal_status(rng: np.random.Generator, extra: NDArray[np.bool_]) -> NDArray[np.str_]:
    asylum = np.where(extra, LEGAL_STATUS_SHARES[True][0], LEGAL_STATUS_SHARES[False][0])
    refugee = np.where(extra, LEGAL_STATUS_SHARES[True][1], LEGAL_STATUS_SHARES[False][1])
    roll = rng.random(extra.size)
    status: NDArray[np.str_] = np.where(
        roll < asylum,
        LegalStatus.ASYLUM_SEEKER.value,
        np.where(roll < asylum + refugee, LegalStatus.REFUGEE.value, LegalStatus.NONE.value),
    )
    return status


def document_numbers(numbers: NDArray[np.int64], offset: int) -> NDArray[np.str_]:
    """``SYN-`` plus 8 base-36 characters, distinct for distinct ``numbers``."""
    values = (numbers.astype(np.int64) * _DOC_MULTIPLIER + offset) % _DOC_SPACE
    digits = np.empty((values.size, _DOC_DIGITS), dtype=np.uint8)
    for position in range(_DOC_DIGITS - 1, -1, -1):
        values, digit = np.divmod(values, 36)
        digits[:, position] = _ALPHABET[digit]
    text = np.ascontiguousarray(digits).view(f"S{_DOC_DIGITS}").ravel().astype(str)
    result: NDArray[np.str_] = np.char.add(DOCUMENT_PREFIX, text)
    return result
