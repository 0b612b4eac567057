"""Opening a compact gallery from its sealed snapshot, in fresh processes.

What a node does at start: decrypt the snapshot into a mapping (``/dev/shm``)
and search the mapped codes in place. Measured in spawned processes, so the
resident memory is the gallery's alone (VmRSS after opening and after a
few one-probe searches, ids included); then the same with the image left in
shared memory, opened by a second process that maps it without decrypting.
"""

from __future__ import annotations

import multiprocessing
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from biometric_exchange.matching import CompactGallery, Gallery
from biometric_exchange.matching.snapshot import discard_images, load_snapshot, save_snapshot

SHARED = Path("/dev/shm")  # noqa: S108 - tmpfs: RAM


@dataclass
class Opening:
    gallery: int
    snapshot_mib: float
    save_s: float
    open_s: float
    """Decrypt into a private mapping and open (fresh process)."""
    resident_mib: float
    """VmRSS of that process after opening and searching, less its RSS before."""
    single_qps: float
    shared_first_s: float
    """Open with the image left in shared memory (decrypts)."""
    shared_again_s: float
    """A second process opening it: maps the image, no decryption."""


def measure_opening(gallery: Gallery, folder: Path, probes: np.ndarray) -> Opening:
    """Save ``gallery`` sealed in ``folder``, then open it in fresh processes."""
    key = secrets.token_bytes(32)
    path = folder / "watchlist.snapshot"
    started = time.perf_counter()
    save_snapshot(path, gallery, key)
    saved = time.perf_counter() - started
    np.save(folder / "probes.npy", probes)
    image_dir = SHARED if SHARED.is_dir() else None
    context = multiprocessing.get_context("spawn")
    try:
        with context.Pool(1) as pool:
            private = pool.apply(_open, (str(path), key, str(image_dir or ""), False))
        with context.Pool(1) as pool:
            first = pool.apply(_open, (str(path), key, str(image_dir or ""), True))
        with context.Pool(1) as pool:
            again = pool.apply(_open, (str(path), key, str(image_dir or ""), True))
    finally:
        if image_dir is not None:
            discard_images(image_dir, folder)
    return Opening(
        gallery=len(gallery),
        snapshot_mib=path.stat().st_size / (1 << 20),
        save_s=saved,
        open_s=private[0],
        resident_mib=private[1],
        single_qps=private[2],
        shared_first_s=first[0],
        shared_again_s=again[0],
    )


def _open(path: str, key: bytes, image_dir: str, keep: bool) -> tuple[float, float, float]:
    """(seconds to open, resident MiB added, one-probe searches/s) in this process."""
    before = _rss_mib()
    started = time.perf_counter()
    gallery = load_snapshot(
        Path(path),
        key,
        gallery=lambda _size: CompactGallery(),
        image_dir=Path(image_dir) if image_dir else None,
        keep_image=keep,
    )
    opened = time.perf_counter() - started
    probes = np.load(Path(path).parent / "probes.npy")
    started = time.perf_counter()
    for probe in probes:
        gallery.search(probe, k=3, threshold=0.6)
    rate = len(probes) / (time.perf_counter() - started)
    return opened, _rss_mib() - before, rate


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")
