"""A transport straight into a partner's handlers, in this process.

For simulations and socket-free tests: the same wire messages as gRPC carries,
and the same error mapping (a refusal becomes the status the partner would see,
then the error the caller's ``rpc.error`` makes of it).
"""

from __future__ import annotations

from typing import TypeVar

from google.protobuf.message import Message

from biometric_exchange.exceptions import ExchangeError
from biometric_exchange.node.rpc import Rpc
from biometric_exchange.node.serve import PartnerHandlers
from biometric_exchange.node.status import status_for

Request = TypeVar("Request", bound=Message)
Reply = TypeVar("Reply", bound=Message)


class InMemoryPeerTransport:
    """Calls the partner's handlers in-process, with the same wire messages and the
    same error mapping as gRPC: for simulations and socket-free tests.

    ``holder`` is the partner's handlers for the link that names us."""

    def __init__(self, holder: PartnerHandlers) -> None:
        self._holder = holder

    def call(self, rpc: Rpc[Request, Reply], request: Request, *, timeout: float) -> Reply:
        try:
            return self._holder.handle(rpc, request)
        except ExchangeError as exc:
            code, message = status_for(exc)
            raise rpc.error(code, message) from exc

    def close(self) -> None:
        """Nothing to release."""
