"""``bx audit`` and ``bx retention``: the audit trail and what may be kept."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from biometric_exchange.cli.common import (
    NodeOption,
    PartnerOption,
    console,
    opened_node,
    partner_links,
    reports_errors,
)
from biometric_exchange.domain import RecordDigest
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.node.link import Link
from biometric_exchange.node.send.digest import reconcile_with_partner
from biometric_exchange.node.transport import GrpcPeerTransport
from biometric_exchange.store.audit import write_jsonl
from biometric_exchange.store.retention import RetentionResult, run_retention

audit_app = typer.Typer(help="The node's hash-chained audit log.")
retention_app = typer.Typer(
    help="Deleting what the agreement no longer lets the node keep.", no_args_is_help=True
)


@retention_app.callback()
def _retention() -> None:
    """Keep ``run`` a subcommand even though it is the only one."""


MAX_RECONCILE_HOURS = 720

OfficerOption = Annotated[
    str | None, typer.Option("--officer", help="Operator id, recorded in the audit log")
]


@audit_app.command("verify")
@reports_errors
def verify(node: NodeOption) -> None:
    """Walk the hash chain; fails when any entry was altered, removed or inserted."""
    with opened_node(node) as opened:
        count = opened.audit.verify()
        anchor = opened.audit.anchor()
        since = f" (kept since seq {anchor.seq + 1})" if anchor.seq else ""
        console.print(f"audit chain of {opened.config.node.name} intact: {count} entries{since}")


@audit_app.command("list")
@reports_errors
def list_audit(node: NodeOption) -> None:
    """Every send and receive, with outcome and reason."""
    with opened_node(node) as opened:
        table = Table(title=f"Audit log of {opened.config.node.name}")
        for column in ("seq", "at", "event", "peer", "message", "outcome", "detail"):
            table.add_column(column, overflow="fold")
        for entry in opened.audit.entries():
            detail = ", ".join(f"{k}={v}" for k, v in sorted(entry.detail.items()))
            table.add_row(
                str(entry.seq),
                entry.at[:19],
                entry.event,
                entry.peer or "-",
                (entry.message_id or "-")[:12],
                entry.outcome,
                detail.replace("[", "\\["),
            )
        console.print(table)


@audit_app.command("export")
@reports_errors
def export(
    node: NodeOption,
    out: Annotated[Path, typer.Option("--out", "-o", help="JSON Lines file to write")],
) -> None:
    """Every kept entry, one JSON object per line, hashes included (verifiable offline)."""
    with opened_node(node) as opened:
        count = write_jsonl(opened.audit.entries(), out)
        console.print(f"exported {count} audit entries of {opened.config.node.name} to {out}")


def _records_table(title: str, records: list[RecordDigest]) -> Table:
    table = Table(title=title)
    for column in ("at", "event", "message", "outcome"):
        table.add_column(column)
    for record in records:
        at = dt.datetime.fromtimestamp(record.at_ms / 1000, tz=dt.UTC)
        table.add_row(
            at.isoformat(timespec="seconds"), record.event, record.message_id, record.outcome
        )
    return table


@audit_app.command("open-scope")
@reports_errors
def open_scope(
    message_id: Annotated[str, typer.Argument(help="Message id of an Identify request we sent")],
    node: NodeOption,
) -> None:
    """For an auditor: open the scope commitments of a request we sent; exit 1 when a
    commitment does not hold or a probe's facts break the rule it was sent under."""
    from biometric_exchange.node.scope_audit import open_request  # noqa: PLC0415

    with opened_node(node) as opened:
        result = open_request(opened, message_id)
    table = Table(title=f"Scope of {message_id} to {result.partner} ({result.purpose})")
    for column in ("probe", "rule", "facts", "commitment", "verdict"):
        table.add_column(column)
    for probe in result.probes:
        opening = probe.opening
        table.add_row(
            probe.probe_ref,
            opening.rule.value if opening else "-",
            opening.canonical_facts().decode() if opening else "-",
            "holds" if probe.commitment_holds else "DOES NOT HOLD",
            probe.violation or "within the rule",
        )
    console.print(table)
    console.print(
        "request digest matches the audit log"
        if result.digest_holds
        else "request digest DOES NOT match the audit log"
    )
    if not result.compliant:
        raise typer.Exit(1)


@audit_app.command("reconcile")
@reports_errors
def reconcile_command(
    node: NodeOption,
    hours: Annotated[
        float, typer.Option(min=0.01, max=MAX_RECONCILE_HOURS, help="Period ending now")
    ] = 24,
    partner: PartnerOption = None,
) -> None:
    """Compare our log of exchanges with each partner's; exit 1 when a side lacks entries."""
    consistent = True
    with opened_node(node) as opened:
        until_ms = opened.clock()
        from_ms = until_ms - int(hours * 3600 * 1000)
        for link in partner_links(opened, partner):
            consistent &= _reconcile_link(link, from_ms, until_ms, hours)
    if not consistent:
        raise typer.Exit(1)


def _reconcile_link(link: Link, from_ms: int, until_ms: int, hours: float) -> bool:
    partner = link.partner
    transport = GrpcPeerTransport(link)
    try:
        result = reconcile_with_partner(link, transport, from_ms=from_ms, until_ms=until_ms)
    finally:
        transport.close()
    console.print(
        f"{result.matched} exchanges with {partner.code} recorded on both sides "
        f"in the last {hours:g} h"
    )
    if result.only_ours:
        console.print(_records_table(f"Recorded here, not by {partner.code}", result.only_ours))
    if result.only_theirs:
        console.print(_records_table(f"Recorded by {partner.code}, not here", result.only_theirs))
    for ours, theirs in result.outcome_differs:
        console.print(
            f"{ours.message_id}: {ours.event} {ours.outcome} here, "
            f"{theirs.event} {theirs.outcome} there"
        )
    for ours, theirs in result.commitments_differ:
        console.print(
            f"{ours.message_id}: scope commitments {ours.commitments[:16]}… here, "
            f"{theirs.commitments[:16] or 'none'}… there"
        )
    if result.consistent:
        console.print(f"audit logs agree with {partner.code}")
    return result.consistent


def _parse_now(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(f"--now: {text!r} is not an ISO 8601 date or time") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def retention_lines(result: RetentionResult) -> list[str]:
    lines = [
        f"retention run as of {result.now.isoformat(timespec='seconds')}",
        f"hit_references purged: {result.hit_references}",
        f"alerts purged: {result.alerts}",
        f"seen_messages purged: {result.seen_messages}",
        f"step-2 requests purged: {result.details}",
        f"scope openings purged: {result.scope_openings}",
        f"extraction guard rows purged: {result.guard_days}",
        f"audit entries purged: {result.audit_entries}",
    ]
    if result.audit_range is not None:
        lines.append(
            f"audit chain now anchored at seq {result.audit_range.anchor.seq} "
            f"(entries {result.audit_range.first_seq}-{result.audit_range.last_seq} purged)"
        )
    return lines


@retention_app.command("run")
@reports_errors
def run(
    node: NodeOption,
    now: Annotated[
        str | None, typer.Option(help="Reference time, ISO 8601 (UTC when no offset)")
    ] = None,
    officer: OfficerOption = None,
) -> None:
    """Purge exchanged data and audit entries older than the agreement's retention."""
    reference = _parse_now(now)
    with opened_node(node) as opened:
        terms = {link.code: link.terms.retention for link in opened.links()}
        result = run_retention(
            opened.database,
            opened.audit,
            exchanged_data_days={code: t.exchanged_data_days for code, t in terms.items()},
            audit_days=max(t.audit_days for t in terms.values()),
            now=reference,
            officer=officer,
        )
        for line in retention_lines(result):
            console.print(line, highlight=False)
