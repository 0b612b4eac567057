"""Exact k-NN matching of face templates (see ``engine`` for the method).

* ``Gallery``: the exact in-memory engine; ``CompactGallery``: int8 codes in
  memory, float32 originals on disk, the same answers.
* ``threshold_for_fpir``: the threshold for a target FPIR at a gallery size.
* ``save_snapshot`` / ``load_snapshot``: a gallery as one sealed file.
"""

from biometric_exchange.matching.compact import CompactGallery
from biometric_exchange.matching.fpir import (
    false_match_rate,
    fmr_for_fpir,
    fpir_for_fmr,
    threshold_for_fpir,
)
from biometric_exchange.matching.gallery import (
    DEFAULT_THRESHOLD,
    DEFAULT_TILE_SIZE,
    Gallery,
)
from biometric_exchange.matching.result import PAD_ID, Candidate, Scorer, SearchResult
from biometric_exchange.matching.snapshot import SnapshotError, load_snapshot, save_snapshot

__all__ = [
    "DEFAULT_THRESHOLD",
    "DEFAULT_TILE_SIZE",
    "PAD_ID",
    "Candidate",
    "CompactGallery",
    "Gallery",
    "Scorer",
    "SearchResult",
    "SnapshotError",
    "false_match_rate",
    "fmr_for_fpir",
    "fpir_for_fmr",
    "load_snapshot",
    "save_snapshot",
    "threshold_for_fpir",
]
