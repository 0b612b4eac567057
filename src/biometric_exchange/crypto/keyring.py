"""The node's data keys: the current one seals, every retained one opens.

``keys/data.key`` is the current key; ``keys/data_keys/<key id>.key`` holds
retired keys still needed to open rows sealed before a rotation. A running
node notices a rotation (the current file changed) on its next write, and
finds a retired key on demand, so rotation needs no restart.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Protocol

from biometric_exchange.crypto.files import read_private
from biometric_exchange.exceptions import ConfigError

DATA_KEY_BYTES = 32
CURRENT_FILE = "data.key"
RETIRED_DIR = "data_keys"


def data_key_id(key: bytes) -> str:
    """16 hex characters naming a data key (a hash of it; reveals nothing of it)."""
    return hashlib.sha256(b"biometric-exchange/v1/data-key-id\x00" + key).hexdigest()[:16]


class DataKeys(Protocol):
    def current(self) -> tuple[str, bytes]: ...

    def key(self, key_id: str) -> bytes | None: ...


class StaticDataKey:
    """A single key (tests and tools that hold one key)."""

    def __init__(self, key: bytes) -> None:
        if len(key) != DATA_KEY_BYTES:
            raise ConfigError(f"a data key has {DATA_KEY_BYTES} bytes, not {len(key)}")
        self._key, self._id = key, data_key_id(key)

    def current(self) -> tuple[str, bytes]:
        return self._id, self._key

    def key(self, key_id: str) -> bytes | None:
        return self._key if key_id == self._id else None


class DataKeyring:
    """The keys directory of a node, re-read when the current key file changes."""

    def __init__(self, keys_directory: Path) -> None:
        self._directory = keys_directory
        self._lock = threading.Lock()
        self._stamp: int | None = None
        self._current: tuple[str, bytes] | None = None
        self._known: dict[str, bytes] = {}
        self.current()

    def current(self) -> tuple[str, bytes]:
        path = self._directory / CURRENT_FILE
        try:
            stamp = path.stat().st_mtime_ns
        except FileNotFoundError:
            raise ConfigError(f"missing key file {path}") from None
        with self._lock:
            if self._current is None or stamp != self._stamp:
                key = read_private(path)
                if len(key) != DATA_KEY_BYTES:
                    raise ConfigError(f"{path}: expected {DATA_KEY_BYTES} bytes")
                self._current, self._stamp = (data_key_id(key), key), stamp
                self._known[self._current[0]] = key
            return self._current

    def key(self, key_id: str) -> bytes | None:
        with self._lock:
            found = self._known.get(key_id)
        if found is not None:
            return found
        if self.current()[0] == key_id:
            return self.current()[1]
        path = self._directory / RETIRED_DIR / f"{key_id}.key"
        if not path.exists():
            return None
        key = read_private(path)
        if data_key_id(key) != key_id:
            raise ConfigError(f"{path}: holds another key than its name says")
        with self._lock:
            self._known[key_id] = key
        return key
