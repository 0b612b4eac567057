"""Nationality codes → UN M49 region class, and the extra-regional rule."""

from __future__ import annotations

import re
import subprocess
import sys

import pycountry
import pytest

from biometric_exchange.exceptions import InvalidInput, UnknownNationality
from biometric_exchange.regions import (
    AMERICAS_REGION,
    AMERICAS_SUBREGIONS,
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
    assert resolved.un_region not in {None, AMERICAS_REGION}
    assert resolved.un_subregion is not None
    assert resolved.un_subregion not in AMERICAS_SUBREGIONS
    assert resolved.is_extra_regional
    assert is_extra_regional(code)
    assert not resolved.is_refugee_code


@pytest.mark.parametrize(
    ("code", "subregion"),
    [
        ("PAN", "Latin America and the Caribbean"),
        ("VEN", "Latin America and the Caribbean"),
        ("HTI", "Latin America and the Caribbean"),
        ("CAN", "Northern America"),
        ("USA", "Northern America"),
        ("GRL", "Northern America"),
    ],
)
def test_nationalities_in_the_americas_are_regional(code: str, subregion: str) -> None:
    resolved = nationality(code)
    assert resolved.code == code
    assert resolved.un_region == AMERICAS_REGION
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
    assert resolved.un_region is None
    assert resolved.un_subregion is None
    assert resolved.is_extra_regional
    assert is_extra_regional(code)
    assert resolved.is_refugee_code is refugee


def test_kosovo_has_an_explicit_rule_in_southern_europe() -> None:
    resolved = nationality("xkx")
    assert (resolved.code, resolved.name) == ("XKX", "Kosovo")
    assert (resolved.un_region, resolved.un_subregion) == ("Europe", "Southern Europe")
    assert resolved.region_class is RegionClass.EXTRA_REGIONAL
    assert code_for_validator("XKX") == "XKX"


def test_every_current_iso_code_resolves_and_is_classed_by_its_m49_region() -> None:
    codes = [country.alpha_3 for country in pycountry.countries]
    assert len(codes) > 240
    for code in codes:
        resolved = nationality(code)
        assert resolved.code == code
        assert resolved.name
        in_americas = resolved.un_region == AMERICAS_REGION
        assert (resolved.region_class is RegionClass.AMERICAS) is in_americas, code
        assert (resolved.un_subregion in AMERICAS_SUBREGIONS) is in_americas, code


def test_a_territory_without_m49_region_is_extra_regional() -> None:
    resolved = nationality("ATA")
    assert resolved.un_region is None
    assert resolved.region_class is RegionClass.EXTRA_REGIONAL


@pytest.mark.parametrize("code", ["ANT", "SCG", "YUG", "ZAR"])
def test_withdrawn_iso_codes_are_refused(code: str) -> None:
    assert pycountry.historic_countries.get(alpha_3=code) is not None
    with pytest.raises(UnknownNationality, match=rf"^nationality: '{code}' is not an ISO 3166-1"):
        nationality(code)


def test_importing_regions_loads_no_country_data() -> None:
    probe = (
        "import sys, biometric_exchange.regions; "
        "print(sorted({'pycountry', 'countryinfo'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


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
