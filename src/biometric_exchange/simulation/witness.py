"""A transport that opens a copy of each sealed request and reply for the ``Wire``.

The request is opened with the holder's link to the caller, the reply with
the caller's link, as each recipient would, but without the replay check and
without recording anything (``node.inner``): the call itself goes through
unchanged. Clear calls (``Ping``) are tallied as they are.
"""

from __future__ import annotations

from typing import TypeVar

from google.protobuf.message import Message

from biometric_exchange.crypto.envelope import read_header
from biometric_exchange.exceptions import InvalidEnvelope
from biometric_exchange.node.inner import read_reply, read_request
from biometric_exchange.node.ledger import REPLY, REQUEST
from biometric_exchange.node.link import Link
from biometric_exchange.node.rpc import Rpc
from biometric_exchange.node.transport import PeerTransport
from biometric_exchange.simulation.wire import Wire
from biometric_exchange.v1 import exchange_pb2 as pb

Request = TypeVar("Request", bound=Message)
Reply = TypeVar("Reply", bound=Message)


class WitnessTransport:
    """Wraps ``inner``; ``caller`` is our link to the partner, ``holder`` the partner's
    link to us."""

    def __init__(self, inner: PeerTransport, caller: Link, holder: Link, wire: Wire) -> None:
        self._inner = inner
        self._caller = caller
        self._holder = holder
        self._wire = wire

    def call(self, rpc: Rpc[Request, Reply], request: Request, *, timeout: float) -> Reply:
        request_id = self._see(rpc, REQUEST, request, "")
        reply = self._inner.call(rpc, request, timeout=timeout)
        self._see(rpc, REPLY, reply, request_id)
        return reply

    def _see(self, rpc: Rpc[Request, Reply], direction: str, message: Message, to: str) -> str:
        """Tally the message (opened when sealed); return a sealed message's id."""
        inner: Message = message
        message_id = ""
        try:
            if rpc.sealing is not None and isinstance(message, pb.SealedEnvelope):
                message_id = read_header(message).message_id
                if direction == REQUEST:
                    inner = read_request(self._holder, rpc.sealing, message)
                else:
                    inner = read_reply(self._caller, rpc.sealing, message, to)
        except InvalidEnvelope:
            self._wire.unopened += 1
            return message_id
        caller, holder = self._caller.node.country, self._caller.code
        self._wire.observe(rpc.name, direction, caller, holder, inner)
        return message_id

    def close(self) -> None:
        self._inner.close()
