"""A transport that counts what crosses the border: calls and envelope bytes per call kind.

It wraps any ``PeerTransport`` and changes nothing: the same envelopes go
through, the same errors come back. Sizes are the serialized protobuf
envelopes (header, ciphertext, signature), as gRPC would carry them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from biometric_exchange.node.transport import PeerTransport
from biometric_exchange.v1 import exchange_pb2 as pb


@dataclass
class Tally:
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
    """``PeerTransport`` that tallies each call into ``tally``."""

    def __init__(self, inner: PeerTransport, tally: Tally) -> None:
        self._inner = inner
        self.tally = tally

    def _sealed(
        self,
        kind: str,
        call: Callable[..., pb.SealedEnvelope],
        envelope: pb.SealedEnvelope,
        timeout: float,
    ) -> pb.SealedEnvelope:
        self.tally.calls[kind] += 1
        self.tally.bytes_sent[kind] += envelope.ByteSize()
        reply = call(envelope, timeout=timeout)
        self.tally.bytes_received[kind] += reply.ByteSize()
        return reply

    def identify(self, envelope: pb.SealedEnvelope, *, timeout: float) -> pb.SealedEnvelope:
        return self._sealed("identify", self._inner.identify, envelope, timeout)

    def request_details(self, envelope: pb.SealedEnvelope, *, timeout: float) -> pb.SealedEnvelope:
        return self._sealed("details", self._inner.request_details, envelope, timeout)

    def exchange_aggregates(
        self, envelope: pb.SealedEnvelope, *, timeout: float
    ) -> pb.SealedEnvelope:
        return self._sealed("aggregates", self._inner.exchange_aggregates, envelope, timeout)

    def ping(self, request: pb.PingRequest, *, timeout: float) -> pb.PingResponse:
        self.tally.calls["ping"] += 1
        self.tally.bytes_sent["ping"] += request.ByteSize()
        reply = self._inner.ping(request, timeout=timeout)
        self.tally.bytes_received["ping"] += reply.ByteSize()
        return reply

    def close(self) -> None:
        self._inner.close()
