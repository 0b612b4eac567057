"""How a node reaches a partner: one ``call(rpc, request)`` for every method.

``PeerTransport`` is the seam. ``GrpcPeerTransport`` is a mutual-TLS channel
to the partner's endpoint with one callable per row of ``RPCS``;
``serve.local.InMemoryPeerTransport`` calls the partner's handlers in this
process (for simulations and socket-free tests) with the same wire messages
and the same error mapping; ``MeteredTransport`` wraps any transport and
tallies calls and bytes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import grpc
from google.protobuf.message import Message

from biometric_exchange.node.link import Link
from biometric_exchange.node.rpc import Rpc, client_methods
from biometric_exchange.node.tls import channel_credentials, channel_options

Request = TypeVar("Request", bound=Message)
Reply = TypeVar("Reply", bound=Message)


class PeerTransport(Protocol):
    def call(self, rpc: Rpc[Request, Reply], request: Request, *, timeout: float) -> Reply:
        """Send ``request`` by ``rpc``; return the reply, or raise what ``rpc.error``
        makes of an error status."""
        ...

    def close(self) -> None: ...


class GrpcPeerTransport:
    """A mutual-TLS channel to the partner's endpoint from the agreement."""

    def __init__(self, link: Link, *, endpoint: str | None = None) -> None:
        partner = link.partner
        self.endpoint = endpoint or partner.endpoint
        self._channel = grpc.secure_channel(
            self.endpoint,
            channel_credentials(link.node, partner.ca_certificate.encode()),
            options=channel_options(),
        )
        self._methods = client_methods(self._channel)

    def call(self, rpc: Rpc[Request, Reply], request: Request, *, timeout: float) -> Reply:
        try:
            reply: Reply = self._methods[rpc.name](request, timeout=timeout)
        except grpc.RpcError as exc:
            raise rpc.error(exc.code(), exc.details() or "") from exc
        return reply

    def close(self) -> None:
        self._channel.close()


@dataclass
class Tally:
    """Calls and serialized message bytes per method (the ``meter`` name of its row)."""

    calls: Counter[str] = field(default_factory=Counter)
    bytes_sent: Counter[str] = field(default_factory=Counter)
    bytes_received: Counter[str] = field(default_factory=Counter)

    def add(self, other: Tally) -> None:
        self.calls.update(other.calls)
        self.bytes_sent.update(other.bytes_sent)
        self.bytes_received.update(other.bytes_received)

    def as_dict(self) -> dict[str, dict[str, int]]:
        kinds = sorted(set(self.calls) | set(self.bytes_sent))
        return {
            kind: {
                "calls": self.calls[kind],
                "bytes_sent": self.bytes_sent[kind],
                "bytes_received": self.bytes_received[kind],
            }
            for kind in kinds
        }


class MeteredTransport:
    """A ``PeerTransport`` that tallies each call into ``tally`` and changes nothing:
    the same messages go through, the same errors come back. Sizes are the
    serialized messages (for sealed calls: header, ciphertext, signature), as
    gRPC carries them."""

    def __init__(self, inner: PeerTransport, tally: Tally) -> None:
        self._inner = inner
        self.tally = tally

    def call(self, rpc: Rpc[Request, Reply], request: Request, *, timeout: float) -> Reply:
        self.tally.calls[rpc.meter] += 1
        self.tally.bytes_sent[rpc.meter] += request.ByteSize()
        reply = self._inner.call(rpc, request, timeout=timeout)
        self.tally.bytes_received[rpc.meter] += reply.ByteSize()
        return reply

    def close(self) -> None:
        self._inner.close()
