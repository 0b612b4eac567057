"""Synthetic face images as files: the marker every drawn image carries, and the
layout that places the face.

``bx synth faces draw`` writes PNGs whose text chunk ``SYNTHETIC_PNG_KEY``
starts ``synthetic=true;``; enrolment and ANSI/NIST-ITL Type-10 records accept
only such images. ``FACE_BOX_FRACTIONS`` is where the drawing puts the face,
which the face_recognition adapter falls back to when its detector finds none.
A node may keep such images beside its records (``keep_face_image``): the
operator console shows an encounter and a watchlist entry side by side.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from PIL import Image

from biometric_exchange.exceptions import InvalidInput

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


FACE_IMAGES_DIRNAME = "images"
"""Inside a node folder: ``images/encounters/<id>.png`` and ``images/watchlist/<id>.png``."""
FACE_IMAGE_KINDS = ("encounters", "watchlist")
_RECORD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def face_image_path(node_dir: Path, kind: str, record_id: str) -> Path | None:
    """Where the synthetic face image of a record is kept (None for an unknown kind or
    an id that is not a plain file name); the file may not exist."""
    if kind not in FACE_IMAGE_KINDS or not _RECORD_ID.fullmatch(record_id):
        return None
    return node_dir / FACE_IMAGES_DIRNAME / kind / f"{record_id}.png"


def keep_face_image(node_dir: Path, kind: str, record_id: str, source: Path) -> Path:
    """Copy a synthetic image beside the node's records (folders 0700, file 0600), for the
    console to show; refused unless the image carries the synthetic marker."""
    target = face_image_path(node_dir, kind, record_id)
    if target is None:
        raise InvalidInput(f"{record_id!r}: not a record id an image can be kept under")
    if not is_marked_synthetic(source):
        raise InvalidInput(f"{source}: not a PNG marked synthetic (bx synth faces draw)")
    for folder in (target.parent.parent, target.parent):
        folder.mkdir(mode=0o700, exist_ok=True)
    data = source.read_bytes()
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return target
