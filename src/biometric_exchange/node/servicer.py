"""The thin gRPC servicer: authorize the peer, call its handler, map errors.

The caller's certificate says which partner it is (each partner's CA is
pinned by our agreement with them); the call is handled under that
agreement, by the handlers bound to that partner.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import NoReturn, Protocol

import grpc

from biometric_exchange.exceptions import ExchangeError, PeerNotAuthorized
from biometric_exchange.node.ping import answer_ping
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.status import status_for
from biometric_exchange.node.tls import PartnerAuthorizer
from biometric_exchange.store.audit import AuditEvent, AuditOutcome
from biometric_exchange.v1 import exchange_pb2 as pb
from biometric_exchange.v1 import exchange_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)


class EnvelopeHandler(Protocol):
    """Plain logic behind one sealed-envelope method; raises ExchangeError to refuse."""

    def handle(self, envelope: pb.SealedEnvelope) -> pb.SealedEnvelope: ...


def _abort(context: grpc.ServicerContext, error: ExchangeError) -> NoReturn:
    code, message = status_for(error)
    if code is grpc.StatusCode.INTERNAL:
        log.error("internal error: %s", type(error).__name__)
    context.abort(code, message)
    raise AssertionError("unreachable")  # pragma: no cover - abort raises


HandlerFactory = Callable[[Node], Mapping[str, EnvelopeHandler]]
"""The handlers (by method name) of one partner link."""


class ExchangeServicer(pb_grpc.ExchangeServicer):
    def __init__(self, node: Node, handlers_for: HandlerFactory) -> None:
        self._node = node
        self._links = {link.partner.code: link for link in node.links()}
        self._handlers = {code: dict(handlers_for(link)) for code, link in self._links.items()}
        self._authorizer = PartnerAuthorizer(node)

    def _authorize(self, context: grpc.ServicerContext, method: str) -> str:
        """The calling partner's code; aborts the call when the caller is none."""
        try:
            return self._authorizer.check(context.auth_context())
        except PeerNotAuthorized as exc:
            self._node.audit.record(
                AuditEvent.PEER_REFUSED,
                AuditOutcome.REJECTED,
                peer=context.peer(),
                method=method,
                reason=str(exc),
            )
            log.warning("refused %s from %s: %s", method, context.peer(), exc)
            _abort(context, exc)

    def _sealed_call(
        self, method: str, request: pb.SealedEnvelope, context: grpc.ServicerContext
    ) -> pb.SealedEnvelope:
        partner = self._authorize(context, method)
        handler = self._handlers[partner].get(method)
        if handler is None:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{method} is not offered by this node")
        try:
            return handler.handle(request)
        except ExchangeError as exc:
            log.info("%s refused: %s", method, type(exc).__name__)
            _abort(context, exc)

    def Ping(self, request: pb.PingRequest, context: grpc.ServicerContext) -> pb.PingResponse:  # noqa: N802
        partner = self._authorize(context, "Ping")
        return answer_ping(self._links[partner], request)

    def Identify(  # noqa: N802
        self, request: pb.SealedEnvelope, context: grpc.ServicerContext
    ) -> pb.SealedEnvelope:
        return self._sealed_call("Identify", request, context)

    def RequestDetails(  # noqa: N802
        self, request: pb.SealedEnvelope, context: grpc.ServicerContext
    ) -> pb.SealedEnvelope:
        return self._sealed_call("RequestDetails", request, context)

    def AuditDigest(  # noqa: N802
        self, request: pb.SealedEnvelope, context: grpc.ServicerContext
    ) -> pb.SealedEnvelope:
        return self._sealed_call("AuditDigest", request, context)

    def ExchangeAggregates(  # noqa: N802
        self, request: pb.SealedEnvelope, context: grpc.ServicerContext
    ) -> pb.SealedEnvelope:
        return self._sealed_call("ExchangeAggregates", request, context)
