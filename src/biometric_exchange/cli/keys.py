"""``bx keys``: a node's CA, TLS certificate and keys."""

from __future__ import annotations

from typing import Annotated

import typer

from biometric_exchange.cli.common import NodeDir, console, opened_node, reports_errors
from biometric_exchange.config import load_config
from biometric_exchange.crypto.keys import init_keys, keys_dir
from biometric_exchange.store.rekey import purge_retired_keys, rotate_data_key

app = typer.Typer(help="Create a node's keys (private files mode 0600, never committed).")


@app.command("init")
@reports_errors
def init(
    node_dir: NodeDir,
    force: Annotated[bool, typer.Option("--force", help="Replace existing keys")] = False,
) -> None:
    """Create the country CA, the node's TLS certificate, signing, key-agreement and data keys."""
    config = load_config(node_dir)
    directory = init_keys(node_dir, config.node.name, config.node.country, overwrite=force)
    console.print(f"created keys for {config.node.name} ({config.node.country}) in {directory}")


@app.command("rotate-data-key")
@reports_errors
def rotate_data_key_command(
    node_dir: NodeDir,
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
