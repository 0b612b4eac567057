"""What ``bx status`` and the console's node page report: is the node serving, can it
reach each partner, are its agreements in force, how deep is its outbox, how many
alerts wait for review, and which process serves its folder."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import grpc

from biometric_exchange.domain import Severity
from biometric_exchange.exceptions import ExchangeError
from biometric_exchange.node.link import Link
from biometric_exchange.node.metrics import (
    AgreementValidity,
    agreement_validity,
    open_alert_counts,
    outbox_counts,
)
from biometric_exchange.node.presence import RunningState, read_states
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


def process_statuses(node: Node) -> list[ProcessStatus]:
    """The same for every process serving the folder (several with a shared store)."""
    on_disk = {link.code: (link.agreement.id, link.agreement.hash) for link in node.links()}
    return [_against_disk(state, on_disk) for state in read_states(node.node_dir)]


def _against_disk(state: RunningState, on_disk: dict[str, tuple[str, str]]) -> ProcessStatus:
    """``state`` against the agreements on disk, (id, hash) by partner code."""
    differences = []
    for code, (agreement_id, agreement_hash) in on_disk.items():
        loaded = state.agreements.get(code)
        if loaded is None:
            differences.append(f"agreement {agreement_id} with {code} is on disk, not loaded")
        elif loaded.hash != agreement_hash:
            differences.append(
                f"agreement with {code}: {agreement_id} on disk, {loaded.agreement_id} loaded"
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
    """The (first) process serving the folder (None when none does)."""
    other_processes: list[ProcessStatus]
    """Further processes serving it at once (a PostgreSQL store), if any."""

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
    processes = process_statuses(node)
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
        process=processes[0] if processes else None,
        other_processes=processes[1:],
    )
