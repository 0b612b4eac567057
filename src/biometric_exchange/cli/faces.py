"""``bx synth faces``: synthetic face images and their face_recognition templates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from biometric_exchange import SYNTHETIC_NOTICE
from biometric_exchange.cli.common import console, reports_errors
from biometric_exchange.cli.face_input import (
    RequireDetectionOption,
    describe_location,
    require_synthetic_image,
)
from biometric_exchange.cli.output import describe, notes_for, written
from biometric_exchange.domain import TEMPLATE_DIM, TEMPLATE_MODEL
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.faces import encode_image_details
from biometric_exchange.images import FaceLocation
from biometric_exchange.synthetic.faces import (
    GENERATOR,
    IMAGE_SIZE,
    MAX_SIZE,
    MIN_SIZE,
    SKIN_TONES,
    draw_face,
    face_box,
    identity_seed,
    identity_traits,
    save_face,
)

faces_app = typer.Typer(help="Synthetic face images and their face_recognition templates.")

INDEX_FILENAME = "index.json"
MAX_IDENTITIES = 1000
MAX_CAPTURES = 50

ImageArgument = Annotated[
    Path, typer.Argument(help="A face image drawn by `bx synth faces draw`", show_default=False)
]
LocationOption = Annotated[
    str | None,
    typer.Option(
        help="Face box top,right,bottom,left in pixels, used if the detector finds no face",
        show_default=False,
    ),
]


def image_file_name(identity: int, capture: int) -> str:
    """``id003-cap01.png``: the file of capture ``capture`` of the ``identity``-th identity."""
    return f"id{identity:03d}-cap{capture:02d}.png"


def parse_location(text: str | None) -> FaceLocation | None:
    """``"92,178,199,71"`` → (92, 178, 199, 71); None stays None."""
    if text is None:
        return None
    parts = text.split(",")
    try:
        top, right, bottom, left = (int(part.strip()) for part in parts)
    except ValueError:
        raise InvalidInput(
            "--location: expected top,right,bottom,left in pixels, e.g. 92,178,199,71"
        ) from None
    return (top, right, bottom, left)


@faces_app.command("draw")
@reports_errors
def draw(
    identities: Annotated[
        int, typer.Option(min=1, max=MAX_IDENTITIES, help="Number of identities")
    ] = 6,
    captures: Annotated[
        int, typer.Option(min=1, max=MAX_CAPTURES, help="Captures per identity")
    ] = 3,
    seed: Annotated[int, typer.Option(min=0, help="Random seed")] = 2017,
    out: Annotated[Path, typer.Option("--output", "-o", help="Output folder")] = Path(
        "synthetic_faces"
    ),
    size: Annotated[
        int, typer.Option(min=MIN_SIZE, max=MAX_SIZE, help="Image side in pixels")
    ] = IMAGE_SIZE,
) -> None:
    """Draw synthetic face images: PNGs named by identity and capture, and index.json."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise InvalidInput(f"--output: {out} is not a folder") from exc
    images: list[dict[str, Any]] = []
    for index in range(identities):
        identity = identity_seed(seed, index)
        skin_tone = identity_traits(identity).skin_tone
        for capture in range(captures):
            name = image_file_name(index, capture)
            save_face(
                draw_face(identity, capture, size=size),
                out / name,
                identity=identity,
                capture=capture,
            )
            images.append(
                {
                    "file": name,
                    "identity": f"id{index:03d}",
                    "identity_seed": identity,
                    "capture_seed": capture,
                    "skin_tone": skin_tone,
                }
            )
    index_document = {
        "notice": SYNTHETIC_NOTICE,
        "provenance": {"synthetic": True, "generator": GENERATOR, "seed": seed},
        "image_size": size,
        "face_box": list(face_box(size)),
        "skin_tones": f"palette index 0 (lightest) to {len(SKIN_TONES) - 1} (darkest)",
        "images": images,
    }
    (out / INDEX_FILENAME).write_text(json.dumps(index_document, indent=1), encoding="utf-8")
    console.print(f"[bold yellow]{SYNTHETIC_NOTICE}[/]")
    console.print(
        f"{identities} identities x {captures} captures: {len(images)} images "
        f"and {INDEX_FILENAME} written to {out}/",
        markup=False,
    )


@faces_app.command("encode")
@reports_errors
def encode(
    image: ImageArgument,
    location: LocationOption = None,
    require_detection: RequireDetectionOption = False,
    out: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Also write the template as JSON (an encounter's `template`); - for stdout",
        ),
    ] = None,
) -> None:
    """Encode a synthetic face image with face_recognition and summarise the template."""
    require_synthetic_image(image)
    encoding = encode_image_details(
        image, location=parse_location(location), require_detection=require_detection
    )
    values = np.asarray(encoding.template, dtype=np.float64)
    notes = notes_for(out)
    notes.print(describe_location(encoding), markup=False)
    notes.print(
        f"template: {TEMPLATE_MODEL}, {values.size} values, norm {np.linalg.norm(values):.4f}",
        markup=False,
    )
    notes.print("first values: " + " ".join(f"{v:+.4f}" for v in values[:6]), markup=False)
    if out is not None:
        document = {"model": TEMPLATE_MODEL, "dim": TEMPLATE_DIM, "values": values.tolist()}
        try:
            with written(out) as target:
                target.write_text(json.dumps(document), encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"--output: cannot write {out} ({exc.__class__.__name__})") from exc
        notes.print(f"template written to {describe(out)}", markup=False)
