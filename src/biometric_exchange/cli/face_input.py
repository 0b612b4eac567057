"""What ``bx enroll --image`` and ``bx synth faces encode`` share: the detection
option, the synthetic-image check and how a face's location is described.

Light on purpose: enrolling a JSON record imports none of the synthetic
drawing code (the ``sim`` extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.faces import FaceEncoding, LocationSource
from biometric_exchange.images import is_marked_synthetic

RequireDetectionOption = Annotated[
    bool,
    typer.Option(
        "--require-detection",
        help="Refuse an image in which the detector finds no face, instead of "
        "encoding it at the synthetic layout's face box",
    ),
]


def require_synthetic_image(path: Path) -> None:
    """Refuse an image without the synthetic marker that `bx synth faces draw` writes."""
    if not path.is_file():
        raise InvalidInput(f"{path}: cannot read an image (no such file)")
    if not is_marked_synthetic(path):
        raise InvalidInput(
            f"{path}: not marked synthetic; this system encodes synthetic faces only "
            "(draw them with `bx synth faces draw`)"
        )


def describe_location(encoding: FaceEncoding) -> str:
    """One line saying where the encoded face was and how it was found."""
    top, right, bottom, left = encoding.location
    box = f"top={top} right={right} bottom={bottom} left={left}"
    if encoding.source is LocationSource.DETECTED:
        return f"face: found by the HOG detector ({encoding.faces_detected} found) at {box}"
    if encoding.source is LocationSource.GIVEN:
        return f"face: not detected; encoded at the given --location {box}"
    return f"face: not detected; encoded at the synthetic layout's face box {box}"
