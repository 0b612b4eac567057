"""Key custody: backup, restore and check of a node's keys; file modes at start-up."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from biometric_exchange.cli.main import app
from biometric_exchange.config import DATABASE_PATH
from biometric_exchange.crypto.backup import HEADER, PASSPHRASE_ENV
from biometric_exchange.crypto.keys import KEY_FILES, keys_dir
from biometric_exchange.exceptions import ConfigError
from biometric_exchange.node.enrolment import enrol
from biometric_exchange.node.runtime import Node
from biometric_exchange.synthetic import DemoDataset
from biometric_exchange.workspace import start_node_process, stop_process, wait_serving

PASSPHRASE = "correct horse battery staple"


def _bx(*args: object, passphrase: str | None = PASSPHRASE) -> Result:
    env = {PASSPHRASE_ENV: passphrase} if passphrase is not None else {}
    return CliRunner().invoke(app, [str(arg) for arg in args], env=env)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def panama(pair_dirs: tuple[Path, Path], dataset: DemoDataset) -> Path:
    """Panama's folder holding five encounters and its watchlist, node closed."""
    node = Node.open(pair_dirs[1])
    try:
        node.records.add_watchlist(dataset.watchlists["PAN"])
        for encounter in dataset.encounters["PAN"][:5]:
            enrol(node, encounter)
    finally:
        node.close()
    return pair_dirs[1]


@pytest.fixture
def backup_file(panama: Path, tmp_path: Path) -> Path:
    out = tmp_path / "panama-keys.bxkeys"
    result = _bx("keys", "backup", "--node", panama, "--output", out)
    assert result.exit_code == 0, result.output
    return out


def test_backup_delete_restore_round_trips_and_every_row_decrypts(
    panama: Path, backup_file: Path, dataset: DemoDataset
) -> None:
    assert _mode(backup_file) == 0o600
    assert backup_file.read_bytes().startswith(b"BXKEYBAK\x01")
    before = _snapshot(keys_dir(panama))
    shutil.rmtree(keys_dir(panama))

    refused = _bx("keys", "check", "--node", panama)
    assert refused.exit_code == 1
    assert "missing key file" in refused.output
    opened = _bx("alerts", "list", "--operator", "viewer-1", "--node", panama)
    assert opened.exit_code != 0
    assert "bx keys restore" in opened.output
    assert "bx keys init" not in opened.output

    restored = _bx("keys", "restore", "--node", panama, "--from", backup_file)
    assert restored.exit_code == 0, restored.output
    assert _snapshot(keys_dir(panama)) == before
    assert _mode(keys_dir(panama)) == 0o700
    assert all(_mode(path) == 0o600 for path in keys_dir(panama).rglob("*") if path.is_file())

    checked = _bx("keys", "check", "--node", panama)
    assert checked.exit_code == 0, checked.output
    node = Node.open(panama)
    try:
        for encounter in dataset.encounters["PAN"][:5]:
            assert node.records.encounter(encounter.encounter_id) is not None
        assert len(list(node.records.watchlist())) == len(dataset.watchlists["PAN"])
    finally:
        node.close()


def test_backup_takes_the_passphrase_from_a_file_and_never_overwrites(
    panama: Path, backup_file: Path, tmp_path: Path
) -> None:
    again = _bx("keys", "backup", "--node", panama, "--output", backup_file)
    assert again.exit_code != 0
    assert "refusing to overwrite" in again.output

    passphrase_file = tmp_path / "passphrase"
    passphrase_file.write_text(PASSPHRASE + "\n", encoding="utf-8")
    out = tmp_path / "second.bxkeys"
    made = _bx(
        "keys", "backup", "--node", panama, "--output", out,
        "--passphrase-file", passphrase_file, passphrase=None,
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    missing = _bx("keys", "backup", "--node", panama, "--output", tmp_path / "x", passphrase=None)
    assert missing.exit_code != 0
    assert PASSPHRASE_ENV in missing.output
    assert not (tmp_path / "x").exists()


def test_restore_with_a_wrong_passphrase_writes_nothing(panama: Path, backup_file: Path) -> None:
    shutil.rmtree(keys_dir(panama))
    result = _bx(
        "keys", "restore", "--node", panama, "--from", backup_file,
        passphrase="not the passphrase at all",
    )  # fmt: skip
    assert result.exit_code != 0
    assert "wrong passphrase, or the file was altered" in result.output
    assert not keys_dir(panama).exists()


@pytest.mark.parametrize("offset", [9, HEADER.size - 1, HEADER.size + 5, -1])
def test_restore_of_a_backup_with_a_flipped_byte_writes_nothing(
    panama: Path, backup_file: Path, offset: int
) -> None:
    blob = bytearray(backup_file.read_bytes())
    blob[offset] ^= 0x01
    backup_file.write_bytes(bytes(blob))
    shutil.rmtree(keys_dir(panama))
    result = _bx("keys", "restore", "--node", panama, "--from", backup_file)
    assert result.exit_code != 0
    assert str(backup_file) in result.output
    assert not keys_dir(panama).exists()


def test_restore_refuses_to_replace_other_keys_without_force(
    pair_dirs: tuple[Path, Path], panama: Path, backup_file: Path
) -> None:
    (keys_dir(panama) / "data.key").write_bytes(b"\x00" * 32)
    before = _snapshot(keys_dir(panama))
    refused = _bx("keys", "restore", "--node", panama, "--from", backup_file)
    assert refused.exit_code != 0
    assert "holds other keys than the backup (data.key)" in refused.output
    assert _snapshot(keys_dir(panama)) == before

    chile = _bx("keys", "restore", "--node", pair_dirs[0], "--from", backup_file, "--force")
    assert chile.exit_code != 0
    assert "the backup holds PAN's keys" in chile.output

    forced = _bx("keys", "restore", "--node", panama, "--from", backup_file, "--force")
    assert forced.exit_code == 0, forced.output
    assert _bx("keys", "check", "--node", panama).exit_code == 0


def test_keys_init_force_on_a_node_with_data_is_refused(panama: Path) -> None:
    before = _snapshot(keys_dir(panama))
    result = _bx("keys", "init", "-n", panama, "--force")
    assert result.exit_code != 0
    assert "holds records sealed under its keys" in result.output
    assert "bx keys restore" in result.output
    assert _snapshot(keys_dir(panama)) == before


@pytest.mark.sqlite_files
def test_keys_check_lists_loose_modes_foreign_keys_and_unreadable_rows(
    panama: Path, tmp_path: Path
) -> None:
    (keys_dir(panama) / "tls.key").chmod(0o644)
    (panama / DATABASE_PATH).parent.chmod(0o755)
    (keys_dir(panama) / "data.key").write_bytes(b"\x01" * 32)  # another data key
    result = _bx("keys", "check", "--node", panama)
    assert result.exit_code == 1
    output = " ".join(result.output.split())
    assert "tls.key has mode 644; expected 600" in output
    assert "data has mode 755; expected 700" in output
    assert "sealed under an unknown data key" in output
    (keys_dir(panama) / "tls.key").chmod(0o600)
    (panama / DATABASE_PATH).parent.chmod(0o700)

    other = tmp_path / "other"
    shutil.copytree(panama, other)
    (other / "data" / "node.sqlite3").unlink()
    shutil.rmtree(keys_dir(other))
    assert _bx("keys", "init", "-n", other).exit_code == 0
    shutil.copy(other / "keys" / "signing.key", keys_dir(panama) / "signing.key")
    pins = _bx("keys", "check", "--node", panama)
    assert pins.exit_code == 1
    assert "signing.key is not the key the agreement pins for PAN" in " ".join(pins.output.split())


@pytest.mark.parametrize("target", ["folder", *[n for n in KEY_FILES if n.endswith(".key")]])
def test_node_refuses_to_start_with_a_world_readable_keys_folder_or_key_file(
    pair_dirs: tuple[Path, Path], target: str
) -> None:
    path = keys_dir(pair_dirs[0]) if target == "folder" else keys_dir(pair_dirs[0]) / target
    mode = 0o755 if target == "folder" else 0o644
    path.chmod(mode)
    with pytest.raises(ConfigError) as caught:
        Node.open(pair_dirs[0])
    assert f"{path} is accessible by other users (mode {mode:o})" in str(caught.value)
    result = _bx("node", "run", "-n", pair_dirs[0])
    assert result.exit_code != 0
    assert f"mode {mode:o}" in result.output
    assert not (pair_dirs[0] / DATABASE_PATH).exists()


@pytest.mark.sqlite_files
def test_database_files_are_0600_and_the_data_folder_0700_after_a_node_ran(
    pair_dirs: tuple[Path, Path], tmp_path: Path
) -> None:
    chile = pair_dirs[0]
    process = start_node_process(chile, tmp_path / "chile.log")
    try:
        wait_serving(chile, process)
    finally:
        assert stop_process(process) == 0
    database = chile / DATABASE_PATH
    assert _mode(database.parent) == 0o700
    files = [p for p in database.parent.iterdir() if p.name.startswith(database.name)]
    assert database in files
    assert all(_mode(path) == 0o600 for path in files), {p.name: oct(_mode(p)) for p in files}
    assert _bx("keys", "check", "--node", chile).exit_code == 0
