"""``bx status NODE_DIR``: is the node serving, can it reach each partner, are its
agreements in force, how deep is its outbox, how many alerts wait for review."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Annotated, Any

import grpc
import typer
from rich.markup import escape
from rich.table import Table

from biometric_exchange.cli.common import NodeDir, console, fail, opened_node, reports_errors
from biometric_exchange.domain import Severity
from biometric_exchange.exceptions import ExchangeError
from biometric_exchange.node.link import Link
from biometric_exchange.node.metrics import (
    AgreementValidity,
    agreement_validity,
    open_alert_counts,
    outbox_counts,
)
from biometric_exchange.node.presence import read_state
from biometric_exchange.node.probe import health_status
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.send.ping import ping
from biometric_exchange.node.status import RemoteRefusal
from biometric_exchange.node.transport import GrpcPeerTransport

SERVING = "SERVING"


@dataclass(frozen=True)
class PartnerStatus:
    partner: str
    endpoint: str
    reachable: bool
    """The partner answered Ping."""
    status: str
    """``OK``, or the gRPC status code of the failed Ping."""
    agreement_matches: bool | None
    """The partner holds the same agreement (None when it did not answer)."""
    agreement: AgreementValidity


@dataclass(frozen=True)
class ProcessStatus:
    """The process serving the folder, and how what it runs differs from the disk."""

    pid: int
    partners_loaded: list[str]
    differences: list[str]
    """Empty when the process runs exactly the agreements on disk."""
    last_reload_error: str | None


def process_status(node: Node) -> ProcessStatus | None:
    """What the serving process runs against what the folder holds (None when no
    process serves it)."""
    state = read_state(node.node_dir)
    if state is None:
        return None
    on_disk = {link.code: link.agreement for link in node.links()}
    differences = []
    for code, agreement in on_disk.items():
        loaded = state.agreements.get(code)
        if loaded is None:
            differences.append(f"agreement {agreement.id} with {code} is on disk, not loaded")
        elif loaded.hash != agreement.hash:
            differences.append(
                f"agreement with {code}: {agreement.id} on disk, {loaded.agreement_id} loaded"
            )
    differences += [
        f"agreement {loaded.agreement_id} with {code} is loaded, no longer on disk"
        for code, loaded in state.agreements.items()
        if code not in on_disk
    ]
    last = state.last_reload
    return ProcessStatus(
        pid=state.pid,
        partners_loaded=sorted(state.agreements),
        differences=differences,
        last_reload_error=last.error if last is not None else None,
    )


@dataclass(frozen=True)
class NodeStatus:
    node: str
    country: str
    listen: str
    health: str
    """gRPC health of our own server: ``SERVING``, ``NOT_SERVING``, ``UNREACHABLE``…"""
    partners: list[PartnerStatus]
    outbox: dict[str, int]
    alerts_open: dict[str, int]
    """Alerts not closed, by severity."""
    process: ProcessStatus | None
    """The process serving the folder (None when none does)."""

    @property
    def serving(self) -> bool:
        return self.health == SERVING

    def to_dict(self) -> dict[str, Any]:
        document = asdict(self)
        document["serving"] = self.serving
        return document


def _failed_code(error: ExchangeError) -> str:
    if isinstance(error, RemoteRefusal):
        return error.code.name
    cause = error.__cause__
    return cause.code().name if isinstance(cause, grpc.RpcError) else type(error).__name__


def partner_status(link: Link, *, timeout: float) -> PartnerStatus:
    """Ping ``link``'s partner, over mutual TLS, with a short deadline."""
    transport = GrpcPeerTransport(link)
    reachable, code, matches = False, "OK", None
    try:
        answer = ping(link, transport, timeout=timeout)
        reachable, matches = True, answer.agreement_matches
    except ExchangeError as exc:
        code = _failed_code(exc)
        reachable = isinstance(exc, RemoteRefusal)  # it answered, with a refusal
    finally:
        transport.close()
    return PartnerStatus(
        link.code, transport.endpoint, reachable, code, matches, agreement_validity(link)
    )


def node_status(node: Node, *, timeout: float) -> NodeStatus:
    by_severity = dict.fromkeys((s.value for s in Severity), 0)
    for (_kind, severity), count in open_alert_counts(node).items():
        by_severity[severity] = by_severity.get(severity, 0) + count
    return NodeStatus(
        node=node.config.node.name,
        country=node.country,
        listen=node.config.node.listen,
        health=health_status(node, timeout=timeout),
        partners=[partner_status(link, timeout=timeout) for link in node.links()],
        outbox=outbox_counts(node),
        alerts_open=by_severity,
        process=process_status(node),
    )


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
    process = status.process
    if process is None:
        table.add_row("process", "[yellow]none serves this folder[/]", "")
    else:
        loaded = ", ".join(process.partners_loaded) or "none"
        state = "[green]runs what is on disk[/]"
        if process.differences:
            state = "[yellow]differs from disk[/]"
        table.add_row("process", state, f"pid {process.pid}; partners loaded: {loaded}")
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
    node_dir: NodeDir,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON document on stdout, for machines")
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, max=60, help="Seconds to wait for each probe")
    ] = 3.0,
) -> None:
    """Health, partners, agreements, outbox and open alerts of a node (running or not).

    Exits with status 1 when the node is not serving.
    """
    with opened_node(node_dir) as node:
        report = node_status(node, timeout=timeout)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        console.print(status_table(report))
    if not report.serving:
        raise fail(
            f"{report.node} is not serving ({report.health} at {report.listen}); "
            f"start it with bx node run {node_dir}",
            code=1,
        )
