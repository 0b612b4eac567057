"""``bx keys``: a node's CA, TLS certificate and keys."""

from __future__ import annotations

from typing import Annotated

import typer

from biometric_exchange.cli.common import NodeDir, console, reports_errors
from biometric_exchange.config import load_config
from biometric_exchange.crypto.keys import init_keys

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
