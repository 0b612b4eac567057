"""One node as a process: the gRPC server plus the exchange worker loop, which
also asks the partner again about pending step-2 requests."""

from __future__ import annotations

import logging
import signal
import threading
import time
from pathlib import Path
from types import FrameType

from biometric_exchange.node.details_client import poll_pending
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.server import start_server
from biometric_exchange.node.transport import GrpcPeerTransport
from biometric_exchange.node.worker import ExchangeWorker

log = logging.getLogger(__name__)
POLL_INTERVAL_S = 0.2
DETAILS_POLL_INTERVAL_S = 2.0
"""Pending step-2 requests are asked again at most this often."""


def run_node(node_dir: Path, *, stop: threading.Event | None = None) -> None:
    """Serve until SIGINT/SIGTERM (or ``stop``); then stop cleanly."""
    stop = stop or threading.Event()
    node = Node.open(node_dir)
    watchlist = node.watchlist_index()
    running = start_server(node, watchlist)
    transport = GrpcPeerTransport(node)
    worker = ExchangeWorker(node, watchlist, transport)

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
    log.info(
        "node %s (%s) serving on %s; partner %s at %s; watchlist %d entries; agreement %s",
        node.config.node.name,
        node.country,
        node.config.node.listen,
        node.partner.code,
        node.partner.endpoint,
        len(watchlist),
        node.agreement.id,
    )
    next_details_poll = time.monotonic()
    try:
        while not stop.is_set():
            try:
                worker.run_once()
            except Exception:  # the loop must survive; the item stays pending
                log.exception("exchange worker error")
            if time.monotonic() >= next_details_poll:
                try:
                    poll_pending(node, transport)
                except Exception:  # the loop must survive; the requests stay pending
                    log.exception("details poll error")
                next_details_poll = time.monotonic() + DETAILS_POLL_INTERVAL_S
            stop.wait(POLL_INTERVAL_S)
    finally:
        running.stop()
        transport.close()
        node.database.close()
        log.info("node %s stopped", node.config.node.name)
