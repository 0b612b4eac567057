"""Wiring two opened nodes together in one process, as the simulations do."""

from __future__ import annotations

from typing import TypeVar

from google.protobuf.message import Message

from biometric_exchange.exceptions import PartnerUnavailable
from biometric_exchange.node.rpc import Rpc
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.send.worker import ExchangeWorker
from biometric_exchange.node.serve import PartnerHandlers
from biometric_exchange.node.serve.local import InMemoryPeerTransport
from biometric_exchange.node.services import Services
from biometric_exchange.node.transport import PeerTransport

Request = TypeVar("Request", bound=Message)
Reply = TypeVar("Reply", bound=Message)


def handlers(holder: Node, caller: str, services: Services | None = None) -> PartnerHandlers:
    """``holder``'s handlers for calls from ``caller``, under their agreement."""
    return PartnerHandlers(holder.link(caller), services or Services.of(holder))


def in_memory(holder: Node, caller: str, services: Services | None = None) -> InMemoryPeerTransport:
    """A transport from ``caller`` straight into ``holder``'s handlers."""
    return InMemoryPeerTransport(handlers(holder, caller, services))


def worker(
    sender: Node, holder: Node | None = None, *, transport: PeerTransport | None = None
) -> ExchangeWorker:
    """``sender``'s exchange worker reaching ``holder`` in-process (or by ``transport``)."""
    if transport is None:
        assert holder is not None
        transport = in_memory(holder, sender.country)
    partner = holder.country if holder is not None else sender.partner_codes[0]
    return ExchangeWorker(sender, Services.of(sender), {partner: transport})


class Unreachable:
    """A transport to a partner that cannot be reached: every call is unavailable."""

    def call(self, rpc: Rpc[Request, Reply], request: Request, *, timeout: float) -> Reply:
        raise PartnerUnavailable(f"partner unavailable: UNAVAILABLE ({rpc.name} in a test)")

    def close(self) -> None:
        """Nothing to release."""
