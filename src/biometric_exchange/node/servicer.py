"""The thin gRPC servicer, built from the RPC table: authorize the peer, call its
handler, map errors.

The caller's certificate says which partner it is (each partner's CA is
pinned by our agreement with them); the call is handled under that
agreement, by that partner's handlers. Every row of ``RPCS`` becomes one
method of the ``Exchange`` service. Requests arrive as bytes and are parsed
here: bytes that are not the method's request are ``INVALID_ARGUMENT``, counted
as an unauthenticated refusal (``store.refusals``), never ``INTERNAL``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, NoReturn

import grpc
from google.protobuf.message import DecodeError, Message

from biometric_exchange.exceptions import ExchangeError, InvalidInput, PeerNotAuthorized
from biometric_exchange.node.routed import RouterCallers
from biometric_exchange.node.rpc import Rpc, service_handler
from biometric_exchange.node.serve import PartnerHandlerTable
from biometric_exchange.node.status import status_for
from biometric_exchange.node.tls import PartnerAuthorizer
from biometric_exchange.store.audit import AuditEvent, AuditLog, AuditOutcome
from biometric_exchange.store.refusals import RefusalCounts

log = logging.getLogger(__name__)


def _abort(context: grpc.ServicerContext, error: ExchangeError) -> NoReturn:
    code, message = status_for(error)
    if code is grpc.StatusCode.INTERNAL:
        log.error("internal error: %s", type(error).__name__)
    context.abort(code, message)
    raise AssertionError("unreachable")  # pragma: no cover - abort raises


class ExchangeServicer:
    """Dispatches every method of the service to the calling partner's handlers."""

    def __init__(
        self,
        handlers: PartnerHandlerTable,
        authorizer: PartnerAuthorizer,
        audit: AuditLog,
        refusals: RefusalCounts,
        router: RouterCallers | None = None,
    ) -> None:
        self._router = router
        """The federation router we accept forwarded calls from, if we are a member."""
        self._handlers = handlers
        self._authorizer = authorizer
        self._audit = audit
        self._refusals = refusals

    def generic_handler(self) -> grpc.GenericRpcHandler[Any, Any]:
        """The ``Exchange`` service as one gRPC handler, a method per row of ``RPCS``."""
        return service_handler(self._behaviour)

    def _behaviour(self, rpc: Rpc[Any, Any]) -> Callable[[bytes, grpc.ServicerContext], Message]:
        def behaviour(data: bytes, context: grpc.ServicerContext) -> Message:
            partner = self._authorize(context, rpc.name)
            request = self._parse(rpc, partner, data, context)
            try:
                reply: Message = self._handlers.for_partner(partner).handle(rpc, request)
            except ExchangeError as exc:
                log.info("%s refused: %s", rpc.name, type(exc).__name__)
                _abort(context, exc)
            return reply

        return behaviour

    def _parse(
        self, rpc: Rpc[Any, Any], partner: str, data: bytes, context: grpc.ServicerContext
    ) -> Message:
        """``data`` as the method's request; undecodable bytes are counted and refused."""
        try:
            request: Message = rpc.request.FromString(data)
        except DecodeError:
            reason = f"{rpc.name}: not a {rpc.request.DESCRIPTOR.name}"
            self._refusals.count(AuditEvent.REQUEST_UNDECODABLE, partner, reason)
            log.info("%s refused: undecodable request", rpc.name)
            _abort(context, InvalidInput(reason))
        return request

    def _authorize(self, context: grpc.ServicerContext, method: str) -> str:
        """The calling partner's code; aborts the call when the caller is none."""
        try:
            if self._router is not None:
                member = self._router.member(context.auth_context(), context.invocation_metadata())
                if member is not None:
                    return member
            return self._authorizer.check(context.auth_context())
        except PeerNotAuthorized as exc:
            self._audit.record(
                AuditEvent.PEER_REFUSED,
                AuditOutcome.REJECTED,
                peer=context.peer(),
                method=method,
                reason=str(exc),
            )
            log.warning("refused %s from %s: %s", method, context.peer(), exc)
            _abort(context, exc)
