"""Nationality codes → UN M49 region class, and the extra-regional rule."""

from __future__ import annotations

import re

import pytest

from biometric_exchange.exceptions import InvalidInput, UnknownNationality
from biometric_exchange.regions import (
    RegionClass,
    code_for_validator,
    is_extra_regional,
    nationality,
    normalise_code,
)


@pytest.mark.parametrize("code", ["CHN", "IND", "NPL", "SOM", "DEU"])
def test_nationalities_outside_the_americas_are_extra_regional(code: str) -> None:
    resolved = nationality(code)
    assert resolved.code == code
    assert resolved.region_class is RegionClass.EXTRA_REGIONAL
    assert resolved.un_subregion is not None
    assert resolved.un_subregion not in {
        "Caribbean",
        "Central America",
        "South America",
        "Northern America",
    }
    assert resolved.is_extra_regional
    assert is_extra_regional(code)
    assert not resolved.is_refugee_code


@pytest.mark.parametrize(
    ("code", "subregion"),
    [
        ("PAN", "Central America"),
        ("VEN", "South America"),
        ("HTI", "Caribbean"),
        ("CAN", "Northern America"),
        ("USA", "Northern America"),
        ("GRL", "Northern America"),
    ],
)
def test_nationalities_in_the_americas_are_regional(code: str, subregion: str) -> None:
    resolved = nationality(code)
    assert resolved.code == code
    assert resolved.un_subregion == subregion
    assert resolved.region_class is RegionClass.AMERICAS
    assert not resolved.is_extra_regional
    assert not is_extra_regional(code)


@pytest.mark.parametrize(
    ("given", "expected"),
    [("chn", "CHN"), ("pan", "PAN"), ("Ven", "VEN"), (" som ", "SOM")],
)
def test_lower_case_and_padded_codes_are_normalised(given: str, expected: str) -> None:
    assert normalise_code(given) == expected
    assert nationality(given).code == expected
    assert nationality(given) == nationality(expected)
    assert code_for_validator(given) == expected


@pytest.mark.parametrize("code", ["D", "d"])
def test_icao_d_reads_as_germany(code: str) -> None:
    resolved = nationality(code)
    assert resolved.code == "DEU"
    assert resolved.name == "Germany"
    assert resolved.region_class is RegionClass.EXTRA_REGIONAL
    assert code_for_validator(code) == "DEU"


@pytest.mark.parametrize(
    ("code", "refugee"),
    [("XXA", False), ("XXB", True), ("XXC", True), ("XXX", False), ("xxb", True)],
)
def test_icao_codes_without_nationality_count_as_extra_regional(code: str, refugee: bool) -> None:
    resolved = nationality(code)
    assert resolved.code == code.upper()
    assert resolved.region_class is RegionClass.NO_NATIONALITY
    assert resolved.un_subregion is None
    assert resolved.is_extra_regional
    assert is_extra_regional(code)
    assert resolved.is_refugee_code is refugee


@pytest.mark.parametrize("code", ["ZZZ", "ABC", "PA", "12", "", "CHNA", "C-N", "D1"])
def test_unknown_or_invalid_codes_raise_naming_field_and_code(code: str) -> None:
    with pytest.raises(UnknownNationality, match=rf"^person\.nationality: {re.escape(repr(code))}"):
        nationality(code, field_name="person.nationality")


def test_unknown_nationality_is_an_input_error() -> None:
    with pytest.raises(InvalidInput, match=r"^nationality: 'ZZZ' is not an ISO 3166-1 alpha-3"):
        is_extra_regional("ZZZ")


def test_non_string_code_raises_naming_the_field() -> None:
    with pytest.raises(UnknownNationality, match=r"^holder: expected a country code string"):
        normalise_code(49, field_name="holder")  # type: ignore[arg-type]


@pytest.mark.parametrize("code", ["ZZZ", "PA", ""])
def test_code_for_validator_raises_value_error_without_field_prefix(code: str) -> None:
    with pytest.raises(ValueError, match=rf"^{re.escape(repr(code))} is not an ISO 3166-1") as info:
        code_for_validator(code)
    assert not isinstance(info.value, UnknownNationality)
