"""What the ``bx alerts`` commands share: argument types, the node's clock, one alert."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from biometric_exchange.domain import Alert
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.node.runtime import Node

AlertId = Annotated[str, typer.Argument(help="The alert id, e.g. ALR-…", show_default=False)]
CommentOption = Annotated[
    str | None, typer.Option(help="Kept with the transition (not in the audit log)")
]


def node_now(node: Node) -> dt.datetime:
    """The node's clock as an aware UTC datetime."""
    return dt.datetime.fromtimestamp(node.clock() / 1000, tz=dt.UTC)


def get_alert(node: Node, alert_id: str) -> Alert:
    """The alert ``alert_id`` on ``node``; InvalidInput when there is none."""
    alert = node.alerts.get(alert_id)
    if alert is None:
        raise InvalidInput(f"alert {alert_id!r}: no such alert on this node")
    return alert
