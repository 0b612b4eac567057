"""``bx alerts ack``, ``investigate``, ``escalate``, ``confirm``, ``dismiss``, ``close``:
the review workflow, each step by the named officer.

``STEPS`` names each command's target status; the commands are made from it, and
their help starts with the states the review's ``TRANSITIONS`` allow them from.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from biometric_exchange.alerts.review import (
    STATUS_ORDER,
    TRANSITIONS,
    AlertReview,
    DismissalReason,
)
from biometric_exchange.cli.alerts_common import AlertId, CommentOption, get_alert, node_now
from biometric_exchange.cli.common import (
    NodeOption,
    OperatorOption,
    console,
    opened_node,
    operator_id,
    reports_errors,
)
from biometric_exchange.domain import AlertStatus

ReasonOption = Annotated[
    DismissalReason | None,
    typer.Option(help="Why the alert is dismissed", case_sensitive=False),
]


@dataclass(frozen=True)
class ReviewStep:
    """A review command: the status it moves an alert to, and what its help adds."""

    to: AlertStatus
    note: str = "."

    @property
    def help(self) -> str:
        """``FROM -> TO`` from ``TRANSITIONS`` (several sources joined by ``/``), then the note."""
        sources = "/".join(s.value for s in STATUS_ORDER if self.to in TRANSITIONS[s])
        return f"{sources} -> {self.to.value}{self.note}"


STEPS: Mapping[str, ReviewStep] = {
    "ack": ReviewStep(AlertStatus.ACKNOWLEDGED, ": you take the alert (stops its SLA clock)."),
    "investigate": ReviewStep(AlertStatus.INVESTIGATING),
    "escalate": ReviewStep(AlertStatus.ESCALATED),
    "confirm": ReviewStep(AlertStatus.CONFIRMED, "; four eyes: not by the acknowledger."),
    "dismiss": ReviewStep(AlertStatus.DISMISSED, "; --reason ('other' needs --comment)."),
    "close": ReviewStep(AlertStatus.CLOSED, " (a new hit then opens a new alert)."),
}
"""Command name -> review step, in the order ``bx alerts --help`` lists them."""


def _act(
    node_dir: Path,
    alert_id: str,
    operator: str | None,
    to: AlertStatus,
    *,
    reason: DismissalReason | None = None,
    comment: str | None = None,
) -> None:
    officer = operator_id(operator)
    with opened_node(node_dir) as opened:
        before = get_alert(opened, alert_id)
        review = AlertReview(opened.database, opened.audit, clock=lambda: node_now(opened))
        after = review.transition(before.alert_id, to, officer, reason=reason, comment=comment)
        console.print(
            f"alert {after.alert_id}: {before.status.value} -> {after.status.value} by {officer}",
            markup=False,
            highlight=False,
        )


def _moving_to(to: AlertStatus) -> Callable[..., None]:
    def command(
        alert_id: AlertId,
        node: NodeOption,
        operator: OperatorOption = None,
        comment: CommentOption = None,
    ) -> None:
        _act(node, alert_id, operator, to, comment=comment)

    return command


def _dismissing(to: AlertStatus) -> Callable[..., None]:
    def command(
        alert_id: AlertId,
        node: NodeOption,
        reason: ReasonOption = None,
        operator: OperatorOption = None,
        comment: CommentOption = None,
    ) -> None:
        _act(node, alert_id, operator, to, reason=reason, comment=comment)

    return command


def review_command(step: ReviewStep) -> Callable[..., None]:
    """The command for ``step``; dismissal alone takes ``--reason``."""
    make = _dismissing if step.to is AlertStatus.DISMISSED else _moving_to
    command = make(step.to)
    command.__doc__ = step.help
    return reports_errors(command)


REVIEW_COMMANDS: Mapping[str, Callable[..., None]] = {
    name: review_command(step) for name, step in STEPS.items()
}
"""The review commands by name, for ``bx alerts``."""
