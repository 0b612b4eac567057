"""``bx alerts ack``, ``investigate``, ``escalate``, ``confirm``, ``dismiss``, ``close``:
the review workflow, each step by the named officer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from biometric_exchange.alerts.review import AlertReview, DismissalReason
from biometric_exchange.cli.alerts_common import AlertId, CommentOption, get_alert, node_now
from biometric_exchange.cli.common import (
    NodeOption,
    OperatorOption,
    console,
    opened_node,
    operator_id,
    reports_errors,
)
from biometric_exchange.domain import Alert


def _act(
    node_dir: Path,
    alert_id: str,
    operator: str | None,
    step: Callable[[AlertReview, str], Alert],
) -> None:
    officer = operator_id(operator)
    with opened_node(node_dir) as opened:
        before = get_alert(opened, alert_id)
        review = AlertReview(opened.database, opened.audit, clock=lambda: node_now(opened))
        after = step(review, officer)
        console.print(
            f"alert {after.alert_id}: {before.status.value} -> {after.status.value} by {officer}",
            markup=False,
            highlight=False,
        )


@reports_errors
def acknowledge(
    alert_id: AlertId,
    node: NodeOption,
    operator: OperatorOption = None,
    comment: CommentOption = None,
) -> None:
    """NEW -> ACKNOWLEDGED: you take the alert (stops its SLA clock)."""
    _act(node, alert_id, operator, lambda r, who: r.acknowledge(alert_id, who, comment))


@reports_errors
def investigate(
    alert_id: AlertId,
    node: NodeOption,
    operator: OperatorOption = None,
    comment: CommentOption = None,
) -> None:
    """ACKNOWLEDGED -> INVESTIGATING."""
    _act(node, alert_id, operator, lambda r, who: r.investigate(alert_id, who, comment))


@reports_errors
def escalate(
    alert_id: AlertId,
    node: NodeOption,
    operator: OperatorOption = None,
    comment: CommentOption = None,
) -> None:
    """INVESTIGATING -> ESCALATED."""
    _act(node, alert_id, operator, lambda r, who: r.escalate(alert_id, who, comment))


@reports_errors
def confirm(
    alert_id: AlertId,
    node: NodeOption,
    operator: OperatorOption = None,
    comment: CommentOption = None,
) -> None:
    """ACKNOWLEDGED/INVESTIGATING/ESCALATED -> CONFIRMED; four eyes: not by the acknowledger."""
    _act(node, alert_id, operator, lambda r, who: r.confirm(alert_id, who, comment))


@reports_errors
def dismiss(
    alert_id: AlertId,
    node: NodeOption,
    reason: Annotated[
        DismissalReason | None,
        typer.Option(help="Why the alert is dismissed", case_sensitive=False),
    ] = None,
    operator: OperatorOption = None,
    comment: CommentOption = None,
) -> None:
    """ACKNOWLEDGED/INVESTIGATING/ESCALATED -> DISMISSED; --reason ('other' needs --comment)."""
    _act(node, alert_id, operator, lambda r, who: r.dismiss(alert_id, who, reason, comment))


@reports_errors
def close(
    alert_id: AlertId,
    node: NodeOption,
    operator: OperatorOption = None,
    comment: CommentOption = None,
) -> None:
    """CONFIRMED or DISMISSED -> CLOSED (a new hit then opens a new alert)."""
    _act(node, alert_id, operator, lambda r, who: r.close(alert_id, who, comment))
