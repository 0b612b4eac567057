"""``bx export nist`` and ``bx import nist``, run in-process on real node folders."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner, Result

from biometric_exchange.cli.main import app
from biometric_exchange.domain import WatchlistCategory, template_to_bytes
from biometric_exchange.interop.nist import read_transaction
from biometric_exchange.node.enrolment import add_watchlist, enrol
from biometric_exchange.node.runtime import Node
from biometric_exchange.synthetic import DemoDataset
from biometric_exchange.synthetic.faces import draw_face, save_face

runner = CliRunner()
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def _bx(*args: object) -> Result:
    return runner.invoke(app, [str(arg) for arg in args])


def _flat(text: str) -> str:
    return " ".join(ANSI_ESCAPE.sub("", text).split())


def _assert_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 2, result.stdout
    message = _flat(result.stderr)
    assert message.startswith("error: "), message
    for fragment in fragments:
        assert fragment in message, message


def _with_records(pair_dirs: tuple[Path, Path], dataset: DemoDataset) -> None:
    panama, chile = Node.open(pair_dirs[1]), Node.open(pair_dirs[0])
    enrol(panama, dataset.encounters["PAN"][0])
    add_watchlist(chile, dataset.watchlists["CHL"][:2])
    panama.database.close()
    chile.database.close()


def test_an_encounter_exported_by_panama_enters_chile_as_a_watchlist_entry_only(
    pair_dirs: tuple[Path, Path], dataset: DemoDataset, tmp_path: Path
) -> None:
    chile_dir, panama_dir = pair_dirs
    _with_records(pair_dirs, dataset)
    original = dataset.encounters["PAN"][0]
    file = tmp_path / "enc.nist"

    exported = _bx("export", "nist", "-n", panama_dir, original.encounter_id, "-o", file)
    assert exported.exit_code == 0, exported.stderr
    assert f"wrote {file}: BX-ENC transaction {original.encounter_id}-" in _flat(exported.stdout)
    assert "Type-1, Type-2, Type-99" in _flat(exported.stdout)
    assert stat.S_IMODE(file.stat().st_mode) == 0o600

    refused = _bx("import", "nist", "-n", chile_dir, file)
    _assert_error(
        refused,
        f"encounter {original.encounter_id}: 2.921 BPT: {original.border_point!r} "
        "is not a border point of CHL",
    )
    imported = _bx("import", "nist", "-n", chile_dir, file, "--watchlist", "missing_person")
    assert imported.exit_code == 0, imported.stderr
    assert f"added watchlist entry {original.encounter_id} (missing_person) to node_chile" in (
        _flat(imported.stdout)
    )
    chile = Node.open(chile_dir)
    stored = chile.records.watchlist_entry(original.encounter_id)
    assert chile.records.encounter(original.encounter_id) is None
    chile.database.close()
    assert stored is not None
    assert stored.person == original.person
    assert template_to_bytes(stored.template) == template_to_bytes(original.template)

    again = _bx("import", "nist", "-n", chile_dir, file, "--watchlist", "missing_person")
    _assert_error(again, f"'{original.encounter_id}' is already on this node's watchlist")


def test_a_watchlist_entry_keeps_or_changes_its_category(
    pair_dirs: tuple[Path, Path], dataset: DemoDataset, tmp_path: Path
) -> None:
    chile_dir, panama_dir = pair_dirs
    _with_records(pair_dirs, dataset)
    first, second = dataset.watchlists["CHL"][:2]
    for entry in (first, second):
        result = _bx(
            "export", "nist", "-n", chile_dir, entry.entry_id, "-o", tmp_path / entry.entry_id
        )
        assert result.exit_code == 0, result.stderr
        assert "BX-WL transaction" in _flat(result.stdout)

    kept = _bx("import", "nist", "-n", panama_dir, tmp_path / first.entry_id)
    assert kept.exit_code == 0, kept.stderr
    assert f"added watchlist entry {first.entry_id} ({first.category.value})" in _flat(kept.stdout)
    other = next(c for c in WatchlistCategory if c is not second.category)
    changed = _bx(
        "import", "nist", "-n", panama_dir, tmp_path / second.entry_id, "--watchlist", other
    )
    assert changed.exit_code == 0, changed.stderr

    panama = Node.open(panama_dir)
    stored = {entry.entry_id: entry for entry in panama.records.watchlist()}
    panama.database.close()
    assert stored[first.entry_id].category is first.category
    assert stored[second.entry_id].category is other
    assert np.array_equal(stored[first.entry_id].template, first.template)


def test_export_with_a_face_image_and_the_default_file_name(
    pair_dirs: tuple[Path, Path],
    dataset: DemoDataset,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, panama_dir = pair_dirs
    _with_records(pair_dirs, dataset)
    image = tmp_path / "face.png"
    save_face(draw_face(7, 0, size=128), image, identity=7, capture=0)
    encounter_id = dataset.encounters["PAN"][0].encounter_id
    work = tmp_path / "out"
    work.mkdir()
    monkeypatch.chdir(work)
    result = _bx("export", "nist", "-n", panama_dir, encounter_id, "--image", image)
    assert result.exit_code == 0, result.stderr
    assert "Type-1, Type-2, Type-10, Type-99" in _flat(result.stdout)
    transaction = read_transaction(work / f"{encounter_id}.nist")
    assert transaction.face_image is not None
    assert transaction.face_image.data == image.read_bytes()

    imported = _bx(
        "import",
        "nist",
        "-n",
        pair_dirs[0],
        work / f"{encounter_id}.nist",
        "--watchlist",
        "missing_person",
    )
    assert imported.exit_code == 0, imported.stderr
    assert "face image (Type-10, 128x128 PNG) not stored" in _flat(imported.stdout)


def test_cli_errors_name_the_problem_and_touch_nothing(
    pair_dirs: tuple[Path, Path], dataset: DemoDataset, tmp_path: Path
) -> None:
    chile_dir, panama_dir = pair_dirs
    _with_records(pair_dirs, dataset)
    encounter_id = dataset.encounters["PAN"][0].encounter_id

    _assert_error(
        _bx("export", "nist", "-n", panama_dir, "PAN-ENC-9999", "-o", tmp_path / "x.nist"),
        "'PAN-ENC-9999' is neither an encounter nor a watchlist entry on node_panama",
    )
    taken = tmp_path / "taken.nist"
    taken.write_bytes(b"keep me")
    _assert_error(
        _bx("export", "nist", "-n", panama_dir, encounter_id, "-o", taken),
        f"{taken}: already exists; choose another --output or add --force",
    )
    assert taken.read_bytes() == b"keep me"
    assert (
        _bx("export", "nist", "-n", panama_dir, encounter_id, "-o", taken, "--force").exit_code == 0
    )
    _assert_error(
        _bx("export", "nist", "-n", panama_dir, encounter_id, "--image", tmp_path / "none.png"),
        "none.png: cannot read an image",
    )

    not_nist = tmp_path / "enc.json"
    not_nist.write_text('{"encounter_id": "PAN-ENC-0006"}', encoding="utf-8")
    _assert_error(
        _bx("import", "nist", "-n", chile_dir, not_nist), "not an ANSI/NIST-ITL transaction"
    )
    truncated = tmp_path / "cut.nist"
    truncated.write_bytes(taken.read_bytes()[:600])
    _assert_error(_bx("import", "nist", "-n", chile_dir, truncated), f"{truncated}: truncated")
    _assert_error(
        _bx("import", "nist", "-n", chile_dir, tmp_path / "absent.nist"),
        "absent.nist: cannot read an ANSI/NIST-ITL file",
    )
    unknown_category = _bx("import", "nist", "-n", chile_dir, taken, "--watchlist", "pickpocket")
    assert unknown_category.exit_code == 2
    assert "'pickpocket' is not one of" in _flat(unknown_category.stderr)
    chile = Node.open(chile_dir)
    assert chile.records.count_encounters() == 0
    assert chile.records.encounter(encounter_id) is None
    chile.database.close()
