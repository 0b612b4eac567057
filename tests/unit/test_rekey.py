"""Data key rotation while the node keeps working."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from biometric_exchange.cli.main import app
from biometric_exchange.crypto.at_rest import CorruptRecord, sealed_key_id
from biometric_exchange.crypto.keyring import RETIRED_DIR, DataKeyring
from biometric_exchange.crypto.keys import keys_dir
from biometric_exchange.node.enrolment import enrol
from biometric_exchange.node.runtime import Node
from biometric_exchange.store.rekey import keys_in_use, purge_retired_keys, rotate_data_key
from biometric_exchange.synthetic import DemoDataset


def _key_ids(node: Node) -> set[str]:
    return keys_in_use(node.database)


def test_rotation_reseals_everything_while_the_open_node_keeps_working(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    pan = nodes["PAN"]  # stands for the running node: opened before the rotation
    for encounter in dataset.encounters["PAN"][:6]:
        enrol(pan, encounter)
    (old_id,) = _key_ids(pan)
    admin = Node.open(pan.node_dir)  # the operator's separate process
    rotation = rotate_data_key(keys_dir(pan.node_dir), admin.database, admin.audit)
    assert rotation.retired_key_id == old_id
    assert rotation.resealed == {
        "encounters": 6,
        "watchlist": len(dataset.watchlists["PAN"]),
        "details_sent": 0,
    }
    assert _key_ids(pan) == {rotation.new_key_id}

    # The node opened before the rotation reads re-sealed rows and seals new ones
    # with the new key, without a restart.
    assert pan.records.encounter(dataset.encounters["PAN"][0].encounter_id) is not None
    enrol(pan, dataset.encounters["PAN"][6])
    blob = pan.database.connection.execute(
        "SELECT template_sealed FROM encounters WHERE encounter_id = ?",
        (dataset.encounters["PAN"][6].encounter_id,),
    ).fetchone()[0]
    assert sealed_key_id(blob) == rotation.new_key_id
    assert len(list(pan.records.watchlist())) == len(dataset.watchlists["PAN"])

    entry = admin.audit.entries()[-1]
    assert entry.event == "keys.data_key_rotated"
    assert entry.detail["retired_key_id"] == old_id
    assert admin.audit.verify() > 0
    admin.database.close()


def test_a_row_still_under_a_retired_key_keeps_it_from_being_purged(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    pan = nodes["PAN"]
    enrol(pan, dataset.encounters["PAN"][0])
    old_blob = pan.database.connection.execute("SELECT template_sealed FROM encounters").fetchone()[
        0
    ]
    rotation = rotate_data_key(keys_dir(pan.node_dir), pan.database, pan.audit)
    # A write racing the rotation left one row sealed under the old key.
    pan.database.connection.execute("UPDATE encounters SET template_sealed = ?", (old_blob,))
    assert purge_retired_keys(keys_dir(pan.node_dir), pan.database) == []
    assert pan.records.encounter(dataset.encounters["PAN"][0].encounter_id) is not None

    rotate_again = rotate_data_key(keys_dir(pan.node_dir), pan.database, pan.audit)
    removed = purge_retired_keys(keys_dir(pan.node_dir), pan.database)
    assert set(removed) == {rotation.retired_key_id, rotation.new_key_id}
    assert _key_ids(pan) == {rotate_again.new_key_id}
    assert list((keys_dir(pan.node_dir) / RETIRED_DIR).glob("*.key")) == []


def test_a_lost_retired_key_is_a_clear_error(nodes: dict[str, Node], dataset: DemoDataset) -> None:
    pan = nodes["PAN"]
    enrol(pan, dataset.encounters["PAN"][0])
    old_blob = pan.database.connection.execute("SELECT template_sealed FROM encounters").fetchone()[
        0
    ]
    rotation = rotate_data_key(keys_dir(pan.node_dir), pan.database, pan.audit)
    pan.database.connection.execute("UPDATE encounters SET template_sealed = ?", (old_blob,))
    (keys_dir(pan.node_dir) / RETIRED_DIR / f"{rotation.retired_key_id}.key").unlink()
    fresh = Node.open(pan.node_dir)
    with pytest.raises(CorruptRecord, match="sealed under an unknown data key"):
        fresh.records.encounter(dataset.encounters["PAN"][0].encounter_id)
    fresh.database.close()


def test_retired_keys_are_private_files(nodes: dict[str, Node]) -> None:
    pan = nodes["PAN"]
    rotation = rotate_data_key(keys_dir(pan.node_dir), pan.database, pan.audit)
    retired = keys_dir(pan.node_dir) / RETIRED_DIR / f"{rotation.retired_key_id}.key"
    assert retired.stat().st_mode & 0o077 == 0
    assert (keys_dir(pan.node_dir) / RETIRED_DIR).stat().st_mode & 0o077 == 0
    assert DataKeyring(keys_dir(pan.node_dir)).key(rotation.retired_key_id) is not None


def test_rotate_from_the_command_line(pair_dirs: tuple[Path, Path]) -> None:
    result = CliRunner().invoke(
        app, ["keys", "rotate-data-key", "-n", str(pair_dirs[0]), "--purge-retired"]
    )
    assert result.exit_code == 0, result.stderr
    assert "installed" in result.stdout and "purged retired keys:" in result.stdout
