"""Nationality → UN M49 region, and the extra-regional test.

A code must be a current ISO 3166-1 alpha-3 code (``pycountry``); withdrawn
codes such as ``ANT`` or ``SCG`` are refused. Its UN M49 region and
sub-region come from ``countryinfo``. The Americas are M49 region 019, whose
sub-regions are Latin America and the Caribbean, and Northern America. A
migrant is *extra-regional* when their nationality lies outside 019.

Codes outside that data follow an explicit rule:

* ``XXA`` (stateless), ``XXB`` (refugee, 1951 Convention), ``XXC`` (other
  refugee) and ``XXX`` (unspecified nationality) are ICAO Doc 9303 codes with
  no region. Nothing shows such a person comes from the Americas, so they
  count as **extra-regional** (in scope of the early-warning mechanism). XXB
  and XXC also mark a person as a refugee, a protected category.
* ``D`` is ICAO's code for Germany and reads as ``DEU``.
* ``XKX`` (Kosovo: a user-assigned code that ISO does not list but Kosovo's
  passports carry) is Europe / Southern Europe, so extra-regional.
* ISO territories that M49 puts in no region in the data (Antarctica, Heard
  Island and McDonald Islands) are outside the Americas: extra-regional.

Any other code is an error naming the field. The data load on first use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from biometric_exchange.exceptions import UnknownNationality

AMERICAS_M49 = "019"
AMERICAS_REGION = "Americas"
AMERICAS_SUBREGIONS = frozenset({"Latin America and the Caribbean", "Northern America"})
ICAO_NO_NATIONALITY = {
    "XXA": "stateless person",
    "XXB": "refugee (1951 Convention)",
    "XXC": "refugee (other)",
    "XXX": "unspecified nationality",
}
ICAO_REFUGEE_CODES = frozenset({"XXB", "XXC"})
ICAO_ALIASES = {"D": "DEU"}
EXTRA_CODES: dict[str, tuple[str, str | None, str | None]] = {
    "XKX": ("Kosovo", "Europe", "Southern Europe")
}
"""Codes missing from ISO 3166-1 that travel documents use: (name, region, sub-region)."""
_CODE_PATTERN = re.compile(r"^[A-Z]{1,3}$")


class RegionClass(StrEnum):
    AMERICAS = "americas"
    EXTRA_REGIONAL = "extra_regional"
    NO_NATIONALITY = "no_nationality"
    """ICAO XXA/XXB/XXC/XXX: treated as extra-regional."""


@dataclass(frozen=True)
class Nationality:
    code: str
    """ISO 3166-1 alpha-3, XKX, or an ICAO XX? code."""
    name: str
    un_region: str | None
    """UN M49 region (e.g. "Americas", "Asia"); None for ICAO codes and unplaced territories."""
    un_subregion: str | None
    """UN M49 sub-region (e.g. "Latin America and the Caribbean", "Southern Asia")."""
    region_class: RegionClass

    @property
    def is_extra_regional(self) -> bool:
        return self.region_class is not RegionClass.AMERICAS

    @property
    def is_refugee_code(self) -> bool:
        return self.code in ICAO_REFUGEE_CODES


def _not_a_code(code: object, field_name: str) -> UnknownNationality:
    return UnknownNationality(
        f"{field_name}: {code!r} is not an ISO 3166-1 alpha-3 code (e.g. CHN, PAN)"
    )


def normalise_code(code: str, *, field_name: str = "nationality") -> str:
    """Upper-case, alias-resolved code, or UnknownNationality naming the field."""
    if not isinstance(code, str):
        raise UnknownNationality(f"{field_name}: expected a country code string")
    upper = code.strip().upper()
    upper = ICAO_ALIASES.get(upper, upper)
    if not _CODE_PATTERN.match(upper) or len(upper) != 3:
        raise _not_a_code(code, field_name)
    return upper


def _iso_name(code: str) -> str | None:
    """The ISO 3166-1 short (or common) name of a current alpha-3 code, else None."""
    import pycountry  # noqa: PLC0415 - loads its database: only when needed

    country = pycountry.countries.get(alpha_3=code)
    if country is None:
        return None
    return str(getattr(country, "common_name", None) or country.name)


def _m49(code: str) -> tuple[str | None, str | None] | None:
    """(region, sub-region) of an ISO alpha-3 code, None when the data lack the code."""
    from countryinfo import CountryInfo, CountryNotFoundError  # noqa: PLC0415 - loads on use

    try:
        info = CountryInfo(code)
    except CountryNotFoundError:
        return None
    if info.iso(3) != code:
        return None
    return info.region() or None, info.subregion() or None


@lru_cache(maxsize=512)
def nationality(code: str, *, field_name: str = "nationality") -> Nationality:
    """Resolve a nationality code, or raise UnknownNationality naming the field."""
    normalised = normalise_code(code, field_name=field_name)
    if normalised in ICAO_NO_NATIONALITY:
        return Nationality(
            normalised, ICAO_NO_NATIONALITY[normalised], None, None, RegionClass.NO_NATIONALITY
        )
    if normalised in EXTRA_CODES:
        name, region, subregion = EXTRA_CODES[normalised]
    else:
        iso_name = _iso_name(normalised)
        if iso_name is None:
            raise _not_a_code(code, field_name)
        placed = _m49(normalised)
        if placed is None:
            raise UnknownNationality(
                f"{field_name}: {code!r} has no UN M49 entry in the installed country data"
            )
        name, (region, subregion) = iso_name, placed
    region_class = RegionClass.AMERICAS if region == AMERICAS_REGION else RegionClass.EXTRA_REGIONAL
    return Nationality(normalised, name, region, subregion, region_class)


def code_for_validator(value: str) -> str:
    """The resolved code, raising ValueError (for pydantic validators, which
    prefix the field's location themselves)."""
    try:
        return nationality(value, field_name="code").code
    except UnknownNationality as exc:
        raise ValueError(str(exc).removeprefix("code: ")) from exc


def is_extra_regional(code: str) -> bool:
    return nationality(code).is_extra_regional
