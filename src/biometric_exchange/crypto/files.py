"""Writing and reading secret files: mode 0600, never overwritten silently."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from biometric_exchange.exceptions import ConfigError

PRIVATE_MODE = 0o600


def restore_hint(node_dir: Path) -> str:
    """What to do about a node's missing keys: restore them, never make new ones."""
    return f"restore the node's keys from a backup: `bx keys restore --node {node_dir} --from FILE`"


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
        raise ConfigError(f"missing key file {path}; {restore_hint(path.parent.parent)}") from None
    if stat.S_IMODE(mode) & 0o077:
        raise ConfigError(
            f"key file {path} is accessible by other users (mode {stat.S_IMODE(mode):o}); "
            f"run `chmod 600 {path}`"
        )
    return path.read_bytes()


def check_private_folder(path: Path) -> None:
    """Refuse a keys folder that other users can read, write or enter."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if mode & 0o077:
        raise ConfigError(
            f"keys folder {path} is accessible by other users (mode {mode:o}); "
            f"run `chmod 700 {path}`"
        )


def read_public(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"missing file {path}; {restore_hint(path.parent.parent)}") from None
