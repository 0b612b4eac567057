"""Writing and reading secret files: mode 0600, never overwritten silently."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from biometric_exchange.exceptions import ConfigError

PRIVATE_MODE = 0o600


def write_private(path: Path, data: bytes, *, overwrite: bool = False) -> None:
    """Create ``path`` with mode 0600 (atomically replaced when ``overwrite``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and not overwrite:
        raise ConfigError(f"{path} already exists; refusing to overwrite a key")
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
    try:
        os.fchmod(fd, PRIVATE_MODE)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)


def write_public(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def read_private(path: Path) -> bytes:
    """Read a secret file, refusing one that others can read or write."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ConfigError(
            f"missing key file {path}; create the keys with `bx keys init {path.parent.parent}`"
        ) from None
    if stat.S_IMODE(mode) & 0o077:
        raise ConfigError(
            f"key file {path} is accessible by other users (mode {stat.S_IMODE(mode):o}); "
            f"run `chmod 600 {path}`"
        )
    return path.read_bytes()


def read_public(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"missing file {path}; create the keys with `bx keys init {path.parent.parent}`"
        ) from None
