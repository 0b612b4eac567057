"""Nationality → UN M49 region, and the extra-regional test.

Region data comes from country_converter (UN M49 sub-regions). The Americas
are M49 region 019: the sub-regions Caribbean, Central America, South America
and Northern America. A migrant is *extra-regional* when their nationality
lies outside 019.

ICAO Doc 9303 codes that are not countries follow an explicit rule:

* ``XXA`` (stateless), ``XXB`` (refugee, 1951 Convention), ``XXC`` (other
  refugee) and ``XXX`` (unspecified nationality) have no region. Nothing shows
  such a person comes from the Americas, so they count as **extra-regional**
  (in scope of the early-warning mechanism). XXB and XXC also mark a person
  as a refugee, a protected category.
* ``D`` is ICAO's code for Germany and reads as ``DEU``.

Any other code is an error naming the field.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

from biometric_exchange.exceptions import UnknownNationality

AMERICAS_M49 = "019"
AMERICAS_SUBREGIONS = frozenset(
    {"Caribbean", "Central America", "South America", "Northern America"}
)
ICAO_NO_NATIONALITY = {
    "XXA": "stateless person",
    "XXB": "refugee (1951 Convention)",
    "XXC": "refugee (other)",
    "XXX": "unspecified nationality",
}
ICAO_REFUGEE_CODES = frozenset({"XXB", "XXC"})
ICAO_ALIASES = {"D": "DEU"}
_CODE_PATTERN = re.compile(r"^[A-Z]{1,3}$")
_NOT_FOUND = "not found"


class RegionClass(StrEnum):
    AMERICAS = "americas"
    EXTRA_REGIONAL = "extra_regional"
    NO_NATIONALITY = "no_nationality"
    """ICAO XXA/XXB/XXC/XXX: treated as extra-regional."""


@dataclass(frozen=True)
class Nationality:
    code: str
    """ISO 3166-1 alpha-3, or an ICAO XX? code."""
    name: str
    un_subregion: str | None
    region_class: RegionClass

    @property
    def is_extra_regional(self) -> bool:
        return self.region_class is not RegionClass.AMERICAS

    @property
    def is_refugee_code(self) -> bool:
        return self.code in ICAO_REFUGEE_CODES


@lru_cache(maxsize=1)
def _converter() -> Any:
    import country_converter  # noqa: PLC0415 - heavy import, only when needed

    logging.getLogger("country_converter").setLevel(logging.ERROR)
    return country_converter.CountryConverter()


def normalise_code(code: str, *, field_name: str = "nationality") -> str:
    """Upper-case, alias-resolved code, or UnknownNationality naming the field."""
    if not isinstance(code, str):
        raise UnknownNationality(f"{field_name}: expected a country code string")
    upper = code.strip().upper()
    upper = ICAO_ALIASES.get(upper, upper)
    if not _CODE_PATTERN.match(upper) or len(upper) != 3:
        raise UnknownNationality(
            f"{field_name}: {code!r} is not an ISO 3166-1 alpha-3 code (e.g. CHN, PAN)"
        )
    return upper


@lru_cache(maxsize=512)
def nationality(code: str, *, field_name: str = "nationality") -> Nationality:
    """Resolve a nationality code, or raise UnknownNationality naming the field."""
    normalised = normalise_code(code, field_name=field_name)
    if normalised in ICAO_NO_NATIONALITY:
        return Nationality(
            normalised, ICAO_NO_NATIONALITY[normalised], None, RegionClass.NO_NATIONALITY
        )
    converter = _converter()
    subregion = converter.convert(normalised, src="ISO3", to="UNregion", not_found=_NOT_FOUND)
    if not isinstance(subregion, str) or subregion == _NOT_FOUND:
        raise UnknownNationality(
            f"{field_name}: {code!r} is not an ISO 3166-1 alpha-3 code (e.g. CHN, PAN)"
        )
    name = converter.convert(normalised, src="ISO3", to="name_short", not_found=normalised)
    region_class = (
        RegionClass.AMERICAS if subregion in AMERICAS_SUBREGIONS else RegionClass.EXTRA_REGIONAL
    )
    return Nationality(normalised, str(name), subregion, region_class)


def code_for_validator(value: str) -> str:
    """The resolved code, raising ValueError (for pydantic validators, which
    prefix the field's location themselves)."""
    try:
        return nationality(value, field_name="code").code
    except UnknownNationality as exc:
        raise ValueError(str(exc).removeprefix("code: ")) from exc


def is_extra_regional(code: str) -> bool:
    return nationality(code).is_extra_regional
