"""The answering side: one handler per RPC, bound to the partner it serves.

``HANDLERS`` pairs each row of ``node.rpc.RPCS`` with the factory of its
handler; ``PartnerHandlers`` holds one partner's handlers and answers a wire
request with a wire reply (raising ``ExchangeError`` to refuse). The gRPC
servicer (``node.server``) and the in-process transport (``node.transport``)
both call it, so the two serve exactly the same logic.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar, cast

from google.protobuf.message import Message

from biometric_exchange.node.link import Link
from biometric_exchange.node.rpc import (
    AUDIT_DIGEST,
    BLIND_IDENTIFY,
    BLIND_REVEAL,
    EXCHANGE_AGGREGATES,
    IDENTIFY,
    PING,
    REPORT_SIGHTINGS,
    REQUEST_DETAILS,
    RPCS,
    Rpc,
)
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.serve.aggregates import AggregatesHandler
from biometric_exchange.node.serve.blind_identify import BlindIdentifyHandler
from biometric_exchange.node.serve.blind_reveal import BlindRevealHandler
from biometric_exchange.node.serve.details import DetailsHandler
from biometric_exchange.node.serve.digest import AuditDigestHandler
from biometric_exchange.node.serve.identify import IdentifyHandler
from biometric_exchange.node.serve.ping import PingHandler
from biometric_exchange.node.serve.sightings import SightingsHandler
from biometric_exchange.node.services import Services

Request = TypeVar("Request", bound=Message)
Reply = TypeVar("Reply", bound=Message)


class Handler(Protocol):
    """Plain logic behind one RPC: a wire request in, a wire reply out."""

    def handle(self, request: Any, /) -> Message: ...


HandlerFactory = Callable[[Link, Services], Handler]

HANDLERS: Mapping[str, HandlerFactory] = {
    PING.name: lambda link, _services: PingHandler(link),
    IDENTIFY.name: IdentifyHandler,
    REQUEST_DETAILS.name: lambda link, _services: DetailsHandler(link),
    AUDIT_DIGEST.name: lambda link, _services: AuditDigestHandler(link),
    EXCHANGE_AGGREGATES.name: lambda link, _services: AggregatesHandler(link),
    REPORT_SIGHTINGS.name: lambda link, _services: SightingsHandler(link),
    BLIND_IDENTIFY.name: BlindIdentifyHandler,
    BLIND_REVEAL.name: BlindRevealHandler,
}
"""Each RPC's handler, by method name (every row of ``RPCS`` has one)."""


class PartnerHandlers:
    """Every RPC's handler for one partner, under our agreement with them."""

    def __init__(self, link: Link, services: Services) -> None:
        self.link = link
        self._handlers = {rpc.name: HANDLERS[rpc.name](link, services) for rpc in RPCS}

    def handle(self, rpc: Rpc[Request, Reply], request: Request) -> Reply:
        """Answer ``request`` (raise ``ExchangeError`` to refuse it)."""
        return cast(Reply, self._handlers[rpc.name].handle(request))


class PartnerHandlerTable:
    """Each partner's handlers, following the node's links as they are reloaded.

    A partner's handlers are built for its current link and kept while the link
    stays the same object; a new agreement with them builds new ones on their
    next call, and a partner we no longer hold an agreement with is refused
    (``PeerNotAuthorized``) by ``node.link``.
    """

    def __init__(self, node: Node, services: Services) -> None:
        self._node = node
        self._services = services
        self._by_partner: dict[str, PartnerHandlers] = {}
        self._lock = threading.Lock()
        for code in node.partner_codes:
            self.for_partner(code)

    def for_partner(self, partner: str) -> PartnerHandlers:
        """The handlers serving ``partner`` under the agreement we hold now."""
        link = self._node.link(partner)
        handlers = self._by_partner.get(partner)
        if handlers is not None and handlers.link is link:
            return handlers
        with self._lock:
            handlers = self._by_partner.get(partner)
            if handlers is None or handlers.link is not link:
                handlers = PartnerHandlers(link, self._services)
                held = set(self._node.partner_codes)
                kept = {code: h for code, h in self._by_partner.items() if code in held}
                self._by_partner = {**kept, partner: handlers}
        return handlers
