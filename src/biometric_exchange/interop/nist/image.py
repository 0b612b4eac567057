"""The Type-10 face image: a PNG drawn by ``bx synth faces draw``, marked synthetic."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.images import SYNTHETIC_PNG_KEY

_COLOUR_SPACES = {"RGB": "RGB", "L": "GRAY"}
"""Pillow mode → 10.012 CSP; any other mode is ``UNK``."""


@dataclass(frozen=True)
class FaceImage:
    """The PNG bytes and what Type-10 says about them."""

    data: bytes
    width: int
    height: int
    colour_space: str


def synthetic_face_image(data: bytes, name: str) -> FaceImage:
    """``data`` if it is a PNG carrying the synthetic marker, else a clear error."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind, (width, height), mode = image.format, image.size, image.mode
            marker = image.info.get(SYNTHETIC_PNG_KEY)
    except (OSError, ValueError, Image.DecompressionBombError):
        raise InvalidInput(f"{name}: not a readable image") from None
    if kind != "PNG":
        raise InvalidInput(f"{name}: expected a PNG image, got {kind}")
    if not (isinstance(marker, str) and marker.startswith("synthetic=true;")):
        raise InvalidInput(
            f"{name}: image not marked synthetic; this system carries synthetic faces only "
            "(draw them with `bx synth faces draw`)"
        )
    return FaceImage(data, width, height, _COLOUR_SPACES.get(mode, "UNK"))
