"""``bx audit`` and ``bx retention``: the audit trail and what may be kept."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from biometric_exchange.cli.common import (
    EXIT_FAILED,
    NodeOption,
    OperatorOption,
    PartnerOption,
    console,
    fail,
    opened_node,
    partner_links,
    reports_errors,
)
from biometric_exchange.cli.formats import Format, FormatOption, emit_rows
from biometric_exchange.cli.output import OutputFile, describe, notes_for, written
from biometric_exchange.cli.times import parse_moment, parse_window
from biometric_exchange.domain import RecordDigest
from biometric_exchange.node.link import Link
from biometric_exchange.node.send.digest import reconcile_with_partner
from biometric_exchange.node.transport import GrpcPeerTransport
from biometric_exchange.store.audit import AuditEntry, write_jsonl
from biometric_exchange.store.retention import RetentionResult, run_retention

audit_app = typer.Typer(help="The node's hash-chained audit log.")
retention_app = typer.Typer(
    help="Deleting what the agreement no longer lets the node keep.", no_args_is_help=True
)


@retention_app.callback()
def _retention() -> None:
    """Keep ``run`` a subcommand even though it is the only one."""


MAX_RECONCILE_HOURS = 720

OptionalNodeOption = Annotated[
    Path | None,
    typer.Option("--node", "-n", help="The node's folder, e.g. node_panama", show_default=False),
]


@audit_app.command("verify")
@reports_errors
def verify(
    node: OptionalNodeOption = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            help="Verify an export of `bx audit export` offline instead of a node's log",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Walk the hash chain of a node's log (--node) or of an export (--file); exit 1,
    naming the first broken entry, when one was altered, removed, reordered or inserted."""
    if (node is None) == (file is None):
        raise fail("name the log to verify: --node NODE_DIR or --file EXPORT.jsonl")
    if file is not None:
        from biometric_exchange.cli.audit_file import verify_export  # noqa: PLC0415

        check = verify_export(file)
        since = f" (from the anchor at seq {check.anchor.seq})" if check.anchor.seq else ""
        console.print(f"audit export {file} intact: {check.entries} entries{since}", markup=False)
        if check.last is not None:
            console.print(
                f"last entry: seq {check.last.seq}, hash {check.last.entry_hash}", markup=False
            )
        return
    assert node is not None
    with opened_node(node) as opened:
        count = opened.audit.verify()
        anchor = opened.audit.anchor()
        head = opened.audit.head()
        since = f" (kept since seq {anchor.seq + 1})" if anchor.seq else ""
        console.print(f"audit chain of {opened.config.node.name} intact: {count} entries{since}")
        if head is not None:
            console.print(f"last entry: seq {head.seq}, hash {head.entry_hash}", markup=False)


AUDIT_COLUMNS = ("seq", "at", "event", "peer", "message_id", "outcome", "detail")


@audit_app.command("list")
@reports_errors
def list_audit(
    node: NodeOption,
    since: Annotated[
        str | None,
        typer.Option(help="Only entries from this time: 2h, 7d, yesterday, ISO…"),
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Only entries before this time: 30m, today, ISO…")
    ] = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Every send and receive, with outcome and reason."""
    with opened_node(node) as opened:
        now = dt.datetime.fromtimestamp(opened.clock() / 1000, tz=dt.UTC)
        start, end = parse_window(since, until, now=now)
        entries = opened.audit.entries()
        name = opened.config.node.name
    if start is not None or end is not None:
        first = -(2**62) if start is None else int(start.timestamp() * 1000)
        last = 2**62 if end is None else int(end.timestamp() * 1000)
        entries = [e for e in entries if first <= e.at_ms < last]
    rows = [entry.to_dict() for entry in entries]
    for row in rows:
        del row["prev_hash"], row["entry_hash"]
    emit_rows(fmt, rows, lambda: _audit_table(name, entries), columns=AUDIT_COLUMNS)


def _audit_table(name: str, entries: list[AuditEntry]) -> Table:
    table = Table(title=f"Audit log of {name} ({len(entries)})")
    for column in ("seq", "at", "event", "peer", "message", "outcome", "detail"):
        table.add_column(column, overflow="fold", no_wrap=column in ("seq", "message"))
    for entry in entries:
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
    return table


@audit_app.command("export")
@reports_errors
def export(node: NodeOption, output: OutputFile) -> None:
    """Every kept entry, one JSON object per line, hashes included (check it offline
    with `bx audit verify --file`)."""
    with opened_node(node) as opened:
        with written(output) as target:
            count = write_jsonl(opened.audit.entries(), target)
        notes_for(output).print(
            f"exported {count} audit entries of {opened.config.node.name} to {describe(output)}",
            markup=False,
        )


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
        raise typer.Exit(EXIT_FAILED)


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
        raise typer.Exit(EXIT_FAILED)


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
        str | None,
        typer.Option(help="Reference time instead of now: ISO 8601 (UTC when no offset), 7d…"),
    ] = None,
    operator: OperatorOption = None,
) -> None:
    """Purge exchanged data and audit entries older than the agreement's retention."""
    with opened_node(node) as opened:
        clock = dt.datetime.fromtimestamp(opened.clock() / 1000, tz=dt.UTC)
        reference = None if now is None else parse_moment(now, now=clock, option="--now")
        terms = {link.code: link.terms.retention for link in opened.links()}
        result = run_retention(
            opened.database,
            opened.audit,
            exchanged_data_days={code: t.exchanged_data_days for code, t in terms.items()},
            audit_days=max(t.audit_days for t in terms.values()),
            now=reference,
            officer=None if operator is None else operator.strip() or None,
        )
        for line in retention_lines(result):
            console.print(line, highlight=False)
