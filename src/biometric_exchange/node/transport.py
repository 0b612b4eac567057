"""How a node reaches its partner: gRPC over mutual TLS.

``PeerTransport`` is the seam: simulations swap in an in-memory transport
that calls the partner's handlers directly, with the same envelopes.
"""

from __future__ import annotations

from typing import Protocol

import grpc

from biometric_exchange.exceptions import ExchangeError
from biometric_exchange.node.details import DetailsHandler
from biometric_exchange.node.identify import IdentifyHandler
from biometric_exchange.node.ping import answer_ping
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.servicer import EnvelopeHandler
from biometric_exchange.node.status import RemoteRefusal, error_from_status, status_for
from biometric_exchange.node.tls import channel_credentials, channel_options
from biometric_exchange.surge.aggregates import AggregatesHandler
from biometric_exchange.v1 import exchange_pb2 as pb
from biometric_exchange.v1 import exchange_pb2_grpc as pb_grpc


class PeerTransport(Protocol):
    def identify(self, envelope: pb.SealedEnvelope, *, timeout: float) -> pb.SealedEnvelope: ...

    def ping(self, request: pb.PingRequest, *, timeout: float) -> pb.PingResponse: ...

    def request_details(
        self, envelope: pb.SealedEnvelope, *, timeout: float
    ) -> pb.SealedEnvelope: ...

    def exchange_aggregates(
        self, envelope: pb.SealedEnvelope, *, timeout: float
    ) -> pb.SealedEnvelope: ...

    def close(self) -> None: ...


def details_error(code: grpc.StatusCode, details: str) -> ExchangeError:
    """Like ``error_from_status``, but an exhausted step-2 quota is a refusal: asking
    again today cannot succeed, so the requester records it instead of retrying."""
    if code is grpc.StatusCode.RESOURCE_EXHAUSTED:
        return RemoteRefusal(code, details)
    return error_from_status(code, details)


class GrpcPeerTransport:
    """A mutual-TLS channel to the partner's endpoint from the agreement."""

    def __init__(self, node: Node, *, endpoint: str | None = None) -> None:
        partner = node.partner
        self.endpoint = endpoint or partner.endpoint
        self._channel = grpc.secure_channel(
            self.endpoint,
            channel_credentials(node, partner.ca_certificate.encode()),
            options=channel_options(),
        )
        self._stub = pb_grpc.ExchangeStub(self._channel)

    def identify(self, envelope: pb.SealedEnvelope, *, timeout: float) -> pb.SealedEnvelope:
        try:
            return self._stub.Identify(envelope, timeout=timeout)
        except grpc.RpcError as exc:
            raise error_from_status(exc.code(), exc.details() or "") from exc

    def ping(self, request: pb.PingRequest, *, timeout: float) -> pb.PingResponse:
        try:
            return self._stub.Ping(request, timeout=timeout)
        except grpc.RpcError as exc:
            raise error_from_status(exc.code(), exc.details() or "") from exc

    def request_details(self, envelope: pb.SealedEnvelope, *, timeout: float) -> pb.SealedEnvelope:
        try:
            return self._stub.RequestDetails(envelope, timeout=timeout)
        except grpc.RpcError as exc:
            raise details_error(exc.code(), exc.details() or "") from exc

    def exchange_aggregates(
        self, envelope: pb.SealedEnvelope, *, timeout: float
    ) -> pb.SealedEnvelope:
        try:
            return self._stub.ExchangeAggregates(envelope, timeout=timeout)
        except grpc.RpcError as exc:
            raise error_from_status(exc.code(), exc.details() or "") from exc

    def close(self) -> None:
        self._channel.close()


class InMemoryPeerTransport:
    """Calls the partner's handlers in-process, with the same envelopes and the
    same error mapping as gRPC: for simulations and socket-free tests."""

    def __init__(
        self,
        partner: Node,
        handler: IdentifyHandler,
        *,
        details_handler: EnvelopeHandler | None = None,
        aggregates_handler: EnvelopeHandler | None = None,
    ) -> None:
        self._partner = partner
        self._handler = handler
        self._details_handler = details_handler or DetailsHandler(partner)
        self._aggregates_handler = aggregates_handler or AggregatesHandler(partner)

    def identify(self, envelope: pb.SealedEnvelope, *, timeout: float) -> pb.SealedEnvelope:
        try:
            return self._handler.handle(envelope)
        except ExchangeError as exc:
            code, message = status_for(exc)
            raise error_from_status(code, message) from exc

    def ping(self, request: pb.PingRequest, *, timeout: float) -> pb.PingResponse:
        return answer_ping(self._partner, request)

    def request_details(self, envelope: pb.SealedEnvelope, *, timeout: float) -> pb.SealedEnvelope:
        try:
            return self._details_handler.handle(envelope)
        except ExchangeError as exc:
            code, message = status_for(exc)
            raise details_error(code, message) from exc

    def exchange_aggregates(
        self, envelope: pb.SealedEnvelope, *, timeout: float
    ) -> pb.SealedEnvelope:
        try:
            return self._aggregates_handler.handle(envelope)
        except ExchangeError as exc:
            code, message = status_for(exc)
            raise error_from_status(code, message) from exc

    def close(self) -> None:
        """Nothing to release."""
