"""``bx details`` (requester) and ``bx requests`` (holder): step-2 detail requests.

Acting commands name the officer (``--operator`` or ``BX_OPERATOR``). Only
``bx details list`` prints disclosed personal data; nothing here logs it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
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
    operator_id,
    partner_links,
    reports_errors,
)
from biometric_exchange.cli.completion import received_request_ids
from biometric_exchange.cli.formats import Format, FormatOption, emit_rows, plain
from biometric_exchange.cli.ids import resolve_prefix
from biometric_exchange.domain import RequestStatus
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.node.link import Link
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.send.details import request_details
from biometric_exchange.node.serve.details import approve, deny
from biometric_exchange.node.transport import GrpcPeerTransport
from biometric_exchange.store.details import (
    ReceivedRequest,
    ReceivedRequests,
    SentRequest,
    SentRequests,
)

details_app = typer.Typer(help="Step 2 as requester: ask the partner for details about a hit.")
requests_app = typer.Typer(help="Step 2 as holder: the partner's requests for details.")

RequestId = Annotated[
    str,
    typer.Argument(
        help="The request id, or a unique start of it, e.g. DR-7c1",
        show_default=False,
        autocompletion=received_request_ids,
    ),
]


def _escape(text: str) -> str:
    return text.replace("[", "\\[")


def sla_clock(due_at: dt.datetime, now: dt.datetime) -> str:
    """``due in 47 h`` / ``overdue by 2 h`` (minutes under an hour)."""
    seconds = int((due_at - now).total_seconds())
    amount = abs(seconds)
    span = f"{amount // 3600} h" if amount >= 3600 else f"{amount // 60} min"
    return f"due in {span}" if seconds >= 0 else f"overdue by {span}"


def _outcome(sent: SentRequest, now: dt.datetime) -> str:
    partner = sent.partner
    if sent.status is RequestStatus.APPROVED:
        names = ", ".join(sorted(sent.disclosed)) or "nothing"
        return f"approved by {partner}: {names} disclosed (bx details list shows them)"
    if sent.status is RequestStatus.DENIED:
        return f"denied by {partner}: {sent.reason or 'no reason given'}"
    if sent.last_error:
        return f"pending: {partner} is unreachable now; the running node will ask again"
    due = f", {sla_clock(sent.due_at, now)}" if sent.due_at else ""
    return f"pending at {partner}{due}; the running node asks again and records the answer"


@details_app.command("request")
@reports_errors
def request(
    node: NodeOption,
    reference: Annotated[
        str, typer.Option("--reference", help="A hit reference from a partner-hit alert")
    ],
    purpose: Annotated[str, typer.Option(help="An agreement purpose, e.g. anti_trafficking")],
    justification: Annotated[str, typer.Option(help="Why the details are needed")],
    field: Annotated[
        list[str] | None,
        typer.Option("--field", help="A field to ask for (repeat), e.g. names, birth_date"),
    ] = None,
    operator: OperatorOption = None,
    partner: PartnerOption = None,
) -> None:
    """Ask the partner that reported a hit for the details its agreement allows for a purpose."""
    officer = operator_id(operator)
    with opened_node(node) as opened:
        link = _link_for_reference(opened, reference, partner)
        transport = GrpcPeerTransport(link)
        try:
            sent = request_details(
                link,
                transport,
                hit_reference=reference,
                purpose=purpose,
                justification=justification,
                officer_id=officer,
                fields=field or [],
            )
        finally:
            transport.close()
        if sent.status in (RequestStatus.REFUSED, RequestStatus.FAILED):
            raise fail(
                _escape(f"request {sent.request_id} {sent.status.value}: {sent.reason}"),
                EXIT_FAILED,
            )
        console.print(
            f"request {sent.request_id} {_outcome(sent, dt.datetime.now(dt.UTC))}", markup=False
        )


def _link_for_reference(node: Node, reference: str, partner: str | None) -> Link:
    """The partner that issued ``reference`` (named, or found among received hits)."""
    links = partner_links(node, partner)
    for link in links:
        if reference in node.alerts.received_references(link.code):
            return link
    if len(links) == 1:
        return links[0]  # request_details refuses it locally, naming the partner
    raise InvalidInput(
        f"--reference: {reference!r} was received from no partner of {node.name}; "
        "name the partner with --partner"
    )


def _request_id(node: Node, typed: str) -> str:
    """The received request whose id is ``typed`` or starts with it."""
    known = (r.request_id for r in ReceivedRequests(node.database).queue())
    return resolve_prefix(typed, known, what="request")


def _link_for_request(node: Node, request_id: str, partner: str | None) -> Link:
    """The partner whose request ``request_id`` is (named, or found among received)."""
    if partner is not None:
        return partner_links(node, partner)[0]
    senders = ReceivedRequests(node.database).partners_of(request_id)
    if len(senders) == 1:
        return node.link(senders[0])
    if not senders:
        raise InvalidInput(f"request {request_id!r}: no such request on {node.name}")
    raise InvalidInput(
        f"request {request_id!r}: sent by {', '.join(senders)}; name one with --partner"
    )


@details_app.command("list")
@reports_errors
def list_sent(node: NodeOption, fmt: FormatOption = Format.TABLE) -> None:
    """Our requests, their state and the disclosed details (personal data)."""
    with opened_node(node) as opened:
        sent = SentRequests(opened.database, opened.records.data_keys).list()
        title = f"Detail requests sent by {opened.config.node.name} ({len(sent)})"
    rows = [plain(item) for item in sent]
    emit_rows(fmt, rows, lambda: sent_table(sent, title), columns=SENT_COLUMNS)


SENT_COLUMNS = tuple(f.name for f in dataclasses.fields(SentRequest))
RECEIVED_COLUMNS = (*(f.name for f in dataclasses.fields(ReceivedRequest)), "sla")


def sent_table(sent: list[SentRequest], title: str) -> Table:
    table = Table(title=title)
    for column in ("request", "reference", "purpose", "officer", "sent", "status", "details"):
        table.add_column(column, overflow="fold", no_wrap=column in ("request", "reference"))
    for item in sent:
        details = "; ".join(f"{k}={v}" for k, v in sorted(item.disclosed.items()))
        table.add_row(
            item.request_id,
            item.hit_reference,
            item.purpose,
            _escape(item.officer_id),
            f"{item.sent_at:%Y-%m-%d %H:%M}",
            item.status.value,
            _escape(details or item.reason or item.last_error or "-"),
        )
    return table


@requests_app.command("list")
@reports_errors
def list_received(node: NodeOption, fmt: FormatOption = Format.TABLE) -> None:
    """The partner's requests: pending first, with the agreement's SLA clock."""
    now = dt.datetime.now(dt.UTC)
    with opened_node(node) as opened:
        queue = ReceivedRequests(opened.database).queue()
        name = opened.config.node.name
    slas = [_sla(item, now) for item in queue]
    rows = [{**plain(item), "sla": sla} for item, sla in zip(queue, slas, strict=True)]
    emit_rows(fmt, rows, lambda: _received_table(name, queue, slas), columns=RECEIVED_COLUMNS)


def _sla(item: ReceivedRequest, now: dt.datetime) -> str:
    if item.status is RequestStatus.PENDING:
        return sla_clock(item.due_at, now)
    return f"by {item.decided_by or '-'}"


def _received_table(name: str, queue: list[ReceivedRequest], slas: list[str]) -> Table:
    pending = sum(1 for r in queue if r.status is RequestStatus.PENDING)
    table = Table(title=f"Detail requests to {name} ({pending} pending)")
    columns = ("request", "from", "officer", "entry", "purpose", "fields", "status", "sla")
    for column in (*columns, "justification"):
        table.add_column(column, overflow="fold", no_wrap=column in ("request", "entry"))
    for item, sla in zip(queue, slas, strict=True):
        table.add_row(
            item.request_id,
            item.partner,
            _escape(item.officer_id),
            item.entry_id,
            item.purpose,
            ", ".join(item.fields),
            item.status.value,
            sla,
            _escape(item.justification),
        )
    return table


@requests_app.command("approve")
@reports_errors
def approve_request(
    request_id: RequestId,
    node: NodeOption,
    operator: OperatorOption = None,
    comment: Annotated[str, typer.Option(help="Kept with the decision")] = "",
    partner: PartnerOption = None,
) -> None:
    """Approve a pending request; the partner gets the fields when it asks again."""
    officer = operator_id(operator)
    with opened_node(node) as opened:
        request_id = _request_id(opened, request_id)
        decided = approve(
            _link_for_request(opened, request_id, partner), request_id, officer, comment
        )
        console.print(
            f"request {decided.request_id} from {decided.partner} approved by {officer}",
            markup=False,
        )


@requests_app.command("deny")
@reports_errors
def deny_request(
    request_id: RequestId,
    node: NodeOption,
    operator: OperatorOption = None,
    reason: Annotated[str, typer.Option(help="Sent to the partner")] = "",
    partner: PartnerOption = None,
) -> None:
    """Deny a pending request, with a reason the partner receives."""
    officer = operator_id(operator)
    if not reason.strip():
        raise InvalidInput("--reason: a denial needs a reason (the partner receives it)")
    with opened_node(node) as opened:
        request_id = _request_id(opened, request_id)
        decided = deny(_link_for_request(opened, request_id, partner), request_id, officer, reason)
        console.print(
            f"request {decided.request_id} from {decided.partner} denied by {officer}",
            markup=False,
        )
