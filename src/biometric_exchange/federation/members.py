"""The member states of the two regional conferences on migration (ISO 3166-1 alpha-3)."""

from __future__ import annotations

RCM = frozenset({"BLZ", "CAN", "CRI", "SLV", "USA", "GTM", "HND", "MEX", "NIC", "PAN", "DOM"})
"""Regional Conference on Migration (Puebla Process)."""
SACM = frozenset(
    {"ARG", "BOL", "BRA", "CHL", "COL", "ECU", "GUY", "PRY", "PER", "SUR", "URY", "VEN"}
)
"""South American Conference on Migration."""


def conference_of(code: str) -> str:
    """``"RCM"`` or ``"SACM"`` for a member state; ValueError for any other code."""
    if code in RCM:
        return "RCM"
    if code in SACM:
        return "SACM"
    raise ValueError(f"{code} is a member of neither the RCM nor the SACM")
