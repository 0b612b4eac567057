"""The router in this process: members reach it, and it reaches the holders' handlers,
without sockets (simulations and socket-free tests), with the same messages and the
same status codes as over gRPC."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from google.protobuf.message import Message

from biometric_exchange.exceptions import ExchangeError
from biometric_exchange.node.rpc import Rpc
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.serve import PartnerHandlers
from biometric_exchange.node.services import Services
from biometric_exchange.node.status import status_for
from biometric_exchange.router.forward import HolderStatus, Router, router_status

Request = TypeVar("Request", bound=Message)
Reply = TypeVar("Reply", bound=Message)


class LocalHolder:
    """One holder's handlers for one member, as the router reaches them in-process."""

    def __init__(self, handlers: PartnerHandlers) -> None:
        self._handlers = handlers

    def call(self, rpc: Rpc[Request, Reply], request: Request, *, timeout: float) -> Reply:
        try:
            return self._handlers.handle(rpc, request)
        except ExchangeError as exc:
            raise HolderStatus(*status_for(exc)) from exc

    def close(self) -> None:
        """Nothing to release."""


class LocalHolders:
    """``onward`` for a ``Router`` over nodes opened in this process."""

    def __init__(self, nodes: Mapping[str, Node], services: Mapping[str, Services]) -> None:
        self._nodes = nodes
        self._services = services
        self._made: dict[tuple[str, str], LocalHolder] = {}

    def __call__(self, holder: str, member: str) -> LocalHolder:
        made = self._made.get((holder, member))
        if made is None:
            link = self._nodes[holder].link(member)
            made = LocalHolder(PartnerHandlers(link, self._services[holder]))
            self._made[(holder, member)] = made
        return made


class RoutedTransport:
    """A member's ``PeerTransport`` to one partner, through an in-process router."""

    def __init__(self, router: Router, member: str, partner: str) -> None:
        self._router = router
        self._member = member
        self._partner = partner

    def call(self, rpc: Rpc[Request, Reply], request: Request, *, timeout: float) -> Reply:
        try:
            return self._router.forward(self._member, self._partner, rpc, request)
        except HolderStatus as exc:
            raise rpc.error(exc.code, exc.message) from exc
        except ExchangeError as exc:
            raise rpc.error(*router_status(exc)) from exc

    def close(self) -> None:
        """Nothing to release."""
