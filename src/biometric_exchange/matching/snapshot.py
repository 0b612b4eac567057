"""A gallery on disk as one sealed file, opened into memory the OS can share.

Format v2 (``MAGIC``): the gallery's image (``image``: ids, int8 code
panels, side values, float32 originals) sealed as a stream of AES-256-GCM
chunks (``sealedstream``) under the node's data key, so the file is
encrypted and authenticated at rest, with no size cap. Opening decrypts
the image chunk by chunk into a mapping (``placement``): a compact gallery
then searches the mapped codes in place (nothing quantised or copied, so
10M entries open in the time it takes to decrypt and read them), and with
``keep_image`` the decrypted image stays in shared memory for the next
process. Format v1 files (one AES-GCM seal of three ``.npy`` records) still
open (``snapshot_v1``).

With ``labels`` (``save_snapshot``), the plaintext goes on after the image:
page-aligned, a block of each row's labels and the ids' sorted order
(``labels``), found by a footer at the end. A file without it (written before
labels were kept, or without them) opens as before: ``open_snapshot`` then
gives neither.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from biometric_exchange.exceptions import ExchangeError, InvalidInput
from biometric_exchange.matching import placement, snapshot_v1
from biometric_exchange.matching.compact import CompactGallery
from biometric_exchange.matching.gallery import Gallery
from biometric_exchange.matching.idorder import IdOrder, sorted_order
from biometric_exchange.matching.image import PAGE, ImageError, image_pieces, read_image
from biometric_exchange.matching.labels import EntryLabels, LabelError, encode_block, read_block
from biometric_exchange.matching.sealedstream import (
    StreamError,
    last_tag,
    open_chunks,
    seal_pieces,
    verify_last,
)

MAGIC = b"BXGSNAP\x02"
CONTEXT = b"biometric-exchange/matching/gallery-snapshot/v2"
KEY_BYTES = 32
__all__ = [
    "MAGIC",
    "Opened",
    "SnapshotError",
    "discard_images",
    "load_snapshot",
    "open_snapshot",
    "save_snapshot",
]


class SnapshotError(ExchangeError):
    """A snapshot failed to open: wrong key, altered or truncated file, or not a snapshot."""


@dataclass(frozen=True)
class Opened:
    """A snapshot opened: its gallery, and the labels saved with it and its ids' order
    (both None when the file has no labels)."""

    gallery: Gallery
    labels: EntryLabels | None = None
    ids: IdOrder | None = None
    """Finds an id's number: its row in the image, its index in ``labels``."""


def save_snapshot(
    path: Path, gallery: Gallery, data_key: bytes, *, labels: EntryLabels | None = None
) -> None:
    """Write ``gallery`` to ``path`` (atomically, mode 0600), sealed under ``data_key``,
    with ``labels`` (one per row, in insertion order) if given."""
    key = _check_key(data_key)
    path = Path(path)
    size, pieces = image_pieces(gallery)
    if labels is not None:
        if labels.count != len(gallery):
            raise InvalidInput(f"labels: {labels.count} rows for a gallery of {len(gallery)}")
        at = -(-size // PAGE) * PAGE
        block = encode_block(labels, sorted_order(gallery.ids), at)
        pieces = itertools.chain(pieces, [bytes(at - size), block])
        size = at + len(block)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as file:
            seal_pieces(file, key, MAGIC, CONTEXT, size=size, pieces=pieces)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load_snapshot(
    path: Path,
    data_key: bytes,
    *,
    tile_size: int | None = None,
    gallery: Callable[[int], Gallery] | None = None,
    image_dir: Path | None = None,
    keep_image: bool = False,
) -> Gallery:
    """The gallery saved at ``path`` (``open_snapshot``'s, without its labels)."""
    return open_snapshot(
        path,
        data_key,
        tile_size=tile_size,
        gallery=gallery,
        image_dir=image_dir,
        keep_image=keep_image,
    ).gallery


def open_snapshot(
    path: Path,
    data_key: bytes,
    *,
    tile_size: int | None = None,
    gallery: Callable[[int], Gallery] | None = None,
    image_dir: Path | None = None,
    keep_image: bool = False,
) -> Opened:
    """The snapshot at ``path``; SnapshotError if it does not open under ``data_key``.

    ``gallery(size)`` chooses the kind: when it gives a ``CompactGallery``, the
    result searches the mapped image in place; otherwise its rows are copied in
    (``Gallery(dim, tile_size=...)`` by default). ``image_dir`` holds the
    decrypted image (anonymous memory without it); ``keep_image`` leaves it
    there for the next process to map (``placement``). A compact gallery's labels and
    id order view the mapping too; otherwise they are copied out of it.
    """
    key = _check_key(data_key)
    path = Path(path)
    if _magic(path) == snapshot_v1.MAGIC:
        try:
            return Opened(snapshot_v1.load(path, key, tile_size=tile_size, gallery=gallery))
        except snapshot_v1.V1Error as exc:
            raise SnapshotError(f"{path}: {exc}") from exc
    try:
        memory = None
        name = None
        if keep_image and image_dir is not None:
            name = placement.image_name(path, last_tag(path, MAGIC))
            size = verify_last(path, key, MAGIC, CONTEXT)
            memory = placement.existing(image_dir, name, size)
        if memory is None:
            size, chunks = open_chunks(path, key, MAGIC, CONTEXT)
            memory = placement.mapped(image_dir, size, lambda: chunks, name=name)
        image = read_image(memory)
        found = read_block(memoryview(memory), image.count)
    except StreamError as exc:
        if "not a sealed stream" in str(exc):
            raise SnapshotError(f"{path}: not a gallery snapshot (format v1 or v2)") from exc
        raise SnapshotError(
            f"{path}: snapshot does not decrypt: wrong data key, or the file was altered"
        ) from exc
    except (ImageError, LabelError, UnicodeDecodeError) as exc:
        raise SnapshotError(f"{path}: snapshot content is not readable: {exc}") from exc
    labels, order = found if found is not None else (None, None)
    ids = IdOrder(image.id_offsets, image.id_bytes, order) if order is not None else None
    made = gallery(image.count) if gallery is not None else None
    if isinstance(made, CompactGallery):
        made.close()
        return Opened(image.compact(tile_size=tile_size, order=order), labels, ids)
    if made is None:
        dim = image.codes.dim
        made = Gallery(dim) if tile_size is None else Gallery(dim, tile_size=tile_size)
    made.add(image.ids(), image.originals)
    return Opened(
        made,
        labels.copy() if labels is not None else None,
        ids.copy() if ids is not None else None,
    )


def discard_images(image_dir: Path, sealed_dir: Path, keep: Path | None = None) -> None:
    """Remove the shared images of snapshots in ``sealed_dir``, but that of ``keep``."""
    name = placement.image_name(keep, last_tag(keep, MAGIC)) if keep is not None else None
    placement.discard(image_dir, sealed_dir, name)


def _magic(path: Path) -> bytes:
    with path.open("rb") as file:
        return file.read(len(MAGIC))


def _check_key(data_key: bytes) -> bytes:
    if not isinstance(data_key, bytes) or len(data_key) != KEY_BYTES:
        raise InvalidInput(f"data_key: expected {KEY_BYTES} bytes")
    return data_key
