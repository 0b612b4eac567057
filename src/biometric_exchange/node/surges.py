"""One run of the surge monitor on a node: refresh each partner's counts, then
assess every series and raise FLOW_SURGE alerts (``surge.monitor``)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping

from biometric_exchange.exceptions import ExchangeError
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.send.aggregates import request_aggregates
from biometric_exchange.node.transport import PeerTransport
from biometric_exchange.serde.aggregates import DayRange
from biometric_exchange.surge.monitor import (
    WINDOW_DAYS,
    MonitorReport,
    assess_counts,
    raise_surges,
    raised_days,
)

log = logging.getLogger(__name__)


def run_monitor(
    node: Node, transports: Mapping[str, PeerTransport], *, today: dt.date | None = None
) -> MonitorReport:
    """Refresh the counts of each partner in ``transports`` (a failure is logged and
    the stored counts are used), assess our series and every partner's up to
    ``today`` (the node's by default; simulations pass the simulated day), raise
    alerts."""
    report = MonitorReport()
    today = today or node.today()
    days = DayRange(today - dt.timedelta(days=WINDOW_DAYS - 1), today)
    for code, transport in transports.items():
        try:
            report.partner_counts += len(request_aggregates(node.link(code), transport, days))
            report.partner_refreshed = True
        except ExchangeError as exc:
            log.warning("surge monitor: %s counts not refreshed: %s", code, exc)
    report.surges = assess_counts(
        node.counts, node.country, node.partner_codes, today, raised=raised_days(node.alerts)
    )
    created_at = dt.datetime.fromtimestamp(node.clock() / 1000, tz=dt.UTC)
    raise_surges(
        node.alerts, report.surges, report, created_at=created_at, partners=node.partner_codes
    )
    if report.new_alerts or report.evidence_added:
        log.info(
            "surge monitor: %d surge days, %d new alerts, %d evidence items added",
            len(report.surges),
            report.new_alerts,
            report.evidence_added,
        )
    return report
