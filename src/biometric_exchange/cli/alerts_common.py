"""What the ``bx alerts`` commands share: argument types, the node's clock, one alert
(by its id or a unique prefix of it)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from biometric_exchange.cli.completion import alert_ids
from biometric_exchange.cli.ids import resolve_prefix
from biometric_exchange.domain import Alert
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.node.runtime import Node

AlertId = Annotated[
    str,
    typer.Argument(
        help="The alert id, or a unique start of it, e.g. ALR-3f2",
        show_default=False,
        autocompletion=alert_ids,
    ),
]
CommentOption = Annotated[
    str | None, typer.Option(help="Kept with the transition (not in the audit log)")
]


def node_now(node: Node) -> dt.datetime:
    """The node's clock as an aware UTC datetime."""
    return dt.datetime.fromtimestamp(node.clock() / 1000, tz=dt.UTC)


def get_alert(node: Node, alert_id: str) -> Alert:
    """The alert ``alert_id`` (or the one whose id starts so) on ``node``; InvalidInput
    when there is none, or when the prefix fits several (naming them)."""
    alert = node.alerts.get(alert_id)
    if alert is None:
        known = (a.alert_id for a in node.alerts.list())
        alert = node.alerts.get(resolve_prefix(alert_id, known, what="alert"))
    if alert is None:
        raise InvalidInput(f"alert {alert_id!r}: no such alert on this node")
    return alert
