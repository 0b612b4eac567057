"""The router's one job: check a member's call, forward it, record what it may know.

What it reads is the clear part of a call: the authenticated member, the
partner named (``bx-route-to``), the envelope's clear header (sender, recipient,
agreement id, message id and type, time) and sizes. It checks that the header
names the member as sender and the partner as recipient, that the pair holds
terms, and the member's daily quota; then forwards the sealed envelope unchanged
and returns the partner's sealed reply unchanged. Refusals and forwarded calls
alike go into its audit chain; ciphertexts never do.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import grpc
from google.protobuf.message import DecodeError, Message

from biometric_exchange.domain import utc_now
from biometric_exchange.exceptions import (
    AgreementRefusal,
    ExchangeError,
    InvalidInput,
    PeerNotAuthorized,
)
from biometric_exchange.node.rpc import Rpc
from biometric_exchange.node.status import status_for
from biometric_exchange.router.config import RouterConfig
from biometric_exchange.store.audit import AuditEvent, AuditLog, AuditOutcome
from biometric_exchange.store.database import Database
from biometric_exchange.store.quotas import QuotaKind, Quotas
from biometric_exchange.v1 import exchange_pb2 as pb

CLAIMED_CHARS = 64
"""At most this much of a field a member claims (ids, sender, recipient) reaches the audit."""
Request = TypeVar("Request", bound=Message)
Reply = TypeVar("Reply", bound=Message)


class HolderStatus(ExchangeError):
    """The partner answered with an error status: relayed to the member unchanged."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(f"partner answered {code.name}")
        self.code = code
        self.message = message


class NoTerms(AgreementRefusal):
    """The two members hold no agreement: the router connects no such pair."""

    public_message = "no terms between these members"


def router_status(error: ExchangeError) -> tuple[grpc.StatusCode, str]:
    """The status a member sees for the router's own refusal: the node's table, with
    a message of its own for a pair without terms."""
    if isinstance(error, NoTerms):
        return grpc.StatusCode.PERMISSION_DENIED, NoTerms.public_message
    return status_for(error)


class Onward(Protocol):
    """The way from the router to one partner, on one member's behalf."""

    def call(self, rpc: Rpc[Request, Reply], request: Request, *, timeout: float) -> Reply:
        """The partner's reply, or ``HolderStatus`` for its error status."""
        ...


class Router:
    """Forwards members' calls between pairs with terms; holds no envelope key."""

    def __init__(
        self,
        config: RouterConfig,
        database: Database,
        onward: Callable[[str, str], Onward],
        *,
        clock: Callable[[], dt.datetime] = utc_now,
        timeout: float = 10.0,
    ) -> None:
        self.config = config
        self.audit = AuditLog(database, clock=clock)
        self._quotas = Quotas(database)
        self._onward = onward
        self._clock = clock
        self._timeout = timeout

    def forward(
        self, member: str, route_to: str, rpc: Rpc[Request, Reply], request: Request
    ) -> Reply:
        """``request`` from ``member`` to ``route_to``: the partner's reply, or an error
        (``HolderStatus`` for the partner's own, an ``ExchangeError`` for ours)."""
        facts: dict[str, Any] = {
            "method": rpc.name,
            "to": route_to[:CLAIMED_CHARS],
            "bytes": request.ByteSize(),
        }
        try:
            self._check(member, route_to, rpc, request, facts)
        except ExchangeError as exc:
            self.audit.record(
                AuditEvent.ROUTE_REFUSED,
                AuditOutcome.REJECTED,
                peer=member,
                reason=str(exc),
                **facts,
            )
            raise
        try:
            reply = self._onward(route_to, member).call(rpc, request, timeout=self._timeout)
        except HolderStatus as exc:
            self.audit.record(
                AuditEvent.ROUTE_FORWARDED,
                AuditOutcome.FAILED,
                peer=member,
                status=exc.code.name,
                **facts,
            )
            raise
        self.audit.record(
            AuditEvent.ROUTE_FORWARDED,
            AuditOutcome.ACCEPTED,
            peer=member,
            status="OK",
            reply_bytes=reply.ByteSize(),
            **facts,
        )
        return reply

    def _check(
        self,
        member: str,
        route_to: str,
        rpc: Rpc[Any, Any],
        request: Message,
        facts: dict[str, Any],
    ) -> None:
        if member not in self.config.members:
            raise PeerNotAuthorized(f"{member} is not a member")
        if route_to not in self.config.members:
            raise InvalidInput(f"route to {route_to[:CLAIMED_CHARS] or '(none)'}: not a member")
        self._addressing(member, route_to, rpc, request, facts)
        if not self.config.has_terms(member, route_to):
            raise NoTerms(f"no terms between {member} and {route_to}")
        today = self._clock().date()
        limit = self.config.calls_per_member_per_day
        self._quotas.consume(today, member, QuotaKind.ROUTED, 1, limit)

    @staticmethod
    def _addressing(
        member: str, route_to: str, rpc: Rpc[Any, Any], request: Message, facts: dict[str, Any]
    ) -> None:
        """The clear header of a sealed call must name ``member`` as sender and
        ``route_to`` as recipient (a clear ``Ping``: its sender)."""
        if rpc.sealing is None:
            sender = getattr(request, "sender", "")
            if sender != member:
                raise PeerNotAuthorized(
                    f"{rpc.name} names sender {sender[:CLAIMED_CHARS]!r}, not {member}"
                )
            return
        if not isinstance(request, pb.SealedEnvelope):
            raise InvalidInput(f"{rpc.name}: not a sealed envelope")
        try:
            header = pb.EnvelopeHeader.FromString(request.header)
        except DecodeError as exc:
            raise InvalidInput(f"{rpc.name}: unreadable envelope header") from exc
        facts.update(
            message_id=header.message_id[:CLAIMED_CHARS],
            agreement=header.agreement_id[:CLAIMED_CHARS],
            created_at_ms=header.created_at_ms,
        )
        if header.sender != member:
            raise PeerNotAuthorized(
                f"envelope sender {header.sender[:CLAIMED_CHARS]!r} is not {member}"
            )
        if header.recipient != route_to:
            raise InvalidInput(
                f"envelope recipient {header.recipient[:CLAIMED_CHARS]!r} is not {route_to}"
            )
