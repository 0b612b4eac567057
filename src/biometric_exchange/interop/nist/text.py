"""Text in ANSI/NIST-ITL fields: UTF-8 (declared in 1.015 DCS), carried through nistitl.

nistitl reads and writes every text field as Latin-1, one character per byte;
UTF-8 bytes pass through it unchanged when handed over as their Latin-1
reading, so a name keeps its own script (漢字, देवनागरी) both ways.
"""

from __future__ import annotations

from biometric_exchange.exceptions import InvalidInput

_SEPARATORS_AND_CONTROLS = frozenset(chr(code) for code in (*range(0x20), 0x7F))


def to_field(text: str, name: str) -> str:
    """``text`` as nistitl must be given it; control characters (the separators) refused."""
    if any(character in _SEPARATORS_AND_CONTROLS for character in text):
        raise InvalidInput(
            f"{name}: contains a control character, which ANSI/NIST-ITL reserves for its separators"
        )
    return text.encode("utf-8").decode("latin-1")


def from_field(value: str, name: str, *, utf8: bool) -> str:
    """A field's text as nistitl parsed it, decoded as the transaction's 1.015 DCS says."""
    if not utf8:
        return value
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        raise InvalidInput(f"{name}: not valid UTF-8, which 1.015 DCS declares") from None
