"""The node: health, partners, agreements and days left, outbox backlog, the audit
chain, notifications, and links to simulation reports (``node.overview``, the facts
``bx status`` prints; ``AuditLog.verify``, what ``bx audit verify`` runs)."""

from __future__ import annotations

from starlette.responses import Response

from biometric_exchange.console.guard import Page
from biometric_exchange.console.reports import find_reports
from biometric_exchange.node.overview import node_status
from biometric_exchange.store.audit import AuditChainBroken
from biometric_exchange.store.notifications import NotificationOutbox

PROBE_TIMEOUT_S = 2.0


def show(page: Page) -> Response:
    node = page.console.node
    status = node_status(node, timeout=PROBE_TIMEOUT_S)
    try:
        chain = f"intact: {node.audit.verify()} entries"
        chain_ok = True
    except AuditChainBroken as exc:
        chain, chain_ok = str(exc), False
    return page.render(
        "node.html",
        status=status,
        chain=chain,
        chain_ok=chain_ok,
        notifications=NotificationOutbox(node.database).counts(),
        notifications_on=node.config.notifications is not None,
        reports=find_reports(page.console.reports_dir),
    )
