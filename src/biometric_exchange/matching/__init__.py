"""Exact numpy k-NN matching of face templates (see ``gallery`` for the method)."""

from biometric_exchange.matching.gallery import (
    DEFAULT_THRESHOLD,
    DEFAULT_TILE_SIZE,
    PAD_ID,
    Candidate,
    Gallery,
    SearchResult,
)

__all__ = [
    "DEFAULT_THRESHOLD",
    "DEFAULT_TILE_SIZE",
    "PAD_ID",
    "Candidate",
    "Gallery",
    "SearchResult",
]
