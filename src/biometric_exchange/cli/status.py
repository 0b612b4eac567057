"""``bx status -n NODE_DIR``: is the node serving, can it reach each partner, are its
agreements in force, how deep is its outbox, how many alerts wait for review.

The facts come from ``node.overview`` (the console's node page shows the same)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from biometric_exchange.cli.common import EXIT_FAILED, NodeOption, fail, opened_node, reports_errors
from biometric_exchange.cli.formats import Format, FormatOption, emit_document
from biometric_exchange.node.metrics import AgreementValidity
from biometric_exchange.node.overview import (
    NodeStatus,
    PartnerStatus,
    ProcessStatus,
    node_status,
    partner_status,
    process_statuses,
)

__all__ = [
    "NodeStatus",
    "PartnerStatus",
    "ProcessStatus",
    "node_status",
    "partner_status",
    "process_statuses",
    "status",
    "status_table",
]


def _validity_state(validity: AgreementValidity) -> str:
    if validity.in_force:
        return "[green]in force[/]"
    return "[red]expired[/]" if validity.days_left < 0 else "[yellow]not yet in force[/]"


def _partner_state(partner: PartnerStatus) -> tuple[str, str]:
    if not partner.reachable:
        return f"[red]unreachable[/] ({partner.status})", partner.endpoint
    if partner.status != "OK":
        return f"[red]refused[/] ({partner.status})", partner.endpoint
    if partner.agreement_matches:
        return "[green]reachable[/]", f"{partner.endpoint}; holds the same agreement"
    return "[red]reachable[/]", f"{partner.endpoint}; holds a DIFFERENT agreement"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in counts.items())


def status_table(status: NodeStatus) -> Table:
    table = Table(title=f"status of {status.node} ({status.country})")
    for column in ("check", "state", "detail"):
        table.add_column(column)
    health = "[green]SERVING[/]" if status.serving else f"[red]NOT SERVING[/] ({status.health})"
    table.add_row("gRPC server", health, status.listen)
    if status.process is None:
        table.add_row("process", "[yellow]none serves this folder[/]", "")
    processes = [status.process, *status.other_processes] if status.process else []
    for number, process in enumerate(processes, start=1):
        loaded = ", ".join(process.partners_loaded) or "none"
        state = "[green]runs what is on disk[/]"
        if process.differences:
            state = "[yellow]differs from disk[/]"
        name = "process" if len(processes) == 1 else f"process {number}"
        table.add_row(name, state, f"pid {process.pid}; partners loaded: {loaded}")
        for difference in process.differences:
            table.add_row("", "", escape(f"{difference} (bx node reload)"))
        if process.last_reload_error:
            table.add_row("last reload", "[red]refused[/]", escape(process.last_reload_error))
    for partner in status.partners:
        table.add_row(f"partner {partner.partner}", *_partner_state(partner))
        validity = partner.agreement
        table.add_row(
            f"agreement with {partner.partner}",
            _validity_state(validity),
            f"{validity.agreement_id}: {validity.effective_from} to {validity.effective_until}, "
            f"{validity.days_left} days left",
        )
    pending = status.outbox.get("pending", 0)
    table.add_row("outbox", f"{pending} pending", _counts(status.outbox))
    table.add_row("alerts open", str(sum(status.alerts_open.values())), _counts(status.alerts_open))
    return table


@reports_errors
def status(
    node_dir: NodeOption,
    fmt: FormatOption = Format.TABLE,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, max=60, help="Seconds to wait for each probe")
    ] = 3.0,
) -> None:
    """Health, partners, agreements, outbox and open alerts of a node (running or not).

    Exits with status 1 when the node is not serving.
    """
    with opened_node(node_dir) as node:
        report = node_status(node, timeout=timeout)
    emit_document(fmt, report.to_dict(), lambda: [status_table(report)])
    if not report.serving:
        raise fail(
            f"{report.node} is not serving ({report.health} at {report.listen}); "
            f"start it with bx node run -n {node_dir}",
            code=EXIT_FAILED,
        )
