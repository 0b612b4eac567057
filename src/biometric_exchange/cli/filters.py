"""Filter values checked before a listing runs: an unknown code is an error, not an
empty result. Enumerations (``--status``, ``--kind``, ``--queue``…) are Typer
choices; these are the values no fixed list holds."""

from __future__ import annotations

from collections.abc import Sequence

from biometric_exchange.exceptions import InvalidInput, UnknownNationality
from biometric_exchange.regions import nationality


def nationality_code(value: str | None) -> str | None:
    """``--nationality`` as a known code (ISO 3166-1 alpha-3, or ICAO XXA/XXB/XXC/XXX)."""
    if value is None:
        return None
    try:
        return nationality(value, field_name="--nationality").code
    except UnknownNationality:
        raise InvalidInput(
            f"--nationality: unknown nationality code {value.strip()} "
            "(expected ISO 3166-1 alpha-3 such as ERI, or ICAO XXA/XXB/XXC/XXX)"
        ) from None


def partner_code(value: str | None, partners: Sequence[str]) -> str | None:
    """``--partner`` as one of ``partners`` (country codes), case ignored."""
    if value is None:
        return None
    code = value.strip().upper()
    if code not in partners:
        raise InvalidInput(
            f"--partner: {value!r} is not a partner of this node "
            f"(partners: {', '.join(partners) or 'none'})"
        )
    return code
