"""IDs typed by a unique prefix: ``ALR-3f2`` for the one alert whose id starts so."""

from __future__ import annotations

from collections.abc import Iterable

from biometric_exchange.exceptions import InvalidInput

MAX_NAMED = 10
"""Candidates an ambiguity error names; it counts the rest."""


def resolve_prefix(typed: str, known: Iterable[str], *, what: str) -> str:
    """The one id of ``known`` equal to ``typed`` or starting with it.

    InvalidInput names ``typed`` when none does, and the candidates when several do.
    """
    prefix = typed.strip()
    if not prefix:
        raise InvalidInput(f"{what}: give an id (or the start of one)")
    matches = sorted({item for item in known if item.startswith(prefix)})
    if prefix in matches:
        return prefix
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise InvalidInput(f"{what} {prefix!r}: no such {what} (no {what} id starts with it)")
    named = ", ".join(matches[:MAX_NAMED])
    more = f" and {len(matches) - MAX_NAMED} more" if len(matches) > MAX_NAMED else ""
    raise InvalidInput(
        f"{what} {prefix!r}: ambiguous, {len(matches)} match: {named}{more}; type more of it"
    )
