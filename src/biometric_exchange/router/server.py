"""The router as a gRPC server: the ``Exchange`` service of the RPC table, mutual TLS
with every member's pinned CA, each call forwarded through ``Router``.

Members call it exactly as they call a partner (same methods, same sealed
envelopes), naming the partner in ``bx-route-to``; it calls the partner with its
own certificate, naming the member in ``bx-routed-for``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import grpc
from google.protobuf.message import DecodeError, Message

from biometric_exchange.crypto import pki
from biometric_exchange.exceptions import (
    ConfigError,
    ExchangeError,
    InvalidInput,
    PeerNotAuthorized,
)
from biometric_exchange.node.membership import ROUTE_TO, ROUTED_FOR
from biometric_exchange.node.rpc import Methods, Rpc, client_methods, service_handler
from biometric_exchange.node.status import status_for
from biometric_exchange.node.tls import (
    SERVER_OPTIONS,
    IssuerIndex,
    channel_options,
    peer_certificate,
)
from biometric_exchange.router.config import RouterConfig, RouterKeys
from biometric_exchange.router.forward import HolderStatus, Router, router_status
from biometric_exchange.store.audit import AuditEvent, AuditOutcome

log = logging.getLogger(__name__)
Request = TypeVar("Request", bound=Message)
Reply = TypeVar("Reply", bound=Message)
ROUTER_THREADS = 16


class MemberAuthorizer:
    """The member whose pinned CA issued the caller's certificate."""

    def __init__(self, config: RouterConfig) -> None:
        self._issuers = IssuerIndex(
            {
                code: pki.load_certificate(member.ca_certificate.encode())
                for code, member in config.members.items()
            }
        )

    def check(self, context: grpc.ServicerContext) -> str:
        pem = peer_certificate(context.auth_context())
        if not pem:
            raise PeerNotAuthorized("no client certificate")
        member = self._issuers.issuer(pem)
        if member is None:
            raise PeerNotAuthorized("client certificate not issued by a member's CA")
        return member


class GrpcHolders:
    """``onward`` over mutual TLS: one channel per holder, the member named in metadata."""

    def __init__(self, config: RouterConfig, keys: RouterKeys) -> None:
        self._config = config
        self._keys = keys
        self._channels: dict[str, grpc.Channel] = {}
        self._methods: dict[str, Methods] = {}
        self._lock = threading.Lock()

    def _holder_methods(self, holder: str) -> Methods:
        with self._lock:
            methods = self._methods.get(holder)
            if methods is None:
                member = self._config.members[holder]
                credentials = grpc.ssl_channel_credentials(
                    root_certificates=member.ca_certificate.encode(),
                    private_key=self._keys.tls_key_pem,
                    certificate_chain=self._keys.tls_certificate_pem,
                )
                channel = grpc.secure_channel(
                    member.endpoint, credentials, options=channel_options()
                )
                self._channels[holder] = channel
                methods = self._methods[holder] = client_methods(channel)
            return methods

    def __call__(self, holder: str, member: str) -> GrpcHolder:
        return GrpcHolder(self._holder_methods(holder), member)

    def close(self) -> None:
        with self._lock:
            for channel in self._channels.values():
                channel.close()
            self._channels = {}


class GrpcHolder:
    """One holder's client stubs, calling on one member's behalf."""

    def __init__(self, methods: Methods, member: str) -> None:
        self._methods = methods
        self._metadata = ((ROUTED_FOR, member),)

    def call(self, rpc: Rpc[Request, Reply], request: Request, *, timeout: float) -> Reply:
        method = self._methods[rpc.name]
        try:
            reply: Reply = method(request, timeout=timeout, metadata=self._metadata)
        except grpc.RpcError as exc:
            raise HolderStatus(exc.code(), exc.details() or "") from exc
        return reply

    def close(self) -> None:
        """The channel is the router's, closed when it stops."""


def _abort(context: grpc.ServicerContext, code: grpc.StatusCode, message: str) -> NoReturn:
    context.abort(code, message)
    raise AssertionError("unreachable")  # pragma: no cover - abort raises


class RouterServicer:
    """Every method of the RPC table: authenticate the member, forward, relay."""

    def __init__(self, router: Router, authorizer: MemberAuthorizer) -> None:
        self._router = router
        self._authorizer = authorizer

    def generic_handler(self) -> grpc.GenericRpcHandler[Any, Any]:
        return service_handler(self._behaviour)

    def _behaviour(self, rpc: Rpc[Any, Any]) -> Callable[[bytes, grpc.ServicerContext], Message]:
        def behaviour(data: bytes, context: grpc.ServicerContext) -> Message:
            try:
                member = self._authorizer.check(context)
            except PeerNotAuthorized as exc:
                self._router.audit.record(
                    AuditEvent.ROUTE_REFUSED,
                    AuditOutcome.REJECTED,
                    peer=context.peer(),
                    method=rpc.name,
                    reason=str(exc),
                )
                _abort(context, *status_for(exc))
            route_to = [str(v) for k, v in context.invocation_metadata() if k == ROUTE_TO]
            try:
                request = rpc.request.FromString(data)
            except DecodeError:
                _abort(context, *status_for(InvalidInput("undecodable")))
            try:
                reply: Message = self._router.forward(
                    member, route_to[0] if len(route_to) == 1 else "", rpc, request
                )
            except HolderStatus as exc:
                _abort(context, exc.code, exc.message)
            except ExchangeError as exc:
                log.info("%s from %s refused: %s", rpc.name, member, type(exc).__name__)
                _abort(context, *router_status(exc))
            return reply

        return behaviour


@dataclass
class RunningRouter:
    server: grpc.Server
    port: int
    holders: GrpcHolders

    def stop(self, grace: float = 1.0) -> None:
        self.server.stop(grace).wait()
        self.holders.close()


def start_router(
    config: RouterConfig,
    keys: RouterKeys,
    router_factory: Callable[[GrpcHolders], Router],
    *,
    listen: str | None = None,
) -> RunningRouter:
    """Bind ``listen`` (default: the configured address) with mutual TLS and serve."""
    holders = GrpcHolders(config, keys)
    router = router_factory(holders)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=ROUTER_THREADS, thread_name_prefix="router"),
        options=list(SERVER_OPTIONS),
    )
    server.add_generic_rpc_handlers(
        (RouterServicer(router, MemberAuthorizer(config)).generic_handler(),)
    )
    roots = b"\n".join(m.ca_certificate.encode() for m in config.members.values())
    credentials = grpc.ssl_server_credentials(
        [(keys.tls_key_pem, keys.tls_certificate_pem)],
        root_certificates=roots,
        require_client_auth=True,
    )
    address = listen or config.listen
    try:
        port = server.add_secure_port(address, credentials)
    except RuntimeError as exc:
        raise ConfigError(f"cannot listen on {address}: the port is in use or unavailable") from exc
    if port == 0:
        raise ConfigError(f"cannot listen on {address}: the port is in use or unavailable")
    server.start()
    return RunningRouter(server, port, holders)
