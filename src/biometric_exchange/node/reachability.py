"""Is each partner up? The outcome of the last call made to it, Ping or any other.

``ObservedTransport`` wraps a partner's transport and records every call's
outcome in ``Reachability``: a reply, or an error status the partner's server
sent (a refusal, an exhausted quota), means up; no answer (``UNAVAILABLE``:
refused connection, failed TLS handshake; ``DEADLINE_EXCEEDED``) means down.
A change is logged once. The node process pings a partner it has not heard
from for ``CHECK_INTERVAL_S``, or for ``RECHECK_DOWN_S`` when it was down
(``process``), so an idle link is known too; ``bx_partner_up`` exports the state.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import grpc
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from biometric_exchange.exceptions import PartnerUnavailable
from biometric_exchange.node.rpc import Rpc
from biometric_exchange.node.transport import PeerTransport, Reply, Request

log = logging.getLogger(__name__)

CHECK_INTERVAL_S = 30.0
"""A partner not heard from for this long is pinged."""
RECHECK_DOWN_S = 5.0
"""A partner whose last call got no answer is pinged again this soon."""
NO_ANSWER = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
"""Status codes that mean the partner's server did not answer."""


@dataclass(frozen=True)
class Outcome:
    up: bool
    at: float
    """When (``clock`` seconds) the call ended."""
    reason: str
    """``OK``, or the status code name of the error."""


def _answered(error: Exception) -> tuple[bool, str]:
    """Whether the partner's server sent the error status ``error`` stands for."""
    cause = error.__cause__
    if isinstance(cause, grpc.RpcError):
        code = cause.code()
        return code not in NO_ANSWER, code.name
    # Without a gRPC cause (an in-process transport): only "unavailable" is no answer.
    return not isinstance(error, PartnerUnavailable), type(error).__name__


def _due(outcome: Outcome | None, now: float) -> bool:
    if outcome is None:
        return True
    elapsed = now - outcome.at
    return elapsed < 0 or elapsed >= (CHECK_INTERVAL_S if outcome.up else RECHECK_DOWN_S)


class Reachability:
    """The last outcome per partner; safe to record from any thread."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._last: dict[str, Outcome] = {}

    def record(self, partner: str, up: bool, reason: str) -> None:
        outcome = Outcome(up, self._clock(), reason)
        with self._lock:
            before = self._last.get(partner)
            self._last[partner] = outcome
        if before is None or before.up != up:
            if up:
                log.info("partner %s reachable", partner, extra={"peer": partner})
            else:
                log.warning("partner %s unreachable (%s)", partner, reason, extra={"peer": partner})

    def last(self, partner: str) -> Outcome | None:
        with self._lock:
            return self._last.get(partner)

    def quiet(self, partners: Iterable[str]) -> list[str]:
        """Partners to check now: not called yet, no call ended for ``CHECK_INTERVAL_S``,
        down and not called for ``RECHECK_DOWN_S``, or last called "in the future" (the
        clock was set back: a check now rather than after the jump's length)."""
        now = self._clock()
        with self._lock:
            last = {p: self._last.get(p) for p in partners}
        return [partner for partner, outcome in last.items() if _due(outcome, now)]

    def snapshot(self) -> dict[str, Outcome]:
        with self._lock:
            return dict(self._last)


class ObservedTransport:
    """A partner's transport whose every call outcome goes to ``reachability``."""

    def __init__(self, inner: PeerTransport, partner: str, reachability: Reachability) -> None:
        self._inner = inner
        self._partner = partner
        self._reachability = reachability

    def call(self, rpc: Rpc[Request, Reply], request: Request, *, timeout: float) -> Reply:
        try:
            reply = self._inner.call(rpc, request, timeout=timeout)
        except Exception as exc:
            up, reason = _answered(exc)
            self._reachability.record(self._partner, up, reason)
            raise
        self._reachability.record(self._partner, True, "OK")
        return reply

    def close(self) -> None:
        self._inner.close()


class ReachabilityCollector(Collector):
    """``bx_partner_up{partner}``: 1 when the last call got an answer, 0 when it did
    not; no sample for a partner not called yet."""

    def __init__(self, reachability: Reachability) -> None:
        self._reachability = reachability

    def describe(self) -> Iterable[Metric]:
        return ()

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "bx_partner_up",
            "1 when the partner answered the last call made to it (Ping or any other), "
            "0 when it did not",
            labels=["partner"],
        )
        for partner, outcome in sorted(self._reachability.snapshot().items()):
            up.add_metric([partner], int(outcome.up))
        yield up
