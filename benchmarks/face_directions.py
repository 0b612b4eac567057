"""Directions tried for drawn faces that face_recognition tells apart, measured.

    .venv/bin/python benchmarks/face_directions.py [--identities 30] [--candidates 12]
        [--steps 16] [--variants]

Prints, at face_recognition's 0.6 tolerance, the share of same-person and of
different-person pairs that match for each direction (docs/synthetic.md, "Drawn
faces and face_recognition"):

1. real: the 100 LFW faces scikit-image ships (``lfw_subset()``, 25x25 grey),
   upscaled to 150 px and encoded over the whole crop (synthetic.realfit): how far
   apart real people are at this resolution (every pair of them is counted as a
   different-person pair; repeats among them cannot be ruled out);
2. eigenfaces: a PCA of those 100 faces and their mirror images; an identity is a
   seeded vector of ``--components`` coefficients (unit variance in the model's
   whitened space), a capture adds 0.1 times another such vector, turns the image
   up to 4° and changes brightness and noise; alone (encoded over the whole crop, like the real
   ones), and tinted with the drawn skin tone inside the drawn head (hair,
   ears, neck, background of synthetic.faces; encoded at ``faces.face_box``);
   with ``--variants`` also raised contrast, sharpened, the drawn eyes, nose and
   mouth on top, and sparse coefficients;
3. selection: per identity ``--candidates`` coefficient vectors (the head fixed),
   one capture of each encoded; the identity keeps the candidate whose encoding
   lies farthest from the mean of all candidates' encodings (half of them, then all);
4. hill climb: from each identity's first vector, ``--steps`` random steps, each
   kept if it moves the encoding farther from that mean.

For each it also prints how many generated faces lie within 0.6 of one of the
real faces' encodings (and, for the real faces, of another real face). Nothing
is written: the model lives in memory. SYNTHETIC DATA ONLY, except the shipped
real faces the model is fitted to.
"""

from __future__ import annotations

import argparse
import time
import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFilter
from skimage import data

from biometric_exchange.synthetic import faces
from biometric_exchange.synthetic.realfit import LFW_SIDE, real_faces

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*pkg_resources.*", category=UserWarning)
    import face_recognition

Floats = NDArray[np.float64]
TOLERANCE = 0.6
LFW = 25
CAPTURE_SPREAD = 0.1


def encode(image: Image.Image, location: tuple[int, int, int, int]) -> Floats:
    pixels = np.ascontiguousarray(np.asarray(image.convert("RGB"), np.uint8))
    found = face_recognition.face_encodings(pixels, [location], num_jitters=1, model="small")
    return np.asarray(found[0], np.float64)


def distances(rows: Floats) -> Floats:
    squared = np.einsum("ij,ij->i", rows, rows)
    result: Floats = np.sqrt(np.maximum(squared[:, None] + squared[None] - 2 * rows @ rows.T, 0))
    return result


def rates(name: str, rows: Floats, captures: int, real: Floats) -> None:
    owner = np.repeat(np.arange(len(rows) // captures), captures)
    upper = np.triu_indices(len(rows), 1)
    pairs = distances(rows)[upper]
    same = (owner[:, None] == owner[None])[upper]
    nearest = np.sqrt(((rows[:, None] - real[None]) ** 2).sum(-1))
    if rows is real:
        np.fill_diagonal(nearest, np.inf)
    near = np.mean(nearest.min(1) < TOLERANCE)
    genuine = f"same {np.mean(pairs[same] < TOLERANCE):6.1%}, " if captures > 1 else ""
    print(
        f"{name:34s} {genuine}different {np.mean(pairs[~same] < TOLERANCE):6.1%} "
        f"(median {np.median(pairs[~same]):.3f}, 5th pct {np.percentile(pairs[~same], 5):.3f}, "
        f"{(~same).sum():,} pairs); within 0.6 of a real face {near:.0%}"
    )


class Eigenfaces:
    """Pixel PCA of the LFW crops and their mirror images."""

    def __init__(self, crops: Floats, components: int) -> None:
        data = np.concatenate([crops, crops[:, :, ::-1]]).reshape(2 * len(crops), -1)
        self.mean = data.mean(0)
        _, singular, rows = np.linalg.svd(data - self.mean, full_matrices=False)
        scale = singular[:components] / np.sqrt(len(data) - 1)
        self.basis = rows[:components] * scale[:, None]
        self.real = (data - self.mean) @ rows[:components].T / scale
        """The real faces' (and mirror images') whitened coefficients."""
        self.level = float(self.mean.reshape(LFW, LFW)[6:19, 6:19].mean())

    def grey(self, z: Floats) -> Floats:
        result: Floats = np.clip((self.mean + z @ self.basis).reshape(LFW, LFW), 0.0, 1.0)
        return result


def grey_image(grey: Floats, side: int) -> Image.Image:
    image = Image.fromarray(np.clip(grey * 255, 0, 255).astype(np.uint8), "L")
    return image.resize((side, side), Image.Resampling.BICUBIC).convert("RGB")


def alone(grey: Floats, rng: np.random.Generator) -> Image.Image:
    image = grey_image(grey, LFW_SIDE).rotate(rng.uniform(-4, 4), Image.Resampling.BICUBIC)
    pixels = np.asarray(image, np.float64) * rng.uniform(0.85, 1.1)
    pixels += rng.normal(0, 3, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


@dataclass(frozen=True)
class Look:
    """Variants of the eigenface in the head: contrast, unsharp mask (percent), and
    the drawn eyes, brows, nose and mouth on top."""

    contrast: float = 1.0
    sharpen: int = 0
    features: bool = False


def in_head(
    model: Eigenfaces, grey: Floats, identity: int, capture: int, look: Look
) -> Image.Image:
    """The eigenface, tinted with the skin tone, over the face of the drawn head."""
    traits = faces.identity_traits(identity)
    conditions = faces.capture_conditions(identity, capture)
    side = 2 * faces.IMAGE_SIZE
    layout = faces._Layout.of(traits, conditions, side)
    image = Image.new("RGB", (side, side), conditions.background)
    faces._draw_back(image, traits, layout)
    faces._draw_skin(image, traits, layout)
    top, right, bottom, left = faces.face_box(side)
    width, height = right - left, bottom - top
    picture = grey_image(grey, LFW).resize((width, height))
    if look.sharpen:
        picture = picture.filter(ImageFilter.UnsharpMask(width / 40, look.sharpen, 0))
    shade = np.asarray(picture, np.float64) / 255
    shade = model.level + (shade - model.level) * look.contrast
    ratio = np.clip(shade / model.level, 0.0, 1.8)
    tinted = np.clip(np.asarray(traits.skin, np.float64) * ratio, 0, 255).astype(np.uint8)
    ys, xs = np.mgrid[0:height, 0:width]
    radius2 = ((xs - width / 2) / (width / 2)) ** 2 + ((ys - height / 2) / (height / 2)) ** 2
    alpha = (np.clip((1.0 - radius2) / 0.25, 0.0, 1.0) * 255).astype(np.uint8)
    image.paste(Image.fromarray(tinted, "RGB"), (left, top), Image.fromarray(alpha, "L"))
    faces._draw_hair_front(image, traits, layout)
    if look.features:
        faces._draw_eyes_and_nose(ImageDraw.Draw(image), traits, layout)
        faces._draw_mouth(ImageDraw.Draw(image), traits, conditions, layout)
    noise = np.random.default_rng([identity, capture, 37])
    return faces._capture(image, conditions, faces.IMAGE_SIZE, noise)


def person(identity: int, candidate: int, k: int) -> Floats:
    """Candidate ``candidate`` of an identity's coefficients."""
    return np.random.default_rng([identity, 5, candidate]).standard_normal(k)


def captured(z: Floats, identity: int, capture: int) -> Floats:
    """The coefficients of one capture: the person's plus a little of the capture's own."""
    spread = np.random.default_rng([identity, capture, 6]).standard_normal(len(z))
    return z + CAPTURE_SPREAD * spread


class Heads:
    """Eigenfaces in the drawn head, encoded at the drawing's face box."""

    def __init__(self, model: Eigenfaces, look: Look = Look()) -> None:
        self.model = model
        self.look = look
        self.box = faces.face_box(faces.IMAGE_SIZE)

    def encode(self, z: Floats, identity: int, capture: int) -> Floats:
        grey = self.model.grey(captured(z, identity, capture))
        return encode(in_head(self.model, grey, identity, capture, self.look), self.box)

    def pairs(self, people: list[tuple[int, Floats]]) -> Floats:
        return np.stack([self.encode(z, i, c) for i, z in people for c in (0, 1)])


def sparse(identity: int, k: int) -> Floats:
    """Coefficients with 3 of the first 20 components at ±3, the rest at 0.5 x N(0, 1)."""
    rng = np.random.default_rng([identity, 55])
    z = 0.5 * rng.standard_normal(k)
    z[rng.choice(20, 3, replace=False)] += 3.0 * rng.choice([-1.0, 1.0], 3)
    return z


def climb(
    heads: Heads, identity: int, z: Floats, centre: Floats, steps: int
) -> tuple[Floats, float, float]:
    """Random steps of 0.5 per coefficient, each kept if the encoding moves away from
    ``centre``; with the distance from it before and after."""
    rng = np.random.default_rng([identity, 9])
    radius = start = float(np.linalg.norm(heads.encode(z, identity, 0) - centre))
    for _ in range(steps):
        step = z + 0.5 * rng.standard_normal(len(z))
        farther = float(np.linalg.norm(heads.encode(step, identity, 0) - centre))
        if farther > radius:
            z, radius = step, farther
    return z, start, radius


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--identities", type=int, default=30)
    parser.add_argument("--candidates", type=int, default=12)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--components", type=int, default=60)
    parser.add_argument("--seed", type=int, default=2017)
    parser.add_argument("--variants", action="store_true", help="also the head's variants")
    args = parser.parse_args()
    n, k, started = args.identities, args.components, time.perf_counter()
    lfw = [face for face in real_faces() if face.name.startswith("lfw")]
    real = np.stack([encode(Image.fromarray(face.image), face.location) for face in lfw])
    rates("real LFW faces (100, 25x25)", real, 1, real)
    model = Eigenfaces(np.asarray(data.lfw_subset()[: len(lfw)], np.float64), k)
    heads = Heads(model)
    identities = [faces.identity_seed(args.seed, i) for i in range(n)]
    whole = (0, LFW_SIDE, LFW_SIDE, 0)
    rows = [
        encode(
            alone(model.grey(captured(person(i, 0, k), i, c)), np.random.default_rng([i, c, 7])),
            whole,
        )
        for i in identities
        for c in (0, 1)
    ]
    rates(f"eigenfaces alone ({n} x 2)", np.stack(rows), 2, real)
    first = [(i, person(i, 0, k)) for i in identities]
    rates(f"eigenfaces in the drawn head ({n} x 2)", heads.pairs(first), 2, real)
    drawn = np.stack([z for _, z in first])
    apart = np.sqrt(((drawn[:, None] - model.real[None]) ** 2).sum(-1)).min(1)
    print(
        f"  coefficients: nearest real face at whitened distance {apart.min():.1f} or more "
        f"(median {np.median(apart):.1f}); real faces lie "
        f"{np.median(np.linalg.norm(model.real, axis=1)):.1f} from the mean (median)"
    )
    if args.variants:
        for name, look in (
            ("  contrast x1.6", Look(contrast=1.6)),
            ("  sharpened", Look(sharpen=150)),
            ("  drawn eyes, nose, mouth on top", Look(features=True)),
        ):
            rates(name, Heads(model, look).pairs(first), 2, real)
        rates(
            "  sparse coefficients", heads.pairs([(i, sparse(i, k)) for i in identities]), 2, real
        )
    candidates = np.stack(
        [[heads.encode(person(i, j, k), i, 0) for j in range(args.candidates)] for i in identities]
    )
    centre = candidates.reshape(-1, candidates.shape[-1]).mean(0)
    for m in sorted({max(2, args.candidates // 2), args.candidates}):
        chosen = np.linalg.norm(candidates[:, :m] - centre, axis=2).argmax(1)
        people = [(i, person(i, int(j), k)) for i, j in zip(identities, chosen, strict=True)]
        rates(f"selection, outermost of {m} ({n} x 2)", heads.pairs(people), 2, real)
    if args.steps:
        climbed = [(i, *climb(heads, i, z, centre, args.steps)) for i, z in first]
        people = [(i, z) for i, z, _, _ in climbed]
        rates(f"hill climb, {args.steps} steps ({n} x 2)", heads.pairs(people), 2, real)
        before, after = np.mean([c[2] for c in climbed]), np.mean([c[3] for c in climbed])
        print(f"  mean distance from the candidates' mean: {before:.3f} -> {after:.3f}")
    print(f"{time.perf_counter() - started:.0f} s wall")


if __name__ == "__main__":
    main()
