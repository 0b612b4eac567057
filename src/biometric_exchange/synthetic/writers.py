"""Streaming file writers: JSON Lines, and ``.npy`` arrays grown row block by row block.

A ``.npy`` header states the array's shape, unknown until the last block is
written; ``NpyWriter`` writes a header padded for any row count, appends raw
little-endian rows, and rewrites the header (same length) on close. The
result is a plain version 1.0 ``.npy`` file (``np.load(path,
allow_pickle=False, mmap_mode="r")`` reads it).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import numpy as np
from numpy.typing import NDArray

_MAGIC = b"\x93NUMPY\x01\x00"
_ALIGN = 64
_MAX_ROWS = 10**15
_BUFFER = 1 << 20


class NpyWriter:
    """Append 2-d blocks (rows of ``row_shape``) or 1-d blocks of one dtype to a .npy file."""

    def __init__(self, path: Path, dtype: str, row_shape: tuple[int, ...] = ()) -> None:
        self.path = path
        self.dtype = np.dtype(dtype)
        self.row_shape = row_shape
        self.rows = 0
        self._header_len = len(self._header(_MAX_ROWS))
        self._file: IO[bytes] = path.open("wb", buffering=_BUFFER)
        self._file.write(b" " * self._header_len)

    def _header(self, rows: int, length: int | None = None) -> bytes:
        """The header for ``rows``, padded to ``length`` bytes (default: 64-aligned)."""
        shape = (rows, *self.row_shape)
        body = (
            f"{{'descr': {np.lib.format.dtype_to_descr(self.dtype)!r}, "
            f"'fortran_order': False, 'shape': {shape!r}, }}"
        ).encode("latin1")
        fixed = len(_MAGIC) + 2 + len(body) + 1
        padding = -fixed % _ALIGN if length is None else length - fixed
        size = (len(body) + padding + 1).to_bytes(2, "little")
        return _MAGIC + size + body + b" " * padding + b"\n"

    def append(self, block: NDArray[np.generic]) -> int:
        """Write ``block``; return the index of its first row."""
        if block.shape[1:] != self.row_shape:
            raise ValueError(f"{self.path.name}: rows of shape {self.row_shape} expected")
        first = self.rows
        self._file.write(np.ascontiguousarray(block, dtype=self.dtype).tobytes())
        self.rows += block.shape[0]
        return first

    def close(self) -> None:
        if self._file.closed:
            return
        self._file.seek(0)
        self._file.write(self._header(self.rows, self._header_len))
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class JsonlWriter:
    """Append pre-formatted JSON lines (UTF-8, "\\n"), counting them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines = 0
        self._file: IO[str] = path.open("w", encoding="utf-8", newline="\n", buffering=_BUFFER)

    def write(self, lines: list[str]) -> None:
        if lines:
            self._file.write("\n".join(lines))
            self._file.write("\n")
            self.lines += len(lines)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def sha256_of(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
