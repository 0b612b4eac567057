"""The ``bx`` command line, run in-process on node folders (no node process runs)."""

from __future__ import annotations

import json
import re
import sqlite3
import tomllib
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from biometric_exchange.alerts.rules import RuleContext, watchlist_hit
from biometric_exchange.cli.main import app
from biometric_exchange.config import AGREEMENT_FILENAME, CONFIG_FILENAME, DATABASE_PATH
from biometric_exchange.node.runtime import Node
from biometric_exchange.recordfiles import encounter_to_dict, watchlist_entry_to_dict
from biometric_exchange.store.audit import AuditEvent, AuditOutcome
from biometric_exchange.store.outbox import OutboxState
from biometric_exchange.synthetic import DemoDataset
from biometric_exchange.synthetic.files import write_dataset

runner = CliRunner()
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def _bx(*args: object) -> Result:
    return runner.invoke(app, [str(arg) for arg in args])


def _flat(text: str) -> str:
    """Rich may wrap long lines (or style them); compare plain text, whitespace collapsed."""
    return " ".join(ANSI_ESCAPE.sub("", text).split())


def _assert_one_error(result: Result, *fragments: str, code: int = 2) -> None:
    """Exit ``code`` (2: bad input), nothing on stdout, one ``error:`` line naming every
    fragment."""
    assert result.exit_code != 0, result.stdout
    assert result.exit_code == code
    assert result.stdout == ""
    # Progress lines (``bx watchlist import``) may come first, on stderr too.
    progress, _, error = _flat(result.stderr).partition("error: ")
    message = "error: " + error
    assert error and "error" not in progress, result.stderr
    assert message.count("error:") == 1, message
    for fragment in fragments:
        assert _flat(fragment) in message


def _count(node_dir: Path, table: str) -> int:
    with closing(sqlite3.connect(node_dir / DATABASE_PATH)) as connection:
        return int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def _rows(node_dir: Path) -> tuple[int, int]:
    return _count(node_dir, "encounters"), _count(node_dir, "outbox")


def _write_json(path: Path, raw: Any) -> Path:
    path.write_text(json.dumps(raw), encoding="utf-8")
    return path


@pytest.fixture
def chile(pair_dirs: tuple[Path, Path]) -> Path:
    return pair_dirs[0]


@pytest.fixture
def first_encounter(dataset: DemoDataset) -> dict[str, Any]:
    return encounter_to_dict(dataset.encounters["CHL"][0])


@pytest.fixture
def enrolled(chile: Path, first_encounter: dict[str, Any], tmp_path: Path) -> Path:
    """Chile's node with one encounter already enrolled (so the database exists)."""
    path = _write_json(tmp_path / "first.json", first_encounter)
    result = _bx("enroll", path, "--node", chile, "--wait", "0")
    assert result.exit_code == 0, result.stderr
    assert _rows(chile) == (1, 1)
    return path


# --- enroll ------------------------------------------------------------------


def test_enroll_on_a_stopped_node_returns_at_once(
    chile: Path, first_encounter: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write_json(tmp_path / "enc.json", first_encounter)
    waits: list[float] = []
    monkeypatch.setattr("biometric_exchange.cli.records.time.sleep", waits.append)

    result = _bx("enroll", path, "--node", chile, "--wait", "15")

    assert result.exit_code == 0, result.stderr
    assert waits == []  # no process serves the folder: nothing to wait for
    assert "queued; no node process serves" in _flat(result.stdout)


def test_enroll_a_valid_encounter(
    chile: Path, dataset: DemoDataset, first_encounter: dict[str, Any], tmp_path: Path
) -> None:
    path = _write_json(tmp_path / "enc.json", first_encounter)
    encounter_id = first_encounter["encounter_id"]
    assert not (chile / DATABASE_PATH).exists()

    result = _bx("enroll", path, "--node", chile, "--wait", "0")

    assert result.exit_code == 0, result.stderr
    output = _flat(result.stdout)
    assert f"enrolled {encounter_id} on node_chile" in output
    assert "status: queued; no node process serves" in output
    assert "start it with bx node run" in output
    assert _rows(chile) == (1, 1)
    node = Node.open(chile)
    try:
        stored = node.records.encounter(encounter_id)
        assert stored is not None
        assert stored.template.tobytes() == dataset.encounters["CHL"][0].template.tobytes()
        assert stored.person == dataset.encounters["CHL"][0].person
        item = node.outbox.get(encounter_id)
        assert item is not None
        assert item.state is OutboxState.PENDING
    finally:
        node.database.close()


def _shorten(raw: dict[str, Any]) -> str:
    raw["template"]["values"] = raw["template"]["values"][:127]
    return json.dumps(raw)


def _nan(raw: dict[str, Any]) -> str:
    raw["template"]["values"][3] = 123456.5
    return json.dumps(raw).replace("123456.5", "NaN")


def _nationality(raw: dict[str, Any]) -> str:
    raw["person"]["nationality"] = "ZZZ"
    return json.dumps(raw)


def _malformed(raw: dict[str, Any]) -> str:
    return json.dumps(raw)[:-20]


BAD_FILES: list[tuple[str, Callable[[dict[str, Any]], str], str]] = [
    ("wrong-dimension", _shorten, "template.values: expected 128 values, got 127"),
    ("nan", _nan, "template.values: values must be finite (no NaN or infinity)"),
    ("nationality", _nationality, "person.nationality: 'ZZZ' is not an ISO 3166-1 alpha-3 code"),
    ("malformed-json", _malformed, "not valid JSON"),
]


@pytest.mark.parametrize(
    ("make_text", "problem"),
    [pytest.param(make, problem, id=name) for name, make, problem in BAD_FILES],
)
def test_enroll_refuses_a_bad_file_and_changes_nothing(
    chile: Path,
    enrolled: Path,
    dataset: DemoDataset,
    tmp_path: Path,
    make_text: Callable[[dict[str, Any]], str],
    problem: str,
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(make_text(encounter_to_dict(dataset.encounters["CHL"][1])), encoding="utf-8")
    before = _rows(chile)

    result = _bx("enroll", path, "--node", chile, "--wait", "0")

    _assert_one_error(result, f"{path}: {problem}")
    assert _rows(chile) == before


def test_enroll_missing_file(chile: Path, enrolled: Path, tmp_path: Path) -> None:
    path = tmp_path / "nowhere.json"
    before = _rows(chile)
    result = _bx("enroll", path, "--node", chile, "--wait", "0")
    _assert_one_error(result, f"{path}: cannot read an encounter file (FileNotFoundError)")
    assert _rows(chile) == before


def test_enroll_the_same_encounter_twice(
    chile: Path, enrolled: Path, first_encounter: dict[str, Any]
) -> None:
    result = _bx("enroll", enrolled, "--node", chile, "--wait", "0")
    _assert_one_error(
        result, f"encounter_id: '{first_encounter['encounter_id']}' is already enrolled"
    )
    assert _rows(chile) == (1, 1)


def test_node_folder_without_keys_says_to_restore_them(chile: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare_node"
    bare.mkdir()
    (bare / CONFIG_FILENAME).write_text(
        (chile / CONFIG_FILENAME).read_text(encoding="utf-8"), encoding="utf-8"
    )
    result = _bx("alerts", "list", "--operator", "viewer-1", "--node", bare)
    _assert_one_error(
        result,
        f"missing key file {bare}/keys/signing.key",
        f"`bx keys restore --node {bare} --from FILE`",
    )
    assert not (bare / "data").exists()


def test_enroll_on_a_node_without_keys_stores_nothing(
    first_encounter: dict[str, Any], tmp_path: Path, chile: Path
) -> None:
    bare = tmp_path / "bare_node"
    bare.mkdir()
    (bare / CONFIG_FILENAME).write_text(
        (chile / CONFIG_FILENAME).read_text(encoding="utf-8"), encoding="utf-8"
    )
    path = _write_json(tmp_path / "enc.json", first_encounter)
    result = _bx("enroll", path, "--node", bare, "--wait", "0")
    _assert_one_error(result, "missing key file", "bx keys restore")
    assert not (bare / "data").exists()


# --- keys --------------------------------------------------------------------


def test_keys_init_twice_needs_force(chile: Path, tmp_path: Path) -> None:
    node_dir = tmp_path / "fresh"
    node_dir.mkdir()
    (node_dir / CONFIG_FILENAME).write_text(
        (chile / CONFIG_FILENAME).read_text(encoding="utf-8"), encoding="utf-8"
    )
    first = _bx("keys", "init", "-n", node_dir)
    assert first.exit_code == 0, first.stderr
    assert f"created keys for node_chile (CHL) in {node_dir}/keys" in _flat(first.stdout)
    signing_pub = (node_dir / "keys" / "signing.pub").read_bytes()
    signing_key = (node_dir / "keys" / "signing.key").read_bytes()
    assert ((node_dir / "keys" / "signing.key").stat().st_mode & 0o777) == 0o600

    second = _bx("keys", "init", "-n", node_dir)
    _assert_one_error(second, f"{node_dir}/keys already holds ca.key,", "pass --force")
    assert (node_dir / "keys" / "signing.pub").read_bytes() == signing_pub
    assert (node_dir / "keys" / "signing.key").read_bytes() == signing_key

    forced = _bx("keys", "init", "-n", node_dir, "--force")
    assert forced.exit_code == 0, forced.stderr
    assert (node_dir / "keys" / "signing.pub").read_bytes() != signing_pub


def test_keys_init_without_config(tmp_path: Path) -> None:
    result = _bx("keys", "init", "-n", tmp_path)
    _assert_one_error(result, f"{tmp_path}/{CONFIG_FILENAME}: no node configuration here")
    assert not (tmp_path / "keys").exists()


# --- watchlist and alerts ----------------------------------------------------


def test_watchlist_import_then_alerts_list(
    chile: Path, dataset: DemoDataset, tmp_path: Path
) -> None:
    out = tmp_path / "synthetic_data"
    write_dataset(dataset, out)
    expected = len(dataset.watchlists["CHL"])

    imported = _bx("watchlist", "import", out / "watchlist_CHL.jsonl", "--node", chile)
    assert imported.exit_code == 0, imported.stderr
    assert _flat(imported.stdout) == f"added {expected} watchlist entries to node_chile"
    assert _count(chile, "watchlist") == expected
    # Piped, progress is one line per tenth of each pass, on stderr.
    progress = imported.stderr.splitlines()
    assert progress[0] == f"reading {out / 'watchlist_CHL.jsonl'}"
    assert f"checking entries: {expected:,}/{expected:,} (100%)" in progress
    assert f"sealing and storing: {expected:,}/{expected:,} (100%)" in progress
    assert len(progress) <= 1 + 2 * 11

    listed = _bx("alerts", "list", "--operator", "viewer-1", "--node", chile)
    assert listed.exit_code == 0, listed.stderr
    assert "Alerts on node_chile (0)" in _flat(listed.stdout)

    again = _bx("watchlist", "import", out / "watchlist_CHL.jsonl", "--node", chile)
    _assert_one_error(again, "is already on this node's watchlist")
    assert _count(chile, "watchlist") == expected


def test_watchlist_import_with_a_bad_line_adds_nothing(
    chile: Path, enrolled: Path, dataset: DemoDataset, tmp_path: Path
) -> None:
    lines = [json.dumps(watchlist_entry_to_dict(e)) for e in dataset.watchlists["CHL"][:4]]
    bad = json.loads(lines[2])
    bad["template"]["values"] = bad["template"]["values"][:127]
    lines[2] = json.dumps(bad)
    path = tmp_path / "wl.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = _bx("watchlist", "import", path, "--node", chile)

    _assert_one_error(result, f"{path}:3: template.values: expected 128 values, got 127")
    assert _count(chile, "watchlist") == 0


def test_alerts_list_shows_raised_alerts_and_filters_by_kind(
    chile: Path, dataset: DemoDataset
) -> None:
    node = Node.open(chile)
    try:
        node.alerts.raise_alert(
            watchlist_hit(
                dataset.encounters["CHL"][0],
                context=RuleContext("AGR-TEST", "border_security", 0.6),
                category="arrest_warrant",
                distance=0.31,
                partner="PAN",
                hit_reference="HR-TEST-1",
            )
        )
    finally:
        node.database.close()

    listed = _bx("alerts", "list", "--operator", "viewer-1", "--node", chile)
    assert listed.exit_code == 0, listed.stderr
    output = _flat(listed.stdout)
    assert "Alerts on node_chile (1)" in output
    assert "WATCHLIST_HIT" in output
    assert "critical" in output

    filtered = _bx(
        "alerts", "list", "--operator", "viewer-1", "--node", chile, "--kind", "IDENTITY_CONFLICT"
    )
    assert filtered.exit_code == 0, filtered.stderr
    assert "Alerts on node_chile (0)" in _flat(filtered.stdout)


# --- audit and agreement -----------------------------------------------------


def test_audit_verify_passes_and_detects_an_edit(chile: Path) -> None:
    node = Node.open(chile)
    try:
        node.audit.record(
            AuditEvent.IDENTIFY_SENT, AuditOutcome.ACCEPTED, peer="PAN", message_id="m-1", probes=2
        )
        node.audit.record(
            AuditEvent.IDENTIFY_REPLY_RECEIVED, AuditOutcome.ACCEPTED, peer="PAN", hits=1
        )
    finally:
        node.database.close()

    verified = _bx("audit", "verify", "--node", chile)
    assert verified.exit_code == 0, verified.stderr
    assert "audit chain of node_chile intact: 2 entries" in _flat(verified.stdout)

    with closing(sqlite3.connect(chile / DATABASE_PATH)) as connection:
        connection.execute("UPDATE audit_log SET outcome = 'rejected' WHERE seq = 1")
        connection.commit()
    broken = _bx("audit", "verify", "--node", chile)
    _assert_one_error(broken, "audit entry 1 was altered", code=1)


def test_agreement_show_prints_the_verified_hash(pair_dirs: tuple[Path, Path]) -> None:
    node = Node.open(pair_dirs[1])
    try:
        expected_hash = node.link("CHL").agreement.hash
        agreement_id = node.link("CHL").agreement.id
    finally:
        node.database.close()
    for node_dir in pair_dirs:
        result = _bx("agreement", "show", "-n", node_dir)
        assert result.exit_code == 0, result.stderr
        output = _flat(result.stdout)
        assert f"Agreement {agreement_id} v1 (synthetic)" in output
        assert expected_hash in output
        assert "extra_regional" in output


def test_agreement_draft_sign_verify_install(pair_dirs: tuple[Path, Path], tmp_path: Path) -> None:
    chile, panama = pair_dirs
    draft = tmp_path / "draft.toml"
    assert (
        _bx("agreement", "draft", "-n", chile, "--partner-node", panama, "-o", draft).exit_code == 0
    )
    assert tomllib.loads(draft.read_text(encoding="utf-8"))["signatures"] == {}

    unsigned = _bx("agreement", "verify", draft)
    _assert_one_error(unsigned, "signatures.CHL is missing")
    signed_once = _bx("agreement", "sign", draft, "--node", chile)
    assert signed_once.exit_code == 0 and "still to sign: PAN" in _flat(signed_once.stdout)
    one_signed = _bx("agreement", "install", draft, "--node", chile)
    _assert_one_error(one_signed, "signatures.PAN is missing")

    wrong_node = _bx("agreement", "sign", draft, "--node", tmp_path)
    assert wrong_node.exit_code == 2
    assert _bx("agreement", "sign", draft, "--node", panama).exit_code == 0
    verified = _bx("agreement", "verify", draft)
    assert verified.exit_code == 0 and "in force on" in _flat(verified.stdout)
    expired = _bx("agreement", "verify", draft, "--on", "2099-01-01")
    assert expired.exit_code == 1 and "expired on" in _flat(expired.stderr)

    for node_dir in (chile, panama):
        assert _bx("agreement", "install", draft, "--node", node_dir).exit_code == 0
        assert (node_dir / AGREEMENT_FILENAME).read_text(encoding="utf-8") == draft.read_text(
            encoding="utf-8"
        )
    shown = _flat(_bx("agreement", "show", "-n", chile).stdout)
    assert "asylum_seeker, refugee, unaccompanied_minor: only for humanitarian_protection" in shown
    assert "10000 probes, 500 step-2 requests" in shown
