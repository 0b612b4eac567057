"""``bx enroll`` and ``bx watchlist``: records into a node."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from biometric_exchange.cli.common import NodeOption, console, opened_node, reports_errors
from biometric_exchange.node.enrolment import enrol
from biometric_exchange.recordfiles import read_encounter, read_watchlist
from biometric_exchange.store.outbox import OutboxState

watchlist_app = typer.Typer(help="Manage a node's watchlist.")

RecordFile = Annotated[Path, typer.Argument(help="JSON file", show_default=False)]


@reports_errors
def enroll(
    file: RecordFile,
    node: NodeOption,
    wait: Annotated[
        float, typer.Option(help="Seconds to wait for the running node to process it")
    ] = 15.0,
) -> None:
    """Enrol an encounter (a JSON record with a template); the running node checks and sends it."""
    encounter = read_encounter(file)
    with opened_node(node) as opened:
        enrol(opened, encounter)
        console.print(f"enrolled {encounter.encounter_id} on {opened.config.node.name}")
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            item = opened.outbox.get(encounter.encounter_id)
            if item is not None and item.state is not OutboxState.PENDING:
                break
            time.sleep(0.2)
        item = opened.outbox.get(encounter.encounter_id)
        state = item.state.value if item else "unknown"
        messages = {
            "done": "checked locally and exchanged with the partner",
            "out_of_scope": "checked locally; not sent (outside the agreement's scope)",
            "pending": "queued; the node will process it when running",
            "failed": f"exchange failed: {item.last_error if item else ''}",
        }
        console.print(f"status: {messages.get(state, state)}")
        alerts = [a for a in opened.alerts.list() if a.encounter_id == encounter.encounter_id]
        for alert in alerts:
            console.print(
                f"  alert {alert.alert_id} [{alert.severity.value}] {alert.summary}", markup=False
            )


@watchlist_app.command("import")
@reports_errors
def import_watchlist(file: RecordFile, node: NodeOption) -> None:
    """Add the entries of a JSON Lines file; a bad line rejects the whole file."""
    entries = read_watchlist(file)
    with opened_node(node) as opened:
        count = opened.records.add_watchlist(entries)
        console.print(f"added {count} watchlist entries to {opened.config.node.name}")
