"""``bx alerts watch``: alerts awaiting acknowledgement, polled and shown as they come."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Annotated

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from biometric_exchange.alerts.review import sla_due, sla_state
from biometric_exchange.cli.alerts_common import node_now
from biometric_exchange.cli.alerts_views import alerts_table
from biometric_exchange.cli.common import (
    NodeOption,
    OperatorOption,
    console,
    opened_node,
    operator_id,
    reports_errors,
)
from biometric_exchange.domain import Alert, AlertQueue, AlertStatus, utc_now
from biometric_exchange.store.alerts import AlertFilter


def _awaiting(alerts: list[Alert], title: str, now: dt.datetime) -> Table:
    ordered = sorted(alerts, key=lambda a: (sla_due(a), a.alert_id))
    return alerts_table(ordered, f"{title} ({len(ordered)})", now=now)


def watch_alerts(
    fetch: Callable[[], list[Alert]],
    out: Console,
    *,
    title: str,
    once: bool = False,
    seconds: float | None = None,
    interval: float = 1.0,
    clock: Callable[[], dt.datetime] = utc_now,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Show alerts awaiting acknowledgement, polling ``fetch`` every ``interval``
    seconds until ``seconds`` have passed (forever when None; one look when ``once``).

    A terminal gets a live table; other output (logs, tests) gets the table once,
    then one line per alert that appears. Returns the number of polls.
    """
    polls = 1
    alerts = fetch()
    seen = {a.alert_id for a in alerts}
    deadline = None if seconds is None else time.monotonic() + seconds

    def more() -> bool:
        return not once and (deadline is None or time.monotonic() < deadline)

    if not out.is_terminal:
        out.print(_awaiting(alerts, title, clock()))
        while more():
            sleep(interval)
            alerts, polls = fetch(), polls + 1
            for alert in alerts:
                if alert.alert_id not in seen:
                    seen.add(alert.alert_id)
                    out.print(
                        f"new alert {alert.alert_id} {alert.severity.value} {alert.kind.value} "
                        f"({alert.queue.value}, {sla_state(alert, clock())}): {alert.summary}",
                        markup=False,
                        highlight=False,
                    )
        return polls
    with Live(_awaiting(alerts, title, clock()), console=out, auto_refresh=False) as live:
        while more():
            sleep(interval)
            alerts, polls = fetch(), polls + 1
            fresh = [a.alert_id for a in alerts if a.alert_id not in seen]
            seen.update(fresh)
            note = f"new: {', '.join(fresh)}" if fresh else f"checked {clock():%H:%M:%S} UTC"
            live.update(Group(_awaiting(alerts, title, clock()), note), refresh=True)
    return polls


@reports_errors
def watch(
    node: NodeOption,
    once: Annotated[bool, typer.Option("--once", help="Show the queue once and stop")] = False,
    seconds: Annotated[
        float | None, typer.Option(help="Stop after this many seconds", min=0)
    ] = None,
    interval: Annotated[float, typer.Option(help="Seconds between polls", min=0.1)] = 1.0,
    queue: Annotated[
        AlertQueue | None, typer.Option(help="Only this queue", case_sensitive=False)
    ] = None,
    operator: OperatorOption = None,
) -> None:
    """A live view of alerts awaiting acknowledgement, most urgent first (Ctrl-C stops)."""
    operator_id(operator)
    with opened_node(node) as opened:
        criteria = AlertFilter(status=AlertStatus.NEW, queue=queue)
        title = f"Awaiting acknowledgement on {opened.config.node.name}"
        try:
            watch_alerts(
                lambda: opened.alerts.list(criteria),
                console,
                title=title,
                once=once,
                seconds=seconds,
                interval=interval,
                clock=lambda: node_now(opened),
            )
        except KeyboardInterrupt:
            return
