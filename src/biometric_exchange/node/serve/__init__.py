"""The answering side: one handler per RPC, bound to the partner it serves.

``HANDLERS`` pairs each row of ``node.rpc.RPCS`` with the factory of its
handler; ``PartnerHandlers`` holds one partner's handlers and answers a wire
request with a wire reply (raising ``ExchangeError`` to refuse). The gRPC
servicer (``node.server``) and the in-process transport (``node.transport``)
both call it, so the two serve exactly the same logic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar, cast

from google.protobuf.message import Message

from biometric_exchange.node.link import Link
from biometric_exchange.node.rpc import (
    AUDIT_DIGEST,
    EXCHANGE_AGGREGATES,
    IDENTIFY,
    PING,
    REPORT_SIGHTINGS,
    REQUEST_DETAILS,
    RPCS,
    Rpc,
)
from biometric_exchange.node.serve.aggregates import AggregatesHandler
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


def handlers_by_partner(node_links: list[Link], services: Services) -> dict[str, PartnerHandlers]:
    """One ``PartnerHandlers`` per link, by partner code."""
    return {link.code: PartnerHandlers(link, services) for link in node_links}
