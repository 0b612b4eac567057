"""Officer passwords: Argon2id hashes (argon2-cffi), never the password itself.

``verify`` spends the same work on an unknown officer as on a known one (it
checks a fixed dummy hash), so the time a refusal takes does not tell whether
the officer exists.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from biometric_exchange.exceptions import InvalidInput

MIN_LENGTH = 12
MAX_LENGTH = 1024

_HASHER = PasswordHasher()
_DUMMY = _HASHER.hash("not the password of anyone: a fixed dummy")


def check_strength(password: str) -> str:
    """``password`` when long enough; InvalidInput otherwise (it is never echoed)."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"password: at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise InvalidInput(f"password: at most {MAX_LENGTH} characters")
    return password


def hash_password(password: str) -> str:
    """The Argon2id hash of a password that passed ``check_strength``."""
    return _HASHER.hash(check_strength(password))


def verify(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash`` (None: an unknown officer)."""
    try:
        _HASHER.verify(stored_hash or _DUMMY, password[:MAX_LENGTH])
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return stored_hash is not None


def needs_rehash(stored_hash: str) -> bool:
    """The hash was made with weaker parameters than today's."""
    return _HASHER.check_needs_rehash(stored_hash)
