"""Where real face_recognition encodings lie: the face photos installed packages ship.

The synthetic template model (``templates.TemplateModel``) places its
templates around a centre fitted here, so that their mean vector and norms
look like those of real encodings. The real data is small, and said so:

* ``astronaut``: scikit-image's ``skimage.data.astronaut()``, Eileen Collins
  (NASA, public domain), 512x512 colour;
* ``grace_hopper``: matplotlib's sample ``grace_hopper.jpg``, Grace Hopper
  (US Navy, public domain), 512x600 colour;
* ``lfw``: scikit-image's ``skimage.data.lfw_subset()``, the first 100 images
  (faces from Labeled Faces in the Wild), each 25x25 grey, upscaled to 150x150
  and encoded over the whole crop; the people behind them are not named, so
  repeats among them cannot be ruled out.

scikit-image's ``camera`` (a cameraman looking down at his camera) is a real
photo too, but the HOG detector finds no face in it; nothing else under the
installed packages is a photo of a face. That is two full-resolution faces and
100 tiny grey ones: enough to place the model (the shared mean of the
encodings, their typical norm), not to estimate a per-dimension covariance.

Each photo is encoded as shipped and under ``augmentations`` seeded variants
(mirror, crop, brightness, rotation up to 8°, JPEG at quality 30-90). The
fit weighs each photo equally (the mean of per-photo means). Nothing here is
stored: encodings live in memory, and only the fitted centre ships
(``protection.centre``). Rerun with ``python -m biometric_exchange.synthetic.realfit``.
"""

from __future__ import annotations

import functools
import io
import math
import sys
import warnings
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageEnhance, ImageOps

from biometric_exchange.domain import TEMPLATE_DIM
from biometric_exchange.exceptions import ConfigError, InvalidInput

RgbImage = NDArray[np.uint8]
FloatVector = NDArray[np.float64]
Location = tuple[int, int, int, int]
"""(top, right, bottom, left), as face_recognition gives a face."""

LFW_FACES = 100
"""``lfw_subset()`` holds 100 faces followed by 100 non-faces."""
LFW_SIDE = 150
"""Side the 25x25 LFW crops are upscaled to before encoding."""
CROP_MARGIN = 0.6
"""Margin kept around a detected face, as a fraction of its side, before augmenting."""


@dataclass(frozen=True)
class RealFace:
    """One real photo of one person; ``location`` None: find the face with HOG."""

    name: str
    image: RgbImage
    location: Location | None


@dataclass(frozen=True)
class RealEncodings:
    """Encodings of the real photos, one row each, with the photo each came from."""

    templates: NDArray[np.float64]
    photo: NDArray[np.int64]
    names: tuple[str, ...]

    @property
    def norms(self) -> FloatVector:
        result: FloatVector = np.linalg.norm(self.templates, axis=1)
        return result

    def mean(self) -> FloatVector:
        """The mean of per-photo means: each photo weighs the same, however many variants."""
        means = [self.templates[self.photo == i].mean(axis=0) for i in np.unique(self.photo)]
        result: FloatVector = np.mean(means, axis=0)
        return result


@functools.cache
def _face_recognition() -> ModuleType:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*pkg_resources.*", category=UserWarning)
        try:
            import face_recognition  # noqa: PLC0415 (optional, heavy: loads dlib's models)
        except ImportError as exc:
            raise ConfigError("face_recognition is not installed (the faces extra)") from exc
    module: ModuleType = face_recognition
    return module


def _module(name: str) -> Any:
    try:
        return __import__(name, fromlist=["_"])
    except ImportError as exc:
        raise ConfigError(f"{name} is not installed (the faces and sim extras)") from exc


def real_faces(*, lfw: int = LFW_FACES) -> list[RealFace]:
    """The real face photos shipped by scikit-image and matplotlib (see the module notes)."""
    if not 0 <= lfw <= LFW_FACES:
        raise InvalidInput(f"lfw: expected 0 to {LFW_FACES} faces")
    data = _module("skimage.data")
    cbook = _module("matplotlib.cbook")
    with cbook.get_sample_data("grace_hopper.jpg") as handle:
        hopper = np.asarray(Image.open(handle).convert("RGB"))
    faces = [
        RealFace("astronaut", np.ascontiguousarray(data.astronaut()[..., :3]), None),
        RealFace("grace_hopper", hopper, None),
    ]
    crops = data.lfw_subset()[:lfw]
    for index, crop in enumerate(crops):
        grey = Image.fromarray(np.clip(crop * 255.0, 0, 255).astype(np.uint8), "L")
        big = grey.resize((LFW_SIDE, LFW_SIDE), Image.Resampling.BICUBIC).convert("RGB")
        faces.append(RealFace(f"lfw-{index:03d}", np.asarray(big), (0, LFW_SIDE, LFW_SIDE, 0)))
    return faces


def _detect(image: RgbImage) -> Location | None:
    found = _face_recognition().face_locations(image, number_of_times_to_upsample=1)
    if not found:
        return None
    top, right, bottom, left = max(found, key=lambda b: (b[2] - b[0]) * (b[1] - b[3]))
    return int(top), int(right), int(bottom), int(left)


def _around_face(face: RealFace) -> RealFace:
    """A photo cropped to its face plus a margin (faster to detect, same face), with
    the face found in it; a fixed-location face is returned as it is."""
    if face.location is not None:
        return face
    found = _detect(face.image)
    if found is None:
        raise InvalidInput(f"{face.name}: no face detected")
    top, right, bottom, left = found
    margin = round(CROP_MARGIN * max(bottom - top, right - left))
    height, width = face.image.shape[:2]
    y0, x0 = max(0, top - margin), max(0, left - margin)
    y1, x1 = min(height, bottom + margin), min(width, right + margin)
    return RealFace(face.name, np.ascontiguousarray(face.image[y0:y1, x0:x1]), None)


def augment(image: RgbImage, rng: np.random.Generator) -> RgbImage:
    """One seeded variant of the same size: mirror, crop (up to 8 % a side, resized
    back), brightness x0.7-1.3, rotation ±8°, JPEG quality 30-90."""
    picture = Image.fromarray(image)
    width, height = picture.size
    if rng.random() < 0.5:
        picture = ImageOps.mirror(picture)
    cut = rng.uniform(0.0, 0.08, 4)
    box = (
        round(cut[0] * width),
        round(cut[1] * height),
        round(width - cut[2] * width),
        round(height - cut[3] * height),
    )
    picture = picture.crop(box).resize((width, height), Image.Resampling.BICUBIC)
    picture = ImageEnhance.Brightness(picture).enhance(float(rng.uniform(0.7, 1.3)))
    picture = picture.rotate(float(rng.uniform(-8.0, 8.0)), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=int(rng.integers(30, 91)))
    buffer.seek(0)
    return np.asarray(Image.open(buffer).convert("RGB"))


def _encode(image: RgbImage, location: Location | None) -> FloatVector | None:
    api = _face_recognition()
    chosen = location if location is not None else _detect(image)
    if chosen is None:
        return None
    found = api.face_encodings(image, known_face_locations=[chosen], num_jitters=1, model="small")
    return np.asarray(found[0], dtype=np.float64) if found else None


def encode_real_faces(
    *, augmentations: int = 20, lfw_augmentations: int = 1, lfw: int = LFW_FACES, seed: int = 0
) -> RealEncodings:
    """Encode each real photo as shipped and under seeded augmentations (the two
    full-resolution photos ``augmentations`` times, each LFW crop ``lfw_augmentations``
    times). A variant in which the detector finds no face is left out."""
    if augmentations < 0 or lfw_augmentations < 0:
        raise InvalidInput("augmentations: must not be negative")
    rng = np.random.default_rng(seed)
    rows: list[FloatVector] = []
    photo: list[int] = []
    faces = [_around_face(face) for face in real_faces(lfw=lfw)]
    for index, face in enumerate(faces):
        count = augmentations if face.location is None else lfw_augmentations
        variants = [face.image] + [augment(face.image, rng) for _ in range(count)]
        for variant in variants:
            encoding = _encode(variant, face.location)
            if encoding is not None:
                rows.append(encoding)
                photo.append(index)
    return RealEncodings(
        np.array(rows), np.array(photo, dtype=np.int64), tuple(f.name for f in faces)
    )


@dataclass(frozen=True)
class TemplateFit:
    """The centre of the synthetic model, fitted by the method of moments.

    ``direction`` is the real encodings' mean; its length is set so that the
    model's mean squared norm, ``|c|² + E|x - c|²`` (the second term from the
    calibrated identity and capture spread), equals the real encodings'.
    """

    real_mean: FloatVector
    real_norm_mean: float
    real_norm_sd: float
    spread2: float
    """E|x - c|² of the model's templates."""

    @property
    def centre(self) -> FloatVector:
        length2 = self.real_norm_mean**2 + self.real_norm_sd**2 - self.spread2
        if not length2 > 0:
            raise InvalidInput("spread: the model's templates spread wider than real norms allow")
        unit = self.real_mean / np.linalg.norm(self.real_mean)
        result: FloatVector = unit * math.sqrt(length2)
        return result


def fit_centre(encodings: RealEncodings, spread2: float) -> TemplateFit:
    """The method-of-moments centre (see ``TemplateFit``) from ``encodings``."""
    if encodings.templates.shape[1:] != (TEMPLATE_DIM,) or len(encodings.templates) < 2:
        raise InvalidInput("encodings: need at least two 128-value encodings")
    norms = encodings.norms
    return TemplateFit(
        real_mean=encodings.mean(),
        real_norm_mean=float(norms.mean()),
        real_norm_sd=float(norms.std(ddof=1)),
        spread2=spread2,
    )


def main(argv: list[str] | None = None) -> int:
    """Encode the real photos, fit the centre and print it with the figures."""
    from biometric_exchange.synthetic.templates import TemplateModel  # noqa: PLC0415

    args = argv if argv is not None else sys.argv[1:]
    augmentations = int(args[0]) if args else 20
    encodings = encode_real_faces(augmentations=augmentations, lfw_augmentations=2)
    model = TemplateModel()
    fit = fit_centre(encodings, model.spread2())
    per_photo = np.bincount(encodings.photo, minlength=len(encodings.names))
    print(f"real encodings: {len(encodings.templates)} from {len(encodings.names)} photos")
    print(f"  encodings per photo: {per_photo[:2].tolist()} (full size), LFW {per_photo[2:].sum()}")
    print(f"real norms: mean {fit.real_norm_mean:.4f} sd {fit.real_norm_sd:.4f}")
    print(f"real mean vector: norm {np.linalg.norm(fit.real_mean):.4f}")
    print(
        f"model spread E|x-c|^2 {fit.spread2:.4f}; fitted centre norm "
        f"{np.linalg.norm(fit.centre):.4f}"
    )
    print("centre = (" + ", ".join(f"{v:.4f}" for v in fit.centre) + ")")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
