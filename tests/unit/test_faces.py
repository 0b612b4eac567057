"""Drawn synthetic faces through the real face_recognition model (no mocks).

What the model does with drawn faces, measured on the 6 identities x 3
captures below (seed 2017, 256 px): the HOG detector finds 17 of 18; each
capture's nearest other image is a capture of the same identity (18 of 18);
genuine distances are 0.08-0.45 (mean 0.18), impostor distances 0.30-0.66
(mean 0.47). So the model ranks drawn identities apart, but 93 % of impostor
pairs lie below face_recognition's 0.6 tolerance, which is calibrated on
photographs: to it, drawn faces all look alike. The tests assert what holds,
with margins, including that limitation.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner, Result

from biometric_exchange.cli.faces import INDEX_FILENAME, faces_app, image_file_name
from biometric_exchange.cli.main import app
from biometric_exchange.domain import TEMPLATE_DIM, TEMPLATE_MODEL
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.faces import (
    FaceEncoding,
    LocationSource,
    default_location,
    detect_faces,
    encode_image,
    encode_image_details,
    load_image,
)
from biometric_exchange.images import face_image_path, is_marked_synthetic
from biometric_exchange.node.runtime import Node
from biometric_exchange.synthetic.faces import (
    FacialHair,
    HairStyle,
    capture_conditions,
    draw_face,
    face_box,
    identity_seed,
    identity_traits,
    save_face,
)

SEED = 2017
IDENTITIES = 6
CAPTURES = 3
TOLERANCE = 0.6
"""face_recognition's usual same-person threshold, set for photographs."""

runner = CliRunner()
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")

Gallery = dict[tuple[int, int], FaceEncoding]


def _flat(text: str) -> str:
    return " ".join(ANSI_ESCAPE.sub("", text).split())


def _distance(a: FaceEncoding, b: FaceEncoding) -> float:
    diff = np.asarray(a.template, np.float64) - np.asarray(b.template, np.float64)
    return float(np.linalg.norm(diff))


@pytest.fixture(scope="module")
def gallery() -> Gallery:
    """Every capture of every identity, encoded once for the module."""
    return {
        (i, c): encode_image_details(draw_face(identity_seed(SEED, i), c))
        for i in range(IDENTITIES)
        for c in range(CAPTURES)
    }


@pytest.fixture(scope="module")
def distances(gallery: Gallery) -> dict[str, np.ndarray]:
    genuine: list[float] = []
    impostor: list[float] = []
    for (a, ea), (b, eb) in itertools.combinations(gallery.items(), 2):
        (genuine if a[0] == b[0] else impostor).append(_distance(ea, eb))
    return {"genuine": np.array(genuine), "impostor": np.array(impostor)}


@pytest.fixture
def face_png(tmp_path: Path) -> Path:
    path = tmp_path / "face.png"
    save_face(draw_face(identity_seed(SEED, 0), 0), path, identity=1, capture=0)
    return path


# --- drawing -----------------------------------------------------------------


def test_drawing_is_deterministic_per_identity_and_capture_seed() -> None:
    identity = identity_seed(SEED, 0)
    first = draw_face(identity, 1)
    assert first.mode == "RGB" and first.size == (256, 256)
    assert draw_face(identity, 1).tobytes() == first.tobytes()
    assert draw_face(identity, 2).tobytes() != first.tobytes()
    assert draw_face(identity_seed(SEED, 1), 1).tobytes() != first.tobytes()
    assert draw_face(identity, 1, size=320).size == (320, 320)


def test_identity_fixes_the_look_and_capture_the_conditions() -> None:
    traits = [identity_traits(identity_seed(SEED, i)) for i in range(40)]
    assert identity_traits(identity_seed(SEED, 3)) == traits[3]
    assert len({t.skin for t in traits}) > 20
    assert {t.skin_tone for t in traits} == set(range(8))
    assert {t.hair_style for t in traits} == set(HairStyle)
    assert {t.facial_hair for t in traits} == set(FacialHair)
    conditions = {capture_conditions(identity_seed(SEED, 0), c) for c in range(5)}
    assert len(conditions) == 5
    assert all(abs(c.rotation_deg) <= 6 and 0.9 < c.scale < 1.1 for c in conditions)


def test_draw_face_refuses_bad_sizes_and_seeds() -> None:
    with pytest.raises(InvalidInput, match="size: must be between"):
        draw_face(1, 0, size=64)
    with pytest.raises(InvalidInput, match="seed: must not be negative"):
        draw_face(-1, 0)


def test_saved_images_carry_the_synthetic_marker(face_png: Path, tmp_path: Path) -> None:
    assert is_marked_synthetic(face_png)
    unmarked = tmp_path / "unmarked.png"
    Image.open(face_png).save(unmarked)
    assert not is_marked_synthetic(unmarked)
    assert not is_marked_synthetic(tmp_path / "missing.png")


# --- the real model on drawn faces -------------------------------------------


def test_same_image_gives_a_bit_identical_template(face_png: Path) -> None:
    first = encode_image(face_png)
    second = encode_image(face_png)
    assert first.tobytes() == second.tobytes()
    assert encode_image(load_image(face_png)).tobytes() == first.tobytes()
    assert first.dtype == np.float32 and first.shape == (TEMPLATE_DIM,)
    assert np.all(np.isfinite(first)) and not first.flags.writeable


def test_hog_detects_most_drawn_faces(gallery: Gallery) -> None:
    detected = sum(e.source is LocationSource.DETECTED for e in gallery.values())
    assert detected >= 0.75 * len(gallery), f"HOG found {detected} of {len(gallery)}"
    for encoding in gallery.values():
        if encoding.source is LocationSource.DETECTED:
            assert encoding.faces_detected == 1
            top, right, bottom, left = encoding.location
            assert 60 < top < bottom < 230 and 40 < left < right < 220


def test_templates_are_sane(gallery: Gallery) -> None:
    norms = [float(np.linalg.norm(e.template)) for e in gallery.values()]
    assert all(1.0 < n < 1.7 for n in norms), norms


def test_each_capture_is_nearest_to_its_own_identity(gallery: Gallery) -> None:
    for key, probe in gallery.items():
        same = min(_distance(probe, e) for k, e in gallery.items() if k[0] == key[0] and k != key)
        other = min(_distance(probe, e) for k, e in gallery.items() if k[0] != key[0])
        assert same < other, f"{key}: own identity {same:.3f}, nearest other {other:.3f}"


def test_genuine_and_impostor_distances(distances: dict[str, np.ndarray]) -> None:
    genuine, impostor = distances["genuine"], distances["impostor"]
    summary = (
        f"genuine {genuine.min():.3f}-{genuine.max():.3f} (mean {genuine.mean():.3f}), "
        f"impostor {impostor.min():.3f}-{impostor.max():.3f} (mean {impostor.mean():.3f})"
    )
    assert genuine.mean() + 0.15 < impostor.mean(), summary
    assert genuine.max() < 0.55, summary
    assert impostor.min() > 0.15, summary
    # The limitation, asserted so that the docs stay true: the photograph
    # tolerance does not separate drawn identities.
    assert np.mean(impostor < TOLERANCE) > 0.5, summary


# --- where the face is encoded -----------------------------------------------


def test_no_face_uses_the_location_then_the_default_box() -> None:
    blank = np.full((256, 256, 3), 150, dtype=np.uint8)
    assert detect_faces(blank) == []
    given = encode_image_details(blank, location=(60, 200, 200, 60))
    assert given.source is LocationSource.GIVEN and given.location == (60, 200, 200, 60)
    fallback = encode_image_details(blank)
    assert fallback.source is LocationSource.DEFAULT
    assert fallback.location == default_location(256, 256) == face_box(256)
    with pytest.raises(InvalidInput, match="no face detected"):
        encode_image(blank, require_detection=True)


def test_several_faces_encode_the_largest() -> None:
    canvas = Image.new("RGB", (640, 360), (220, 220, 220))
    canvas.paste(draw_face(identity_seed(SEED, 0), 0, size=320), (0, 20))
    canvas.paste(
        draw_face(identity_seed(SEED, 1), 0, size=192).crop((16, 16, 176, 176)), (400, 100)
    )
    faces = detect_faces(load_image(canvas))
    assert len(faces) == 2
    encoding = encode_image_details(canvas)
    assert encoding.faces_detected == 2
    assert encoding.location == max(faces, key=lambda f: (f[2] - f[0]) * (f[1] - f[3]))
    assert encoding.location[1] < 320, "the larger face is the left one"


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ((0, 300, 100, 0), "not a box inside the 256x256 image"),
        ((100, 50, 50, 100), "not a box inside"),
        ((10, 20, 20, 10), "at least 20 pixels"),
    ],
)
def test_bad_locations(location: tuple[int, int, int, int], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        encode_image(np.zeros((256, 256, 3), np.uint8), location=location)


# --- bad images --------------------------------------------------------------


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_bad_image_files(face_png: Path, tmp_path: Path) -> None:
    encode_image(face_png)  # the model is loaded: its import leaves Pillow strict
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (40, 300)).save(tiny)
    truncated = _write(tmp_path / "cut.png", face_png.read_bytes()[:2000])
    cases = {
        _write(tmp_path / "notes.png", b"this is text, not pixels"): "not an image Pillow can read",
        _write(tmp_path / "empty.png", b""): "empty file",
        tiny: r"image too small \(40x300 pixels, need 64 on each side\)",
        tmp_path / "missing.png": r"cannot read an image \(FileNotFoundError\)",
        tmp_path: r"cannot read an image \(IsADirectoryError\)",
        truncated: "damaged or truncated image",
    }
    for path, message in cases.items():
        with pytest.raises(InvalidInput, match=message):
            encode_image(path)


def test_bad_arrays() -> None:
    with pytest.raises(InvalidInput, match="expected uint8 pixels, got float64"):
        encode_image(np.zeros((128, 128, 3)))
    with pytest.raises(InvalidInput, match="expected height"):
        encode_image(np.zeros((128, 128, 2), np.uint8))
    with pytest.raises(InvalidInput, match="too small"):
        encode_image(np.zeros((32, 32), np.uint8))


def test_grey_and_rgba_images_are_converted(face_png: Path, tmp_path: Path) -> None:
    rgba = tmp_path / "rgba.png"
    Image.open(face_png).convert("RGBA").save(rgba)
    assert load_image(rgba).shape == (256, 256, 3)
    grey = load_image(np.zeros((100, 120), np.uint8))
    assert grey.shape == (100, 120, 3) and grey.flags.c_contiguous


# --- CLI ---------------------------------------------------------------------


def _run(target: Any, *args: object) -> Result:
    return runner.invoke(target, [str(arg) for arg in args])


def test_cli_draw_writes_images_and_a_synthetic_index(tmp_path: Path) -> None:
    out = tmp_path / "faces"
    args = ("draw", "--identities", 2, "--captures", 2, "--seed", 5, "--output", out)
    result = _run(faces_app, *args)
    assert result.exit_code == 0, result.stderr
    index = json.loads((out / INDEX_FILENAME).read_text(encoding="utf-8"))
    assert index["provenance"] == {
        "synthetic": True,
        "generator": "biometric_exchange.synthetic.faces",
        "seed": 5,
    }
    assert all(0 <= image["skin_tone"] <= 7 for image in index["images"])
    names = [image["file"] for image in index["images"]]
    assert names == [image_file_name(i, c) for i in range(2) for c in range(2)]
    assert names[1] == "id000-cap01.png"
    first = out / names[0]
    assert is_marked_synthetic(first)
    before = first.read_bytes()
    assert _run(faces_app, *args).exit_code == 0
    assert first.read_bytes() == before


def test_cli_encode_prints_a_summary_only(face_png: Path, tmp_path: Path) -> None:
    out = tmp_path / "template.json"
    result = _run(faces_app, "encode", face_png, "--output", out)
    assert result.exit_code == 0, result.stderr
    text = _flat(result.stdout)
    assert "face: found by the HOG detector (1 found)" in text
    assert f"template: {TEMPLATE_MODEL}, 128 values, norm " in text
    assert len(re.findall(r"[+-]\d\.\d{4}", text)) == 6
    document = json.loads(out.read_text(encoding="utf-8"))
    assert np.asarray(document["values"], np.float32).tobytes() == encode_image(face_png).tobytes()


def test_cli_encode_refuses_unmarked_images_and_bad_locations(
    face_png: Path, tmp_path: Path
) -> None:
    unmarked = tmp_path / "photo.png"
    Image.open(face_png).save(unmarked)
    result = _run(faces_app, "encode", unmarked)
    assert result.exit_code == 2
    assert "not marked synthetic" in _flat(result.stderr)
    result = _run(faces_app, "encode", face_png, "--location", "1,2,3")
    assert result.exit_code == 2
    assert "--location: expected top,right,bottom,left" in _flat(result.stderr)


def _encounter(encounter_id: str) -> dict[str, Any]:
    return {
        "encounter_id": encounter_id,
        "person": {
            "given_name": "Synthetic",
            "family_name": "Person",
            "sex": "X",
            "birth_date": "1990-01-01",
            "nationality": "CHN",
            "document_number": "SYN-FACE0001",
        },
        "encountered_at": "2025-01-02T10:00:00+00:00",
        "border_point": "CHL-SYNTHETIC-POINT",
        "provenance": {"synthetic": True, "generator": "test_faces", "seed": None},
    }


def test_enroll_with_an_image(pair_dirs: tuple[Path, Path], face_png: Path, tmp_path: Path) -> None:
    chile = pair_dirs[0]
    without = tmp_path / "without.json"
    without.write_text(json.dumps(_encounter("ENC-FACE-1")), encoding="utf-8")
    with_template = tmp_path / "with.json"
    raw = _encounter("ENC-FACE-2") | {
        "template": {"model": TEMPLATE_MODEL, "dim": TEMPLATE_DIM, "values": [0.5] * 128}
    }
    with_template.write_text(json.dumps(raw), encoding="utf-8")

    first = _run(app, "enroll", without, "--node", chile, "--image", face_png, "--wait", 0)
    second = _run(app, "enroll", with_template, "--node", chile, "--image", face_png, "--wait", 0)

    assert first.exit_code == 0, first.stderr
    assert second.exit_code == 0, second.stderr
    assert "template encoded from" in _flat(first.stdout)
    assert "replacing the file's template" not in _flat(first.stdout)
    assert "replacing the file's template" in _flat(second.stdout)
    expected = encode_image(face_png).tobytes()
    node = Node.open(chile)
    try:
        for encounter_id in ("ENC-FACE-1", "ENC-FACE-2"):
            stored = node.records.encounter(encounter_id)
            assert stored is not None and stored.template.tobytes() == expected
            kept = face_image_path(chile, "encounters", encounter_id)  # for the console
            assert kept is not None and kept.read_bytes() == face_png.read_bytes()
    finally:
        node.database.close()


def test_enroll_with_an_image_checks_the_record_first(
    pair_dirs: tuple[Path, Path], face_png: Path, tmp_path: Path
) -> None:
    chile = pair_dirs[0]
    bad = _encounter("ENC-FACE-3")
    del bad["person"]["nationality"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad), encoding="utf-8")
    result = _run(app, "enroll", path, "--node", chile, "--image", face_png, "--wait", 0)
    assert result.exit_code == 2
    assert "person.nationality: Field required" in _flat(result.stderr)

    path.write_text(json.dumps(_encounter("ENC-FACE-3")), encoding="utf-8")
    result = _run(app, "enroll", path, "--node", chile, "--wait", 0)
    assert result.exit_code == 2
    assert "template: Field required" in _flat(result.stderr)
    result = _run(app, "enroll", path, "--node", chile, "--require-detection", "--wait", 0)
    assert "--require-detection: applies only with --image" in _flat(result.stderr)
