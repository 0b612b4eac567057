"""Delivering queued notifications: an HTTP POST of the stored JSON, with retries.

A 2xx answer delivers; anything else (an error status, a refused connection, a
timeout) is retried after ``first_retry_s``, doubling up to ``max_retry_s``
(±20 % jitter) until ``max_attempts``, then the notification ends ``failed``.
The queue is a table (``notifications``), so nothing is lost across restarts.
``Notifier.run_once`` is one pass (queue, then deliver what is due), the
console's background thread calls it; tests call it with their own clock.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from biometric_exchange.config import NotificationsSection
from biometric_exchange.console.context import Clock
from biometric_exchange.console.notify import queue_notifications
from biometric_exchange.node.runtime import Node
from biometric_exchange.store.notifications import Notification, NotificationOutbox

log = logging.getLogger(__name__)

Post = Callable[[str, bytes, float], int]
"""(url, body, timeout) -> the HTTP status; raises OSError when nothing answered."""
JITTER = 0.2


def http_post(url: str, body: bytes, timeout: float) -> int:
    request = urllib.request.Request(  # noqa: S310 - the URL is checked http(s) by config
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "biometric-exchange"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def retry_delay(attempts: int, settings: NotificationsSection, rng: random.Random) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones."""
    base = min(settings.first_retry_s * 2.0 ** max(attempts - 1, 0), settings.max_retry_s)
    return float(base * (1 + rng.uniform(-JITTER, JITTER)))


@dataclass(frozen=True)
class Round:
    queued: int
    delivered: int
    retried: int
    failed: int


class Notifier:
    """Queues and delivers the node's notifications under ``settings``."""

    def __init__(
        self,
        node: Node,
        settings: NotificationsSection,
        *,
        clock: Clock,
        post: Post = http_post,
        rng: random.Random | None = None,
    ) -> None:
        self._node = node
        self._settings = settings
        self._clock = clock
        self._post = post
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        self._outbox = NotificationOutbox(node.database)

    def close(self) -> None:
        """Close this thread's database connection."""
        self._node.database.close()

    def run_once(self) -> Round:
        now = self._clock()
        queued = queue_notifications(self._node, self._settings, now)
        delivered = retried = failed = 0
        for item in self._outbox.due(now):
            outcome = self._deliver(item, now)
            delivered += outcome == "delivered"
            retried += outcome == "retry"
            failed += outcome == "failed"
        return Round(queued, delivered, retried, failed)

    def _deliver(self, item: Notification, now: dt.datetime) -> str:
        settings = self._settings
        try:
            status = self._post(settings.url, item.payload.encode(), settings.timeout_s)
            error = None if 200 <= status < 300 else f"HTTP {status}"
        except OSError as exc:
            error = type(exc).__name__
        if error is None:
            self._outbox.delivered(item.notification_id, at=now)
            log.info("notification %s for alert %s delivered", item.notification_id, item.alert_id)
            return "delivered"
        attempts = item.attempts + 1
        if attempts >= settings.max_attempts:
            self._outbox.attempt_failed(item.notification_id, error, retry_at=None)
            log.warning(
                "notification %s for alert %s failed after %d attempts (%s)",
                item.notification_id,
                item.alert_id,
                attempts,
                error,
            )
            return "failed"
        delay = retry_delay(attempts, settings, self._rng)
        self._outbox.attempt_failed(
            item.notification_id, error, retry_at=now + dt.timedelta(seconds=delay)
        )
        log.info(
            "notification %s: attempt %d failed (%s); retry in %.0f s",
            item.notification_id,
            attempts,
            error,
            delay,
        )
        return "retry"


class NotifierThread:
    """Runs ``notifier.run_once`` every ``interval_s`` until stopped."""

    def __init__(self, notifier: Notifier, interval_s: float = 1.0) -> None:
        self._notifier = notifier
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bx-notifier", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self._notifier.run_once()
                except Exception:
                    log.exception("notifications: a pass failed; trying again")
                self._stop.wait(self._interval)
        finally:
            self._notifier.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
