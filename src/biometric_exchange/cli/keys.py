"""``bx keys``: a node's CA, TLS certificate and keys; their backup, restore and check."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from biometric_exchange.cli.common import (
    EXIT_FAILED,
    NodeOption,
    console,
    fail,
    opened_node,
    reports_errors,
)
from biometric_exchange.cli.output import OutputFile, describe, notes_for, written
from biometric_exchange.config import load_config
from biometric_exchange.crypto.backup import (
    PASSPHRASE_ENV,
    backup_keys,
    restore_keys,
    unseal,
)
from biometric_exchange.crypto.keys import init_keys, keys_dir
from biometric_exchange.exceptions import ConfigError, InvalidInput
from biometric_exchange.node.custody import custody_problems, held_records
from biometric_exchange.store.rekey import purge_retired_keys, rotate_data_key

app = typer.Typer(help="A node's keys: create, back up, restore, check, rotate the data key.")

PassphraseFile = Annotated[
    Path | None,
    typer.Option(
        "--passphrase-file",
        help=f"A file holding the backup passphrase (or set {PASSPHRASE_ENV})",
        show_default=False,
    ),
]


def _passphrase(path: Path | None) -> str:
    """The passphrase from ``--passphrase-file``, else from the environment."""
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"--passphrase-file: cannot read {path}: {exc}") from None
        text = text.rstrip("\r\n")
    else:
        text = os.environ.get(PASSPHRASE_ENV, "")
    if not text:
        raise InvalidInput(
            f"no backup passphrase: pass --passphrase-file FILE or set {PASSPHRASE_ENV}"
        )
    return text


@app.command("init")
@reports_errors
def init(
    node_dir: NodeOption,
    force: Annotated[bool, typer.Option("--force", help="Replace existing keys")] = False,
) -> None:
    """Create the country CA, the node's TLS certificate, signing, key-agreement and data keys.

    Refused on a node that holds records: new keys would leave them unreadable."""
    config = load_config(node_dir)
    held = {table: count for table, count in held_records(node_dir).items() if count}
    if held:
        counts = ", ".join(f"{count} {table}" for table, count in held.items())
        raise ConfigError(
            f"{node_dir} holds records sealed under its keys ({counts}); new keys would "
            "leave them unreadable and break the agreements' pins. Restore the keys from "
            f"a backup: `bx keys restore --node {node_dir} --from FILE`"
        )
    directory = init_keys(node_dir, config.node.name, config.node.country, overwrite=force)
    console.print(f"created keys for {config.node.name} ({config.node.country}) in {directory}")


@app.command("backup")
@reports_errors
def backup(
    node: NodeOption,
    output: OutputFile,
    passphrase_file: PassphraseFile = None,
) -> None:
    """Every key file of the node in one file sealed under a passphrase (mode 0600, never
    overwritten; - writes it to stdout)."""
    config = load_config(node)
    passphrase = _passphrase(passphrase_file)
    with written(output) as target:
        count = backup_keys(node, config.node.name, config.node.country, target, passphrase)
    notes_for(output).print(
        f"backed up {count} key files of {config.node.name} to {describe(output)}", markup=False
    )


@app.command("restore")
@reports_errors
def restore(
    node: NodeOption,
    source: Annotated[Path, typer.Option("--from", help="The backup file")],
    passphrase_file: PassphraseFile = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace existing keys that differ from the backup")
    ] = False,
) -> None:
    """Write a backup's key files into the node (files 0600, keys folder 0700)."""
    config = load_config(node)
    try:
        blob = source.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"--from: cannot read {source}: {exc}") from None
    keys = unseal(blob, _passphrase(passphrase_file), source=source)
    written = restore_keys(node, keys, country=config.node.country, force=force)
    console.print(
        f"restored {len(written)} key files of {keys.node} (backup of {keys.created}) "
        f"into {keys_dir(node)}"
    )


@app.command("check")
@reports_errors
def check(node: NodeOption) -> None:
    """File modes, the keys against every agreement's pins, and every sealed row."""
    problems = custody_problems(node)
    if problems:
        for problem in problems:
            console.print(f"- {problem}", highlight=False, markup=False)
        raise fail(f"{len(problems)} key custody problems in {node}", EXIT_FAILED)
    console.print(f"keys of {node}: modes, pins and sealed rows all in order")


@app.command("rotate-data-key")
@reports_errors
def rotate_data_key_command(
    node_dir: NodeOption,
    purge_retired: Annotated[
        bool, typer.Option("--purge-retired", help="Then delete retired keys no row needs")
    ] = False,
) -> None:
    """New data key for templates at rest; re-seal every row; no restart needed."""
    with opened_node(node_dir) as node:
        rotation = rotate_data_key(keys_dir(node_dir), node.database, node.audit)
        resealed = ", ".join(f"{table} {count}" for table, count in rotation.resealed.items())
        console.print(
            f"data key {rotation.new_key_id} installed; {rotation.retired_key_id} retired; "
            f"re-sealed {resealed}"
        )
        if purge_retired:
            removed = purge_retired_keys(keys_dir(node_dir), node.database)
            console.print(f"purged retired keys: {', '.join(removed) or 'none'}")
