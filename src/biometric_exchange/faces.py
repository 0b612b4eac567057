"""The face_recognition adapter: an image in, a 128-value template out.

``encode_image`` loads an image with Pillow (as RGB), looks for faces with
face_recognition's HOG detector and encodes one with dlib's ResNet model
(``TEMPLATE_MODEL``), using the 5-point landmarks and no jitter, so the same
image always gives the same template.

Which face is encoded:

1. the face the detector finds, or the largest when it finds several;
2. else ``location`` when the caller gives one;
3. else, unless ``require_detection``, ``default_location``: the box where
   the faces of ``biometric_exchange.synthetic.faces`` lie. A real system
   would refuse an image without a detected face; this reference encodes at a
   known location because the HOG detector, trained on photographs, may miss
   a drawn face.

The models ship in the ``face_recognition_models`` package and load once, on
the first encoding. Nothing here prints or logs pixel data: errors name the
file, its size or mode only.
"""

from __future__ import annotations

import functools
import os
import warnings
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageFile, UnidentifiedImageError

from biometric_exchange.domain import Template, validate_template
from biometric_exchange.exceptions import ConfigError, InvalidInput, InvalidTemplate
from biometric_exchange.images import FACE_BOX_FRACTIONS, FaceLocation

MIN_SIDE = 64
"""Smallest accepted image side in pixels."""
MAX_PIXELS = 4096 * 4096
"""Largest accepted image (pixels), which bounds the detector's time."""
MIN_FACE_SIDE = 20
"""Smallest side of a face location in pixels."""
UPSAMPLE_BELOW = 1024
"""Images whose longer side is below this are upsampled once for detection."""

ImageSource = str | os.PathLike[str] | Image.Image | NDArray[Any]
RgbImage = NDArray[np.uint8]


class LocationSource(StrEnum):
    """Where the encoded face location came from."""

    DETECTED = "detected"
    GIVEN = "given"
    DEFAULT = "default"


@dataclass(frozen=True)
class FaceEncoding:
    """A template with how its face was found."""

    template: Template = field(repr=False)
    location: FaceLocation
    source: LocationSource
    faces_detected: int


@functools.cache
def _api() -> ModuleType:
    """face_recognition, imported (and its dlib models loaded) on first use."""
    truncated = ImageFile.LOAD_TRUNCATED_IMAGES
    with warnings.catch_warnings():
        # face_recognition_models imports the deprecated pkg_resources.
        warnings.filterwarnings("ignore", message=".*pkg_resources.*", category=UserWarning)
        try:
            import face_recognition  # noqa: PLC0415 - loads the models: deferred on purpose
        except ImportError as exc:  # pragma: no cover - broken install
            raise ConfigError(
                "face_recognition is not installed (the Makefile's venv target installs it)"
            ) from exc
        finally:
            # Its import lets Pillow accept truncated files process-wide; undo that.
            ImageFile.LOAD_TRUNCATED_IMAGES = truncated
    module: ModuleType = face_recognition
    return module


def _open_file(path: Path) -> Image.Image:
    try:
        if path.stat().st_size == 0:
            raise InvalidInput(f"{path}: empty file, not an image")
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as opened:
                width, height = opened.size
                if width * height > MAX_PIXELS:
                    raise InvalidInput(
                        f"{path}: image too large ({width}x{height} pixels, "
                        f"at most {MAX_PIXELS} pixels)"
                    )
                opened.load()
                return opened.convert("RGB")
    except UnidentifiedImageError as exc:
        raise InvalidInput(f"{path}: not an image Pillow can read") from exc
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise InvalidInput(f"{path}: image too large") from exc
    except (FileNotFoundError, IsADirectoryError, PermissionError, NotADirectoryError) as exc:
        raise InvalidInput(f"{path}: cannot read an image ({exc.__class__.__name__})") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        # Pillow raises these for truncated or corrupt image data.
        raise InvalidInput(f"{path}: damaged or truncated image") from exc


def _from_array(values: NDArray[Any]) -> RgbImage:
    array = np.asarray(values)
    if array.dtype != np.uint8:
        raise InvalidInput(f"image: expected uint8 pixels, got {array.dtype}")
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    elif array.ndim == 3 and array.shape[2] in (3, 4):
        array = array[:, :, :3]
    else:
        raise InvalidInput(f"image: expected heightxwidthx3 pixels, got shape {array.shape}")
    if array.shape[0] * array.shape[1] > MAX_PIXELS:
        raise InvalidInput(f"image: too large (at most {MAX_PIXELS} pixels)")
    return np.ascontiguousarray(array)


def load_image(source: ImageSource) -> RgbImage:
    """The image as a contiguous heightxwidthx3 uint8 RGB array, or InvalidInput."""
    if isinstance(source, Image.Image):
        array = np.array(source.convert("RGB"), dtype=np.uint8)
        name = "image"
    elif isinstance(source, np.ndarray):
        array = _from_array(source)
        name = "image"
    else:
        path = Path(source)
        array = np.array(_open_file(path), dtype=np.uint8)
        name = str(path)
    height, width = array.shape[:2]
    if min(height, width) < MIN_SIDE:
        raise InvalidInput(
            f"{name}: image too small ({width}x{height} pixels, need {MIN_SIDE} on each side)"
        )
    return array


def default_location(height: int, width: int) -> FaceLocation:
    """The synthetic layout's face box, scaled to an image of ``height`` x ``width``."""
    top, right, bottom, left = FACE_BOX_FRACTIONS
    return (round(top * height), round(right * width), round(bottom * height), round(left * width))


def check_location(location: FaceLocation, height: int, width: int) -> FaceLocation:
    """``location`` as ints, or InvalidInput if it is not a box inside the image."""
    try:
        top, right, bottom, left = (int(v) for v in location)
    except (TypeError, ValueError) as exc:
        raise InvalidInput("location: expected (top, right, bottom, left) in pixels") from exc
    if not (0 <= top < bottom <= height and 0 <= left < right <= width):
        raise InvalidInput(
            f"location: ({top}, {right}, {bottom}, {left}) is not a box inside the "
            f"{width}x{height} image (top < bottom, left < right)"
        )
    if min(bottom - top, right - left) < MIN_FACE_SIDE:
        raise InvalidInput(f"location: a face box needs at least {MIN_FACE_SIDE} pixels a side")
    return (top, right, bottom, left)


def _area(location: FaceLocation) -> int:
    top, right, bottom, left = location
    return (bottom - top) * (right - left)


def detect_faces(image: RgbImage) -> list[FaceLocation]:
    """Faces found by the HOG detector, as (top, right, bottom, left) boxes."""
    upsample = 1 if max(image.shape[:2]) < UPSAMPLE_BELOW else 0
    found = _api().face_locations(image, number_of_times_to_upsample=upsample, model="hog")
    return [(int(t), int(r), int(b), int(le)) for t, r, b, le in found]


def encode_image_details(
    source: ImageSource,
    *,
    location: FaceLocation | None = None,
    require_detection: bool = False,
) -> FaceEncoding:
    """Encode the face of ``source`` (see the module notes for which face)."""
    image = load_image(source)
    height, width = image.shape[:2]
    given = None if location is None else check_location(location, height, width)
    faces = detect_faces(image)
    if faces:
        chosen, origin = max(faces, key=_area), LocationSource.DETECTED
    elif given is not None:
        chosen, origin = given, LocationSource.GIVEN
    elif require_detection:
        raise InvalidInput("image: no face detected (and no location given)")
    else:
        chosen, origin = default_location(height, width), LocationSource.DEFAULT
    encodings = _api().face_encodings(
        image, known_face_locations=[chosen], num_jitters=1, model="small"
    )
    if len(encodings) != 1:
        raise InvalidTemplate(f"template: the model returned {len(encodings)} encodings, not 1")
    return FaceEncoding(
        template=validate_template(encodings[0]),
        location=chosen,
        source=origin,
        faces_detected=len(faces),
    )


def encode_image(
    source: ImageSource,
    *,
    location: FaceLocation | None = None,
    require_detection: bool = False,
) -> Template:
    """The 128-value template of the face in ``source``: a path, PIL image or RGB array."""
    return encode_image_details(
        source, location=location, require_detection=require_detection
    ).template
