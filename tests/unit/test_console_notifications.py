"""Notifications of critical alerts and SLA breaches: queued once per alert and reason,
posted to a real HTTP server on loopback, retried with back-off, kept across restarts."""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from biometric_exchange.config import NotificationFormat, NotificationsSection
from biometric_exchange.console.notify import SEVERITY, SLA_BREACH
from biometric_exchange.console.webhook import Notifier, retry_delay
from biometric_exchange.domain import Alert, AlertKind, AlertQueue, Severity
from biometric_exchange.node.runtime import Node
from biometric_exchange.store.alerts import new_alert_id
from biometric_exchange.store.notifications import NotificationOutbox, NotificationState

START = dt.datetime.now(dt.UTC).replace(microsecond=0)


@dataclass
class Receiver:
    """A local HTTP server answering ``failures`` 503s, then 200s; it keeps every body."""

    failures: int = 0
    bodies: list[Any] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/v2/alerts"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with lock:
                state.bodies.append(json.loads(body))
                failing = state.failures > 0
                state.failures -= failing
            self.send_response(503 if failing else 200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            """Quiet."""

    state.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=state.server.serve_forever, daemon=True)
    thread.start()
    yield state
    state.server.shutdown()
    state.server.server_close()


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now


def _alert(severity: Severity, created_at: dt.datetime = START) -> Alert:
    return Alert(
        alert_id=new_alert_id(),
        kind=AlertKind.WATCHLIST_HIT,
        severity=severity,
        created_at=created_at,
        summary="hit on PAN watchlist, category arrest_warrant: encounter CHL-ENC-0001",
        subject_key=f"PAN:{new_alert_id()}",
        queue=AlertQueue.ENFORCEMENT,
        partner="PAN",
        evidence=({"key": "encounter:CHL-ENC-0001", "rule": "WATCHLIST_HIT"},),
    )


def _settings(url: str, **changes: Any) -> NotificationsSection:
    return NotificationsSection(url=url, console_url="https://console.example:8443", **changes)


@pytest.fixture
def chl(nodes: dict[str, Node]) -> Node:
    return nodes["CHL"]


def test_a_critical_alert_is_posted_once_in_alertmanagers_shape(
    chl: Node, receiver: Receiver
) -> None:
    critical = _alert(Severity.CRITICAL)
    chl.alerts.raise_alert(critical)
    chl.alerts.raise_alert(_alert(Severity.HIGH))
    settings = _settings(receiver.url, format=NotificationFormat.ALERTMANAGER)
    notifier = Notifier(chl, settings, clock=Clock())

    first = notifier.run_once()
    again = notifier.run_once()

    assert (first.queued, first.delivered, again.queued, again.delivered) == (1, 1, 0, 0)
    [body] = receiver.bodies
    [item] = body
    assert item["labels"] == {
        "alertname": "bx_watchlist_hit",
        "severity": "critical",
        "kind": "WATCHLIST_HIT",
        "queue": "enforcement",
        "reason": SEVERITY,
        "node": chl.name,
        "country": "CHL",
        "alert_id": critical.alert_id,
        "partner": "PAN",
    }
    assert item["generatorURL"] == f"https://console.example:8443/alerts/{critical.alert_id}"
    assert item["startsAt"].endswith("Z") and "sla_due" in item["annotations"]


def test_an_sla_breach_is_posted_as_an_alertmanager_webhook_message(
    chl: Node, receiver: Receiver
) -> None:
    high = _alert(Severity.HIGH)
    chl.alerts.raise_alert(high)
    clock = Clock()
    notifier = Notifier(chl, _settings(receiver.url), clock=clock)
    assert notifier.run_once().queued == 0  # high is below critical; the SLA is not due

    clock.now = START + dt.timedelta(hours=1, seconds=1)  # high: acknowledge within 1 h
    assert notifier.run_once().delivered == 1

    [message] = receiver.bodies
    assert (message["version"], message["status"], message["receiver"]) == (
        "4",
        "firing",
        "biometric-exchange",
    )
    [item] = message["alerts"]
    assert item["labels"]["reason"] == SLA_BREACH and item["labels"]["alert_id"] == high.alert_id
    assert item["status"] == "firing" and len(item["fingerprint"]) == 16
    assert message["commonLabels"] == item["labels"]


def test_a_failing_receiver_is_retried_with_back_off_until_it_answers(
    chl: Node, receiver: Receiver
) -> None:
    receiver.failures = 2
    chl.alerts.raise_alert(_alert(Severity.CRITICAL))
    clock = Clock()
    settings = _settings(receiver.url, first_retry_s=2.0)
    notifier = Notifier(chl, settings, clock=clock, rng=random.Random(1))
    outbox = NotificationOutbox(chl.database)

    assert notifier.run_once().retried == 1
    [item] = outbox.list()
    assert (item.state, item.attempts, item.last_error) == (
        NotificationState.PENDING,
        1,
        "HTTP 503",
    )
    first_wait = item.next_attempt_at - clock.now
    assert dt.timedelta(seconds=1.6) <= first_wait <= dt.timedelta(seconds=2.4)
    assert notifier.run_once().retried == 0  # not due yet: nothing is posted
    assert len(receiver.bodies) == 1

    clock.now = item.next_attempt_at
    assert notifier.run_once().retried == 1
    [item] = outbox.list()
    second_wait = item.next_attempt_at - clock.now
    assert dt.timedelta(seconds=3.2) <= second_wait <= dt.timedelta(seconds=4.8)

    clock.now = item.next_attempt_at
    restarted = Notifier(chl, settings, clock=clock)  # the queue is a table: a new process
    assert restarted.run_once().delivered == 1
    [item] = outbox.list()
    assert (item.state, item.attempts) == (NotificationState.DELIVERED, 3)
    assert len(receiver.bodies) == 3 and receiver.bodies[0] == receiver.bodies[2]


def test_an_unreachable_receiver_ends_failed_after_the_last_attempt(chl: Node) -> None:
    chl.alerts.raise_alert(_alert(Severity.CRITICAL))
    clock = Clock()
    settings = _settings("http://127.0.0.1:9/nobody-listens", max_attempts=3, timeout_s=2)
    notifier = Notifier(chl, settings, clock=clock)
    outbox = NotificationOutbox(chl.database)
    for _ in range(3):
        notifier.run_once()
        clock.now = max(clock.now, outbox.list()[0].next_attempt_at)
    [item] = outbox.list()
    assert (item.state, item.attempts) == (NotificationState.FAILED, 3)
    assert item.last_error is not None
    assert notifier.run_once().failed == 0


def test_retry_delays_double_up_to_the_cap() -> None:
    settings = _settings("http://127.0.0.1:9/", first_retry_s=2, max_retry_s=30)
    rng = random.Random(0)
    delays = [retry_delay(n, settings, rng) for n in range(1, 8)]
    for delay, base in zip(delays, (2, 4, 8, 16, 30, 30, 30), strict=True):
        assert base * 0.8 <= delay <= base * 1.2
