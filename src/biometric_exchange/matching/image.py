"""A gallery as one flat image: what a snapshot seals and a node maps.

Layout (little-endian; every section starts on a 4 KiB page):

* header: ``MAGIC``, dim, groups, count, block rows, then (offset, length)
  of each section, then a 16-byte tag (set by the snapshot: it ties an
  image decrypted into shared memory to the sealed file it came from);
* id offsets (int64, count + 1) and the ids' UTF-8 bytes, in insertion order;
* int8 code panels (``panels``), ``(ceil(count / 16), groups, 16)`` int32;
* side values per block of ``BLOCK_COLUMNS`` rows, ``(3, rows)`` float32
  (scale, ``|h|^2``, residual: ``quantized``);
* the float32 originals, ``(count, dim)``;
* the centre the codes are quantised about, ``(dim,)`` float32 (``quantized``).

Images of the first version (``MAGIC_V1``) have no centre section: their codes
were quantised about zero, and they still read.

Every array of a mapped image is a view of the mapping: nothing is copied
and a compact gallery reads its codes straight from the shared pages.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.matching.columns import BLOCK_COLUMNS, ColumnBlocks
from biometric_exchange.matching.compact import CompactGallery
from biometric_exchange.matching.gallery import Gallery
from biometric_exchange.matching.idindex import IdIndex
from biometric_exchange.matching.idorder import SortedIds
from biometric_exchange.matching.mapped import MappedRows
from biometric_exchange.matching.packedids import PackedIds
from biometric_exchange.matching.panels import LANES, CodePanels, groups_for
from biometric_exchange.matching.quantized import quantize

MAGIC = b"BXIMAGE2"
MAGIC_V1 = b"BXIMAGE1"
PAGE = 4096
SECTIONS = ("id_offsets", "id_bytes", "panels", "side", "originals", "centre")
_HEADS = {
    MAGIC: struct.Struct("<8sIIQQ" + "QQ" * len(SECTIONS) + "16s"),
    MAGIC_V1: struct.Struct("<8sIIQQ" + "QQ" * (len(SECTIONS) - 1) + "16s"),
}
_HEAD = _HEADS[MAGIC]
TAG_OFFSET = _HEAD.size - 16
Floats = NDArray[np.float32]


class ImageError(ValueError):
    """An image whose header or sections do not add up."""


@dataclass(frozen=True)
class Layout:
    dim: int
    count: int
    id_bytes: int
    magic: bytes = MAGIC

    @property
    def groups(self) -> int:
        return groups_for(self.dim)

    def lengths(self) -> list[int]:
        panels = -(-self.count // LANES)
        return [
            8 * (self.count + 1),
            self.id_bytes,
            panels * self.groups * LANES * 4,
            12 * self.count,
            4 * self.dim * self.count,
            *([4 * self.dim] if self.magic == MAGIC else []),
        ]

    def offsets(self) -> list[int]:
        found, at = [], PAGE
        for length in self.lengths():
            found.append(at)
            at += -(-length // PAGE) * PAGE
        return found

    @property
    def size(self) -> int:
        return self.offsets()[-1] + self.lengths()[-1]

    def header(self, tag: bytes = bytes(16)) -> bytes:
        pairs = [v for pair in zip(self.offsets(), self.lengths(), strict=True) for v in pair]
        head = _HEADS[self.magic].pack(
            self.magic, self.dim, self.groups, self.count, BLOCK_COLUMNS, *pairs, tag
        )
        return head + bytes(PAGE - len(head))


def image_pieces(gallery: Gallery) -> tuple[int, Iterator[bytes]]:
    """The image's size and its bytes in order, produced block by block."""
    encoded = [ident.encode() for ident in gallery.ids]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(item) for item in encoded], out=offsets[1:])
    layout = Layout(gallery.dim, len(encoded), int(offsets[-1]))

    def pieces() -> Iterator[bytes]:
        yield layout.header()
        sections = _sections(gallery, offsets.tobytes(), b"".join(encoded))
        for start, length, section in zip(
            layout.offsets(), layout.lengths(), sections, strict=True
        ):
            written = 0
            for part in section:
                written += len(part)
                yield part
            if written != length:  # pragma: no cover - a bug, not an input
                raise ImageError(f"section at {start}: {written} bytes for {length}")
            if start != layout.offsets()[-1]:
                yield bytes(-length % PAGE)

    return layout.size, pieces()


def _centre(gallery: Gallery) -> Floats:
    """A compact gallery's own centre; the mean of the rows for any other."""
    if isinstance(gallery, CompactGallery):
        return gallery.centre
    total = np.zeros(gallery.dim, dtype=np.float64)
    for chunk in gallery.export_chunks(BLOCK_COLUMNS):
        total += chunk.astype(np.float64).sum(axis=0)
    return (total / max(1, len(gallery))).astype(np.float32)


def _sections(gallery: Gallery, offsets: bytes, ids: bytes) -> list[Iterator[bytes]]:
    side: list[Floats] = []
    centre = _centre(gallery)

    def panels() -> Iterator[bytes]:
        for chunk in gallery.export_chunks(BLOCK_COLUMNS):
            codes, values = quantize(chunk, centre)
            store = CodePanels(gallery.dim)
            store.append(np.ascontiguousarray(codes.T))
            side.append(values)
            for block in store.blocks():
                yield block.tobytes()

    def sides() -> Iterator[bytes]:
        for values in side:
            yield values.tobytes()

    def originals() -> Iterator[bytes]:
        for chunk in gallery.export_chunks(BLOCK_COLUMNS):
            yield np.ascontiguousarray(chunk, dtype="<f4").tobytes()

    pieces = [panels(), sides(), originals(), iter([centre.astype("<f4").tobytes()])]
    return [iter([offsets]), iter([ids]), *pieces]


@dataclass(frozen=True)
class Image:
    """A read image: views of its sections."""

    id_offsets: NDArray[np.int64]
    id_bytes: NDArray[np.uint8]
    codes: CodePanels
    side: ColumnBlocks[np.float32]
    originals: Floats
    centre: Floats

    @property
    def count(self) -> int:
        return len(self.id_offsets) - 1

    def ids(self) -> list[str]:
        """The ids as strings, in insertion order."""
        raw = self.id_bytes.tobytes()
        bounds = self.id_offsets.tolist()
        return [raw[bounds[i] : bounds[i + 1]].decode() for i in range(self.count)]

    def compact(
        self, *, tile_size: int | None = None, order: NDArray[np.int32] | None = None
    ) -> CompactGallery:
        """A compact gallery over the image; its ids stay packed (``PackedIds``), looked
        up through ``order`` when given (the ids' numbers sorted by their bytes:
        ``idorder.SortedIds``)."""
        parts = (self.codes, self.side, MappedRows(self.originals))
        ids: IdIndex
        if PackedIds.usable(self.id_bytes):
            if order is None:
                ids = PackedIds(self.id_offsets, self.id_bytes)
            else:
                ids = SortedIds(self.id_offsets, self.id_bytes, order)
        else:
            ids = IdIndex()
            ids.append(ids.check_new(self.ids()))
        if tile_size is None:
            return CompactGallery.from_parts(ids, parts, centre=self.centre)
        return CompactGallery.from_parts(ids, parts, centre=self.centre, tile_size=tile_size)


def read_image(buffer: Any) -> Image:
    """The image in ``buffer`` (bytes or a mapping), its arrays viewing it."""
    view = memoryview(buffer)
    if len(view) < PAGE:
        raise ImageError("shorter than its header")
    head = _HEADS.get(bytes(view[:8]))
    if head is None:
        raise ImageError("header does not match its sections")
    magic, dim, groups, count, block, *pairs, _tag = head.unpack_from(view)
    layout = Layout(dim, count, pairs[3], magic)
    if (
        block != BLOCK_COLUMNS
        or dim < 1
        or groups != layout.groups
        or list(pairs[0::2]) != layout.offsets()
        or list(pairs[1::2]) != layout.lengths()
        or len(view) < layout.size
    ):
        raise ImageError("header does not match its sections")
    at = layout.offsets()
    offsets = np.frombuffer(view, np.int64, count + 1, at[0])
    raw = np.frombuffer(view, np.uint8, layout.id_bytes, at[1])
    if offsets[0] != 0 or offsets[-1] != len(raw) or np.any(np.diff(offsets) <= 0):
        raise ImageError("id offsets are inconsistent")
    try:
        raw.tobytes().decode()
    except UnicodeDecodeError as exc:
        raise ImageError("ids are not UTF-8") from exc
    panels = np.frombuffer(view, np.int32, -(-count // LANES) * groups * LANES, at[2])
    panels = panels.reshape(-1, groups, LANES)
    per_block = BLOCK_COLUMNS // LANES
    blocks = [panels[start : start + per_block] for start in range(0, len(panels), per_block)]
    sides = []
    for first in range(0, count, BLOCK_COLUMNS):
        rows = min(BLOCK_COLUMNS, count - first)
        sides.append(np.frombuffer(view, np.float32, 3 * rows, at[3] + 12 * first).reshape(3, rows))
    originals = np.frombuffer(view, np.float32, count * dim, at[4]).reshape(count, dim)
    if magic == MAGIC:
        centre = np.frombuffer(view, np.float32, dim, at[5])
        if not np.all(np.isfinite(centre)):
            raise ImageError("centre is not finite")
    else:
        centre = np.zeros(dim, dtype=np.float32)
    return Image(
        offsets,
        raw,
        CodePanels.from_blocks(dim, blocks, count),
        ColumnBlocks.from_blocks(3, np.float32, sides, count),
        originals,
        centre,
    )
