"""Synthetic face images as files: the marker every drawn image carries, and the
layout that places the face.

``bx synth faces draw`` writes PNGs whose text chunk ``SYNTHETIC_PNG_KEY``
starts ``synthetic=true;``; enrolment and ANSI/NIST-ITL Type-10 records accept
only such images. ``FACE_BOX_FRACTIONS`` is where the drawing puts the face,
which the face_recognition adapter falls back to when its detector finds none.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

SYNTHETIC_PNG_KEY = "biometric_exchange:synthetic"
"""PNG text key of the synthetic marker (``synthetic=true; generator=…; …``)."""
FACE_BOX_FRACTIONS = (0.36, 0.70, 0.775, 0.29)
"""(top, right, bottom, left) as fractions of the side: the mean HOG detection box."""

FaceLocation = tuple[int, int, int, int]
"""(top, right, bottom, left) in pixels, face_recognition's order."""


def is_marked_synthetic(path: Path) -> bool:
    """Whether the file at ``path`` is a PNG marked synthetic when it was drawn."""
    try:
        with Image.open(path) as image:
            value = image.info.get(SYNTHETIC_PNG_KEY)
    except (OSError, ValueError, Image.DecompressionBombError):
        return False
    return isinstance(value, str) and value.startswith("synthetic=true;")
