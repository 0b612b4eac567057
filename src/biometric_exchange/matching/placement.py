"""Where a decrypted snapshot image lives: private memory, or a shared-memory file.

* ``private``: an unlinked file in ``folder`` (``/dev/shm`` on Linux: RAM,
  never disk), written with ``pwrite`` and mapped read-only, so only the
  pages a search reads (the int8 codes, a few originals) count in the
  process; gone when the process ends.
* ``shared``: the same, under a name derived from the sealed file and its
  last tag, mode 0600, left in place: a restart or another process of the
  node maps it without decrypting, and the OS keeps one copy of its pages.
  It is plaintext in RAM outside any process until the snapshot changes
  (``discard``) or the machine restarts.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

PREFIX = "bx-watchlist-"


def image_name(sealed: Path, tag: bytes) -> str:
    """The shared image of the sealed file ``sealed`` whose last tag is ``tag``."""
    digest = hashlib.sha256(str(sealed.resolve()).encode() + b"\0" + tag).hexdigest()
    return f"{_owner(sealed.parent)}{digest[:24]}.image"


def _owner(folder: Path) -> str:
    """The names' prefix for snapshots kept in ``folder`` (one node's data folder)."""
    return f"{PREFIX}{hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:12]}-"


def mapped(
    folder: Path | None,
    size: int,
    chunks: Callable[[], Iterator[bytes]],
    *,
    name: str | None = None,
) -> mmap.mmap:
    """A read-only mapping of ``size`` bytes filled from ``chunks()``: in anonymous
    memory without ``folder``; else a file there, kept under ``name`` if given,
    unlinked at once otherwise."""
    if folder is None:
        memory = mmap.mmap(-1, max(size, 1))
        at = 0
        for chunk in chunks():
            memory[at : at + len(chunk)] = chunk
            at += len(chunk)
        return memory
    final = folder / name if name is not None else None
    temporary = folder / f".{PREFIX}{secrets.token_hex(8)}.partial"
    handle = os.open(temporary, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.ftruncate(handle, size)
        at = 0
        for chunk in chunks():
            os.pwrite(handle, chunk, at)
            at += len(chunk)
        memory = mmap.mmap(handle, size, access=mmap.ACCESS_READ)
        if final is not None:
            os.replace(temporary, final)
        else:
            temporary.unlink()
        return memory
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    finally:
        os.close(handle)


def existing(folder: Path, name: str, size: int) -> mmap.mmap | None:
    """The complete shared image ``name`` in ``folder`` mapped read-only, or None."""
    path = folder / name
    try:
        with path.open("rb") as file:
            if os.fstat(file.fileno()).st_size != size:
                return None
            return mmap.mmap(file.fileno(), size, access=mmap.ACCESS_READ)
    except FileNotFoundError:
        return None


def discard(folder: Path, sealed_dir: Path, keep: str | None = None) -> None:
    """Remove the shared images in ``folder`` of snapshots kept in ``sealed_dir``,
    except ``keep``."""
    for path in folder.glob(f"{_owner(sealed_dir)}*.image"):
        if path.name != keep:
            path.unlink(missing_ok=True)
