"""Synthetic face-like images drawn with Pillow, one stable look per identity.

No real face is used, traced or imitated: each image is built from ellipses,
polygons and lines. An *identity seed* fixes the look (face oval and jaw,
skin tone, eye spacing, size and colour, brows, nose, mouth, ears, hair,
facial hair); a *capture seed* fixes one capture's conditions (lighting
direction and strength, brightness, contrast, a small pose shift, rotation
and scale, a slight change of expression and eye opening, blur, sensor noise,
background). The same pair of seeds always gives the same pixels.

The layout is fixed: in a drawing of side ``size`` the face lies in
``face_box(size)`` (give or take the capture's shift, rotation and scale),
the box where dlib's HOG detector finds these faces on average, and where
``biometric_exchange.faces`` encodes when the detector finds none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFilter, PngImagePlugin

from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.images import (
    FACE_BOX_FRACTIONS,
    SYNTHETIC_PNG_KEY,
    FaceLocation,
)

GENERATOR = "biometric_exchange.synthetic.faces"
IMAGE_SIZE = 256
MIN_SIZE = 128
MAX_SIZE = 1024

_SUPERSAMPLE = 2

Colour = tuple[int, int, int]
Point = tuple[float, float]

SKIN_TONES: tuple[Colour, ...] = (
    (255, 224, 196),
    (241, 194, 160),
    (224, 172, 128),
    (198, 140, 96),
    (170, 112, 72),
    (141, 85, 54),
    (110, 66, 42),
    (84, 50, 34),
)
_HAIR_COLOURS: tuple[Colour, ...] = (
    (20, 16, 14),
    (48, 32, 22),
    (84, 56, 34),
    (120, 80, 46),
    (170, 130, 80),
    (214, 184, 120),
    (150, 150, 150),
    (120, 48, 28),
)
_IRIS_COLOURS: tuple[Colour, ...] = (
    (62, 38, 22),
    (92, 60, 32),
    (60, 90, 120),
    (70, 110, 80),
    (110, 96, 60),
)
_SHIRT_COLOURS: tuple[Colour, ...] = (
    (40, 60, 110),
    (120, 30, 40),
    (60, 60, 60),
    (200, 200, 190),
    (30, 90, 70),
    (150, 110, 60),
)
_BACKGROUNDS: tuple[Colour, ...] = (
    (214, 220, 226),
    (196, 204, 214),
    (226, 222, 210),
    (180, 196, 206),
    (232, 232, 232),
)


class HairStyle(IntEnum):
    SHORT = 0
    LONG = 1
    CROPPED = 2
    FRINGE = 3


class FacialHair(IntEnum):
    NONE = 0
    STUBBLE = 1
    MOUSTACHE = 2
    BEARD = 3


@dataclass(frozen=True)
class FaceTraits:
    """The stable look of one identity; lengths are fractions of the image side."""

    face_half_width: float
    face_half_height: float
    jaw_taper: float
    skin_tone: int
    """Index in the skin palette, 0 (lightest) to 7 (darkest): for per-tone reports."""
    skin: Colour
    eye_spacing: float
    eye_width: float
    eye_openness: float
    eye_height: float
    iris: Colour
    brow_gap: float
    brow_thickness: float
    brow_arch: float
    brow_tilt: float
    nose_length: float
    nose_width: float
    mouth_width: float
    mouth_height: float
    lip_thickness: float
    mouth_curve: float
    ear_size: float
    hair: Colour
    hair_style: HairStyle
    hair_volume: float
    hairline: float
    shirt: Colour
    facial_hair: FacialHair


@dataclass(frozen=True)
class CaptureConditions:
    """One capture's conditions: the same identity looks a little different each time."""

    rotation_deg: float
    shift_x: float
    shift_y: float
    scale: float
    brightness: float
    contrast: float
    light_angle: float
    light_strength: float
    expression: float
    blink: float
    blur_radius: float
    noise_sigma: float
    background: Colour


def _rng(*parts: int) -> np.random.Generator:
    if any(part < 0 for part in parts):
        raise InvalidInput("seed: must not be negative")
    return np.random.default_rng(np.random.SeedSequence(list(parts)))


def _pick_indexed(
    rng: np.random.Generator, palette: tuple[Colour, ...], jitter: int
) -> tuple[int, Colour]:
    """A palette entry, jittered, with its index in the palette."""
    index = int(rng.integers(len(palette)))
    shift = rng.integers(-jitter, jitter + 1, 3)
    r, g, b = (int(np.clip(c + s, 0, 255)) for c, s in zip(palette[index], shift, strict=True))
    return index, (r, g, b)


def _pick(rng: np.random.Generator, palette: tuple[Colour, ...], jitter: int) -> Colour:
    return _pick_indexed(rng, palette, jitter)[1]


def identity_seed(seed: int, index: int) -> int:
    """The identity seed of the ``index``-th identity of a set drawn with ``seed``."""
    return int(_rng(seed, index, 1).integers(2**62))


def identity_traits(identity: int) -> FaceTraits:
    """The look of identity seed ``identity``, the same for all its captures."""
    rng = _rng(identity, 11)
    u = rng.uniform
    face_half_width = u(0.185, 0.235)
    face_half_height = u(0.255, 0.300)
    jaw_taper = u(0.05, 0.40)
    skin_tone, skin = _pick_indexed(rng, SKIN_TONES, 10)
    return FaceTraits(
        face_half_width=face_half_width,
        face_half_height=face_half_height,
        jaw_taper=jaw_taper,
        skin_tone=skin_tone,
        skin=skin,
        eye_spacing=u(0.075, 0.100),
        eye_width=u(0.068, 0.088),
        eye_openness=u(0.38, 0.58),
        eye_height=u(0.06, 0.11),
        iris=_pick(rng, _IRIS_COLOURS, 12),
        brow_gap=u(0.030, 0.050),
        brow_thickness=u(0.008, 0.020),
        brow_arch=u(0.000, 0.020),
        brow_tilt=u(-0.012, 0.012),
        nose_length=u(0.095, 0.140),
        nose_width=u(0.030, 0.048),
        mouth_width=u(0.075, 0.115),
        mouth_height=u(0.185, 0.225),
        lip_thickness=u(0.008, 0.018),
        mouth_curve=u(-0.006, 0.012),
        ear_size=u(0.035, 0.050),
        hair=_pick(rng, _HAIR_COLOURS, 8),
        hair_style=HairStyle(int(rng.integers(4))),
        hair_volume=u(0.015, 0.060),
        hairline=u(0.14, 0.21),
        shirt=_pick(rng, _SHIRT_COLOURS, 20),
        facial_hair=FacialHair(int(rng.choice(4, p=(0.55, 0.15, 0.15, 0.15)))),
    )


def capture_conditions(identity: int, capture: int) -> CaptureConditions:
    """The conditions of capture seed ``capture`` of identity seed ``identity``."""
    rng = _rng(identity, capture, 23)
    u = rng.uniform
    return CaptureConditions(
        rotation_deg=u(-6.0, 6.0),
        shift_x=u(-0.025, 0.025),
        shift_y=u(-0.020, 0.020),
        scale=u(0.93, 1.07),
        brightness=u(0.82, 1.12),
        contrast=u(0.85, 1.10),
        light_angle=u(0.0, 2.0 * math.pi),
        light_strength=u(0.0, 0.22),
        expression=u(-0.004, 0.004),
        blink=u(0.85, 1.05),
        blur_radius=u(0.0, 1.0),
        noise_sigma=u(1.5, 5.0),
        background=_pick(rng, _BACKGROUNDS, 10),
    )


def face_box(size: int = IMAGE_SIZE) -> FaceLocation:
    """Where the face lies in a drawing of side ``size``: (top, right, bottom, left)."""
    top, right, bottom, left = FACE_BOX_FRACTIONS
    return (round(top * size), round(right * size), round(bottom * size), round(left * size))


def _shade(colour: Colour, factor: float) -> Colour:
    r, g, b = (int(np.clip(c * factor, 0, 255)) for c in colour)
    return (r, g, b)


def _darker(colour: Colour, factor: float, floor: int) -> Colour:
    """Darker by ``factor`` or by at least ``floor`` levels: shadows show on dark skin too."""
    r, g, b = (int(np.clip(min(c * factor, c - floor), 0, 255)) for c in colour)
    return (r, g, b)


def _lighter(colour: Colour, factor: float, floor: int) -> Colour:
    """Lighter by ``factor`` or by at least ``floor`` levels: highlights."""
    r, g, b = (int(np.clip(max(c * factor, c + floor), 0, 255)) for c in colour)
    return (r, g, b)


def _darkest(a: Colour, b: Colour) -> Colour:
    return a if sum(a) <= sum(b) else b


def _mix(a: Colour, b: Colour, weight: float) -> Colour:
    r, g, bl = (round(x * (1.0 - weight) + y * weight) for x, y in zip(a, b, strict=True))
    return (r, g, bl)


def _ellipse_radius2(side: int, cx: float, cy: float, rx: float, ry: float) -> NDArray[np.float64]:
    """Squared normalised radius of every pixel: below 1 inside the ellipse."""
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float64)
    radius2: NDArray[np.float64] = ((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2
    return radius2


@dataclass(frozen=True)
class _Layout:
    """Pixel positions of one drawing, from the traits and the side."""

    s: float
    cx: float
    cy: float
    fw: float
    fh: float
    hair_top: float
    eye_y: float
    eye_w: float
    eye_h: float
    nose_tip: float
    nw: float
    my: float
    mw: float

    @classmethod
    def of(cls, t: FaceTraits, c: CaptureConditions, side: int) -> _Layout:
        s = float(side)
        cy = 0.56 * s
        fh = t.face_half_height * s
        eye_y = cy - t.eye_height * s
        eye_w = t.eye_width * s
        return cls(
            s=s,
            cx=0.5 * s,
            cy=cy,
            fw=t.face_half_width * s,
            fh=fh,
            hair_top=cy - fh - t.hair_volume * s,
            eye_y=eye_y,
            eye_w=eye_w,
            eye_h=eye_w * t.eye_openness * c.blink,
            nose_tip=eye_y + t.nose_length * s,
            nw=t.nose_width * s,
            my=cy + t.mouth_height * s - 0.05 * s,
            mw=t.mouth_width * s,
        )


def _face_outline(g: _Layout, taper: float, points: int = 120) -> list[Point]:
    """An egg-shaped oval whose lower half narrows towards the chin by ``taper``."""
    outline = []
    for k in range(points):
        angle = 2.0 * math.pi * k / points
        down = math.sin(angle)
        narrowing = 1.0 - taper * max(0.0, down) ** 2
        outline.append((g.cx + g.fw * math.cos(angle) * narrowing, g.cy + g.fh * down))
    return outline


def _draw_back(image: Image.Image, t: FaceTraits, g: _Layout) -> None:
    """Long hair behind the head, neck, shoulders, ears and the back of the hair."""
    draw = ImageDraw.Draw(image)
    cx, cy, fw, fh, s = g.cx, g.cy, g.fw, g.fh, g.s
    if t.hair_style is HairStyle.LONG:
        draw.rounded_rectangle(
            (cx - fw * 1.25, g.hair_top + fh * 0.5, cx + fw * 1.25, cy + fh * 1.15),
            radius=fw * 0.5,
            fill=t.hair,
        )
    neck = _darker(t.skin, 0.8, 30)
    draw.rectangle((cx - fw * 0.48, cy + fh * 0.5, cx + fw * 0.48, s), fill=neck)
    draw.chord(
        (cx - fw * 2.4, cy + fh * 1.05, cx + fw * 2.4, cy + fh * 2.6), 180, 360, fill=t.shirt
    )
    draw.rectangle((cx - fw * 2.4, min(cy + fh * 1.8, s), cx + fw * 2.4, s), fill=t.shirt)
    ear_w, ear_h = t.ear_size * s * 0.55, t.ear_size * s
    ear_y = cy - t.eye_height * s + 0.05 * s
    for sign in (-1.0, 1.0):
        ex = cx + sign * fw * 0.97
        draw.ellipse(
            (ex - ear_w, ear_y - ear_h, ex + ear_w, ear_y + ear_h), fill=_shade(t.skin, 0.9)
        )
    if t.hair_style is not HairStyle.CROPPED:
        draw.ellipse((cx - fw * 1.1, g.hair_top, cx + fw * 1.1, cy + fh * 0.25), fill=t.hair)


def _draw_skin(image: Image.Image, t: FaceTraits, g: _Layout) -> Image.Image:
    """The face, shaded like a curved surface with lit forehead and cheeks; its mask."""
    side = image.width
    mask = Image.new("L", image.size, 0)
    ImageDraw.Draw(mask).polygon(_face_outline(g, t.jaw_taper), fill=255)
    radius2 = _ellipse_radius2(side, g.cx, g.cy - 0.1 * g.fh, g.fw * 1.05, g.fh * 1.05)
    shading = np.clip(1.04 - 0.28 * radius2**1.5, 0.55, 1.05)
    forehead = np.exp(-_ellipse_radius2(side, g.cx, g.cy - 0.5 * g.fh, g.fw * 0.55, g.fh * 0.3))
    cheeks = np.exp(-_ellipse_radius2(side, g.cx, g.cy + 0.05 * g.fh, g.fw * 0.75, g.fh * 0.18))
    skin = np.empty((side, side, 3), dtype=np.float64)
    skin[...] = t.skin
    skin *= shading[..., None]
    skin += (34.0 * forehead + 18.0 * cheeks)[..., None]
    layer = Image.fromarray(np.clip(skin, 0, 255).astype(np.uint8), "RGB")
    image.paste(layer, (0, 0), mask)
    return mask


def _draw_hair_front(image: Image.Image, t: FaceTraits, g: _Layout) -> None:
    """The hair over the forehead down to the hairline (thin when cropped), fringe."""
    cx, cy, fw, fh = g.cx, g.cy, g.fw, g.fh
    hairline_y = cy - fh + t.hairline * fh
    cap = Image.new("L", image.size, 0)
    ImageDraw.Draw(cap).ellipse(
        (cx - fw * 1.08, g.hair_top, cx + fw * 1.08, cy + fh * 0.3), fill=255
    )
    cut = Image.new("L", image.size, 0)
    cut_draw = ImageDraw.Draw(cut)
    cut_draw.chord(
        (cx - fw * 0.92, hairline_y, cx + fw * 0.92, hairline_y + fh * 1.6), 180, 360, fill=255
    )
    cut_draw.rectangle((0, hairline_y + fh * 0.8, g.s, g.s), fill=255)
    cap_array = np.minimum(np.asarray(cap), 255 - np.asarray(cut))
    if t.hair_style is HairStyle.FRINGE:
        fringe = Image.new("L", image.size, 0)
        ImageDraw.Draw(fringe).chord(
            (cx - fw * 0.95, hairline_y - fh * 0.25, cx + fw * 0.6, hairline_y + fh * 0.25),
            0,
            180,
            fill=255,
        )
        cap_array = np.maximum(cap_array, np.asarray(fringe))
    colour = _mix(t.hair, t.skin, 0.55) if t.hair_style is HairStyle.CROPPED else t.hair
    image.paste(colour, (0, 0), Image.fromarray(cap_array.astype(np.uint8), "L"))


def _draw_eye(
    draw: ImageDraw.ImageDraw, centre: Point, width: float, height: float, t: FaceTraits
) -> None:
    cx, cy = centre
    half_w, half_h = width / 2.0, height / 2.0
    draw.ellipse(
        (cx - half_w * 1.25, cy - half_h * 1.9, cx + half_w * 1.25, cy + half_h * 1.5),
        fill=_darker(t.skin, 0.86, 18),
    )
    box = (cx - half_w, cy - half_h, cx + half_w, cy + half_h)
    draw.ellipse(box, fill=(238, 236, 230))
    r_iris = min(half_h * 0.95, half_w * 0.45)
    draw.ellipse((cx - r_iris, cy - r_iris, cx + r_iris, cy + r_iris), fill=t.iris)
    r_pupil = r_iris * 0.45
    draw.ellipse((cx - r_pupil, cy - r_pupil, cx + r_pupil, cy + r_pupil), fill=(12, 10, 10))
    r_glint = r_iris * 0.22
    gx, gy = cx + r_iris * 0.35, cy - r_iris * 0.35
    draw.ellipse((gx - r_glint, gy - r_glint, gx + r_glint, gy + r_glint), fill=(250, 250, 250))
    lid = max(1, round(height * 0.22))
    draw.arc(box, start=180, end=360, fill=(30, 22, 20), width=lid)
    draw.arc(box, start=10, end=170, fill=_darker(t.skin, 0.7, 40), width=max(1, lid // 2))


def _draw_eyes_and_nose(draw: ImageDraw.ImageDraw, t: FaceTraits, g: _Layout) -> None:
    brow_colour = _darkest(_mix(t.hair, (25, 20, 18), 0.4), _shade(t.skin, 0.45))
    brow_width = max(1, round(t.brow_thickness * g.s))
    for sign in (-1.0, 1.0):
        ex = g.cx + sign * t.eye_spacing * g.s
        _draw_eye(draw, (ex, g.eye_y), g.eye_w, g.eye_h, t)
        by = g.eye_y - t.brow_gap * g.s
        inner = (ex - sign * g.eye_w * 0.6, by + t.brow_tilt * g.s)
        peak = (ex + sign * g.eye_w * 0.05, by - t.brow_arch * g.s)
        outer = (ex + sign * g.eye_w * 0.75, by - t.brow_tilt * g.s + g.eye_w * 0.08)
        draw.line([inner, peak, outer], fill=brow_colour, width=brow_width)

    cx, nw, tip = g.cx, g.nw, g.nose_tip
    line = max(1, round(g.s * 0.006))
    bridge_top = g.eye_y + g.eye_h * 0.5
    draw.line(
        [(cx - nw * 0.15, bridge_top), (cx - nw * 0.35, tip - nw * 0.3)],
        fill=_darker(t.skin, 0.78, 35),
        width=line,
    )
    draw.line(
        [(cx + nw * 0.12, bridge_top), (cx + nw * 0.15, tip - nw * 0.4)],
        fill=_lighter(t.skin, 1.06, 22),
        width=line,
    )
    draw.ellipse(
        (cx - nw * 0.5, tip - nw * 0.45, cx + nw * 0.5, tip + nw * 0.25),
        fill=_lighter(t.skin, 1.02, 14),
    )
    for sign in (-1.0, 1.0):
        nx = cx + sign * nw * 0.45
        draw.ellipse(
            (nx - nw * 0.2, tip - nw * 0.05, nx + nw * 0.2, tip + nw * 0.18),
            fill=_darker(t.skin, 0.45, 55),
        )


def _draw_facial_hair(image: Image.Image, mask: Image.Image, t: FaceTraits, g: _Layout) -> None:
    colour = _darkest(t.hair, _shade(t.skin, 0.6))
    cx, my, mw = g.cx, g.my, g.mw
    if t.facial_hair in (FacialHair.STUBBLE, FacialHair.BEARD):
        start = g.nose_tip + (my - g.nose_tip) * 0.35
        rows = np.arange(image.height, dtype=np.float64)
        ramp = np.clip((rows - start) / (0.02 * g.s), 0.0, 1.0)
        density = 0.35 if t.facial_hair is FacialHair.STUBBLE else 0.85
        beard = np.asarray(mask, dtype=np.float64) * ramp[:, None] * density
        image.paste(colour, (0, 0), Image.fromarray(beard.astype(np.uint8), "L"))
    if t.facial_hair in (FacialHair.MOUSTACHE, FacialHair.BEARD):
        lip = t.lip_thickness * g.s
        top = max(g.nose_tip + g.nw * 0.4, my - lip - 0.028 * g.s)
        ImageDraw.Draw(image).polygon(
            [
                (cx - mw * 0.95, my - lip * 0.1),
                (cx - mw * 0.5, top),
                (cx + mw * 0.5, top),
                (cx + mw * 0.95, my - lip * 0.1),
                (cx + mw * 0.5, my - lip * 1.0),
                (cx - mw * 0.5, my - lip * 1.0),
            ],
            fill=colour,
        )


def _draw_mouth(draw: ImageDraw.ImageDraw, t: FaceTraits, c: CaptureConditions, g: _Layout) -> None:
    """Upper and lower lip around a dark line, curved by trait and expression."""
    cx, my, mw = g.cx, g.my, g.mw
    curve = (t.mouth_curve + c.expression) * g.s
    lips = _mix(_shade(t.skin, 0.75), (150, 60, 60), 0.45)
    lip = t.lip_thickness * g.s
    corner = my - curve
    middle = my + curve * 0.3
    upper = [
        (cx - mw, corner),
        (cx - mw * 0.4, my - lip),
        (cx, my - lip * 0.7),
        (cx + mw * 0.4, my - lip),
        (cx + mw, corner),
        (cx + mw * 0.5, middle),
        (cx - mw * 0.5, middle),
    ]
    lower = [
        (cx - mw, corner),
        (cx - mw * 0.5, middle),
        (cx + mw * 0.5, middle),
        (cx + mw, corner),
        (cx + mw * 0.5, my + lip * 1.3),
        (cx - mw * 0.5, my + lip * 1.3),
    ]
    draw.polygon(upper, fill=lips)
    draw.polygon(lower, fill=_shade(lips, 1.08))
    draw.line(
        [(cx - mw, corner), (cx, middle), (cx + mw, corner)],
        fill=_darker(lips, 0.45, 50),
        width=max(1, round(g.s * 0.005)),
        joint="curve",
    )


def _render(t: FaceTraits, c: CaptureConditions, side: int) -> Image.Image:
    """The upright, noise-free drawing at ``side`` pixels."""
    g = _Layout.of(t, c, side)
    image = Image.new("RGB", (side, side), c.background)
    _draw_back(image, t, g)
    mask = _draw_skin(image, t, g)
    _draw_hair_front(image, t, g)
    _draw_eyes_and_nose(ImageDraw.Draw(image), t, g)
    _draw_facial_hair(image, mask, t, g)
    _draw_mouth(ImageDraw.Draw(image), t, c, g)
    return image


def _capture(
    image: Image.Image, c: CaptureConditions, size: int, noise: np.random.Generator
) -> Image.Image:
    """Apply the capture's pose, lighting, blur and noise; downsample to ``size``."""
    side = image.width
    # Rotate, scale and shift about the centre; PIL wants the output→input map.
    angle = math.radians(c.rotation_deg)
    a, b = math.cos(angle) / c.scale, math.sin(angle) / c.scale
    centre = side / 2.0
    ox, oy = centre + c.shift_x * side, centre + c.shift_y * side
    coefficients = (a, b, centre - a * ox - b * oy, -b, a, centre + b * ox - a * oy)
    posed = image.transform(
        image.size,
        Image.Transform.AFFINE,
        coefficients,
        resample=Image.Resampling.BILINEAR,
        fillcolor=c.background,
    )
    small = posed.resize((size, size), Image.Resampling.LANCZOS)
    if c.blur_radius > 0.05:
        small = small.filter(ImageFilter.GaussianBlur(c.blur_radius))
    pixels = np.asarray(small, dtype=np.float64)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64) / size - 0.5
    gradient = math.cos(c.light_angle) * xs + math.sin(c.light_angle) * ys
    pixels = pixels * (1.0 + 2.0 * c.light_strength * gradient)[..., None]
    pixels = ((pixels - 128.0) * c.contrast + 128.0) * c.brightness
    pixels += noise.normal(0.0, c.noise_sigma, pixels.shape)
    return Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), "RGB")


def draw_face(identity: int, capture: int, *, size: int = IMAGE_SIZE) -> Image.Image:
    """Capture seed ``capture`` of identity seed ``identity``: RGB, ``size`` pixels square."""
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise InvalidInput(f"size: must be between {MIN_SIZE} and {MAX_SIZE} pixels")
    traits = identity_traits(identity)
    conditions = capture_conditions(identity, capture)
    drawing = _render(traits, conditions, size * _SUPERSAMPLE)
    return _capture(drawing, conditions, size, _rng(identity, capture, 37))


def save_face(image: Image.Image, path: Path, *, identity: int, capture: int) -> None:
    """Write ``image`` as PNG with a text chunk marking it synthetic, with its seeds."""
    info = PngImagePlugin.PngInfo()
    info.add_text(
        SYNTHETIC_PNG_KEY,
        f"synthetic=true; generator={GENERATOR}; identity={identity}; capture={capture}",
    )
    image.save(path, format="PNG", pnginfo=info)
