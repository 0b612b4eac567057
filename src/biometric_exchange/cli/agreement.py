"""``bx agreement``: the minimal bilateral agreement both nodes load."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from biometric_exchange.agreement import Scope
from biometric_exchange.cli.common import NodeDir, console, opened_node, reports_errors
from biometric_exchange.workspace import init_agreement

app = typer.Typer(help="Create and inspect the bilateral agreement.")


@app.command("init")
@reports_errors
def init(
    first: NodeDir,
    second: NodeDir,
    scope: Annotated[Scope, typer.Option(help="Who may be exchanged")] = Scope.EXTRA_REGIONAL,
) -> None:
    """Draft the agreement from both nodes' public keys, sign it with both, copy it to both."""
    document = init_agreement(first, second, scope=scope)
    console.print(f"agreement {document.id} signed by both parties; hash {document.hash}")
    console.print(f"written to {first}/agreement.toml and {second}/agreement.toml")


@app.command("show")
@reports_errors
def show(node_dir: NodeDir) -> None:
    """Show the agreement a node holds, after verifying it."""
    with opened_node(node_dir) as node:
        document = node.agreement
        terms = document.agreement
        table = Table(title=f"Agreement {document.id} (synthetic)", show_header=False)
        table.add_row("title", terms.title)
        table.add_row("valid", f"{terms.effective_from} to {terms.effective_until}")
        table.add_row("scope", terms.scope.value)
        table.add_row("disclosure", terms.disclosure.value)
        table.add_row("purposes", ", ".join(p.value for p in terms.purposes))
        table.add_row(
            "max candidates / probes", f"{terms.max_candidates} / {terms.max_probes_per_request}"
        )
        for party in document.parties:
            table.add_row(
                f"party {party.code}",
                f"{party.node} at {party.endpoint}, CA {party.ca_fingerprint[:16]}…",
            )
        table.add_row("hash", document.hash)
        console.print(table)
