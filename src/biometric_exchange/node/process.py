"""One node as a process: the gRPC server plus the exchange worker loop, which
also asks the partner again about pending step-2 requests and runs the surge
monitor (at start, then every ``SURGE_INTERVAL_S``).

The process holds its folder (``node.presence``) while it serves. SIGHUP (sent
by ``bx node reload``) reloads the agreements; so does any change to the
agreement files, noticed at the start of each worker round.
"""

from __future__ import annotations

import contextlib
import faulthandler
import io
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import FrameType

from threadpoolctl import threadpool_limits

from biometric_exchange.config import load_config
from biometric_exchange.exceptions import ExchangeError
from biometric_exchange.logs import set_node
from biometric_exchange.node.link import Link
from biometric_exchange.node.live import LiveConfiguration, PartnerTransports
from biometric_exchange.node.metrics import NodeMetrics
from biometric_exchange.node.presence import Presence
from biometric_exchange.node.reachability import (
    ObservedTransport,
    Reachability,
    ReachabilityCollector,
)
from biometric_exchange.node.routed import open_partner_transport
from biometric_exchange.node.runtime import Clock, Node, system_clock
from biometric_exchange.node.send.details import poll_pending
from biometric_exchange.node.send.ping import ping
from biometric_exchange.node.send.worker import ExchangeWorker
from biometric_exchange.node.server import start_server
from biometric_exchange.node.services import Services
from biometric_exchange.node.surges import run_monitor
from biometric_exchange.node.transport import PeerTransport

log = logging.getLogger(__name__)
POLL_INTERVAL_S = 0.2
DETAILS_POLL_INTERVAL_S = 2.0
"""Pending step-2 requests are asked again at most this often."""
SURGE_INTERVAL_S = 60.0
"""The surge monitor runs this often (``BX_SURGE_INTERVAL_S`` overrides, for tests)."""
SURGE_INTERVAL_ENV = "BX_SURGE_INTERVAL_S"
CHECK_TIMEOUT_S = 3.0
"""A partner check's Ping waits this long for an answer (the chores wait with it)."""


def surge_interval_s() -> float:
    """``SURGE_INTERVAL_S``, or a positive number of seconds from ``BX_SURGE_INTERVAL_S``."""
    raw = os.environ.get(SURGE_INTERVAL_ENV)
    if raw is None:
        return SURGE_INTERVAL_S
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if value > 0:
        return value
    log.warning("ignoring %s=%r: not a positive number", SURGE_INTERVAL_ENV, raw)
    return SURGE_INTERVAL_S


class _Chores:
    """The node's own work between calls: the outbox, step-2 re-asks, the surge
    monitor, a Ping to each partner not heard from for a while (``Reachability.quiet``).

    Each chore survives its own errors (logged): what it was doing stays pending
    for the next round.
    """

    def __init__(
        self,
        node: Node,
        worker: ExchangeWorker,
        transports: Mapping[str, PeerTransport],
        live: LiveConfiguration,
        reachability: Reachability,
    ) -> None:
        self._node = node
        self._reachability = reachability
        self._worker = worker
        self._transports = transports
        self._live = live
        self._surge_interval = surge_interval_s()
        self._next_details_poll = self._next_surge_run = time.monotonic()

    def run(self) -> bool:
        """One round; True when the outbox gave work (so more may be due at once)."""
        busy = False
        try:
            self._live.check()
        except Exception:  # the loop must survive; the links held stay as they are
            log.exception("agreement reload error")
        try:
            busy = self._worker.run_once() > 0
        except Exception:  # the loop must survive; the item stays pending
            log.exception("exchange worker error")
        if time.monotonic() >= self._next_details_poll:
            for link in self._node.links():
                try:
                    poll_pending(link, self._transports[link.code])
                except Exception:  # the loop must survive; the requests stay pending
                    log.exception("details poll error (%s)", link.code)
            self._next_details_poll = time.monotonic() + DETAILS_POLL_INTERVAL_S
        if time.monotonic() >= self._next_surge_run:
            try:
                run_monitor(self._node, self._transports)
            except Exception:  # the loop must survive; the next run tries again
                log.exception("surge monitor error")
            self._next_surge_run = time.monotonic() + self._surge_interval
        self._check_partners()
        return busy

    def _check_partners(self) -> None:
        """Ping each partner no call has reached (or failed to reach) for a while: its
        outcome is what ``bx_partner_up`` shows for an idle link."""
        for partner in self._reachability.quiet(self._node.partner_codes):
            try:
                ping(self._node.link(partner), self._transports[partner], timeout=CHECK_TIMEOUT_S)
            except ExchangeError:  # recorded as the partner's state, logged when it changes
                pass
            except Exception:  # the loop must survive; the next round tries again
                log.exception("partner check error (%s)", partner)


def _log_start(node: Node, services: Services) -> None:
    log.info(
        "node %s (%s) serving on %s; watchlist %d entries",
        node.name,
        node.country,
        node.config.node.listen,
        len(services.watchlist),
    )
    for link in node.links():
        log.info(
            "partner %s at %s under agreement %s",
            link.code,
            link.partner.endpoint,
            link.agreement.id,
        )


def _outside_handler(action: Callable[[], object]) -> None:
    """Run ``action`` on a thread of its own. A signal handler runs in the main thread
    between two of its steps, maybe while that thread holds the very lock the action
    needs (the stop event's, inside its ``wait``): taking it there would wait forever."""
    threading.Thread(target=action, name="signal", daemon=True).start()


def _log_passes(services: Services) -> None:
    searches, passes = services.watchlist.passes()
    if passes:
        log.info(
            "watchlist: %d searches in %d passes (%.1f a pass)",
            searches,
            passes,
            searches / passes,
        )


def run_node(
    node_dir: Path,
    *,
    stop: threading.Event | None = None,
    reload: threading.Event | None = None,
    clock: Clock = system_clock,
) -> None:
    """Serve until SIGINT/SIGTERM (or ``stop``); then stop cleanly. SIGHUP (or
    ``reload``, for callers that run the node in a thread) reloads the agreements.
    In the main thread (a node process), every log line carries the node's country
    as ``node``. ``clock`` is the node's (tests move it on)."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():  # a node process: name its logs
        set_node(load_config(node_dir).node.country)
        # A fatal signal prints every thread's stack before the end (when stderr is a
        # file: an in-process command runner gives a stream without one).
        with contextlib.suppress(io.UnsupportedOperation, ValueError):
            faulthandler.enable()
    # Calls are served concurrently, each with a small search: one BLAS thread per
    # call keeps the cores busy without oversubscribing them (measured: 13 → 176
    # single-probe calls/s on 2 cores with a 100k watchlist).
    threadpool_limits(limits=1, user_api="blas")
    shared = load_config(node_dir).store.url is not None  # several processes may serve
    with Presence.claim(node_dir, shared=shared) as presence:
        node = Node.open(node_dir, clock=clock)
        try:
            _serve(node, presence, stop, reload)
        finally:
            node.database.close()
            log.info("node %s stopped", node.name)


def _serve(
    node: Node, presence: Presence, stop: threading.Event, reload: threading.Event | None
) -> None:
    services = Services.of(node)  # shared: the worker adds encounters, probes search them
    metrics = NodeMetrics(node)
    running = start_server(
        node, services, interceptors=[metrics.interceptor], reuse_port=node.database.shared
    )
    metrics.follow_tls(running.credentials)
    reachability = Reachability(lambda: node.clock() / 1000)
    metrics.registry.register(ReachabilityCollector(reachability))
    open_direct_or_routed = open_partner_transport(node.node_dir)

    def open_transport(link: Link) -> PeerTransport:
        return ObservedTransport(open_direct_or_routed(link), link.code, reachability)

    transports = PartnerTransports(node, open_transport)
    live = LiveConfiguration(node, presence=presence, followers=(transports.refresh,))
    worker = ExchangeWorker(node, services, transports, awaits=live.awaits, stop=stop)
    chores = _Chores(node, worker, transports, live, reachability)

    def stopping(signum: int) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        _outside_handler(lambda: stopping(signum))

    def request_reload(_signum: int, _frame: FrameType | None) -> None:
        _outside_handler(live.request)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGHUP, request_reload)
    _log_start(node, services)
    try:
        live.publish()
        metrics.serve()
        while not stop.is_set():
            if reload is not None and reload.is_set():
                reload.clear()
                live.request()
            if not chores.run():
                stop.wait(POLL_INTERVAL_S)
    finally:
        _log_passes(services)
        running.stop()
        metrics.stop()
        transports.close()
