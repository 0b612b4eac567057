"""The table of RPCs: what each method of the ``Exchange`` service carries and records.

One ``Rpc`` per method: its name on the wire, its request and reply classes,
for sealed methods the inner message types and the four audit events (the
caller's send and receipt, the holder's receipt and reply), for the clear
``Ping`` the holder's counted audit event, and the status
codes a caller treats as a final refusal rather than a reason to retry. The
gRPC servicer and client, the in-process and the metering transports are all
built from ``RPCS``, so adding a method is one row here, one handler
(``node.serve``) and one client function (``node.send``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import grpc
from google.protobuf.message import Message

from biometric_exchange.exceptions import ExchangeError
from biometric_exchange.node.status import RemoteRefusal, error_from_status
from biometric_exchange.store.audit import AuditEvent
from biometric_exchange.v1 import exchange_pb2 as pb

Request = TypeVar("Request", bound=Message)
Reply = TypeVar("Reply", bound=Message)

SERVICE = pb.DESCRIPTOR.services_by_name["Exchange"].full_name
"""``biometric_exchange.v1.Exchange``."""


@dataclass(frozen=True)
class Sealing:
    """A sealed method's inner message types and audit events, on each side."""

    request_type: pb.MessageType.ValueType
    reply_type: pb.MessageType.ValueType
    sent: AuditEvent
    """The caller records its request."""
    reply_received: AuditEvent
    """The caller records the reply (or the failure)."""
    received: AuditEvent
    """The holder records the request (accepted or refused)."""
    reply_sent: AuditEvent
    """The holder records its reply."""


@dataclass(frozen=True)
class Rpc(Generic[Request, Reply]):
    """One method of the ``Exchange`` service: ``Request`` in, ``Reply`` out."""

    name: str
    request: type[Request]
    reply: type[Reply]
    meter: str
    """The name a metering transport tallies the calls under."""
    sealing: Sealing | None = None
    """None for a method that travels in clear over mutual TLS (``Ping``)."""
    refusals: frozenset[grpc.StatusCode] = frozenset()
    """Codes that end the call for good although they are retried elsewhere."""
    counted: AuditEvent | None = None
    """A clear method's audit event on the holder's side, counted per partner,
    outcome, reason and UTC hour (``store.call_counts``) rather than written per call."""

    @property
    def path(self) -> str:
        """The gRPC method path, ``/biometric_exchange.v1.Exchange/<name>``."""
        return f"/{SERVICE}/{self.name}"

    @property
    def sealed(self) -> Sealing:
        """The sealing of a sealed method (a programming error on ``Ping``)."""
        if self.sealing is None:
            raise TypeError(f"{self.name} is not a sealed method")
        return self.sealing

    def error(self, code: grpc.StatusCode, details: str) -> ExchangeError:
        """What the caller raises for the holder's error status."""
        if code in self.refusals:
            return RemoteRefusal(code, details)
        return error_from_status(code, details)


Sealed = Rpc[pb.SealedEnvelope, pb.SealedEnvelope]


def _sealed(
    name: str,
    meter: str,
    types: tuple[pb.MessageType.ValueType, pb.MessageType.ValueType],
    caller: tuple[AuditEvent, AuditEvent],
    holder: tuple[AuditEvent, AuditEvent],
    *,
    refusals: frozenset[grpc.StatusCode] = frozenset(),
) -> Sealed:
    """A sealed method: (request, reply) message types, the caller's (sent, reply
    received) and the holder's (received, reply sent) audit events."""
    sealing = Sealing(types[0], types[1], caller[0], caller[1], holder[0], holder[1])
    return Rpc(name, pb.SealedEnvelope, pb.SealedEnvelope, meter, sealing, refusals)


_E = AuditEvent
PING: Rpc[pb.PingRequest, pb.PingResponse] = Rpc(
    "Ping", pb.PingRequest, pb.PingResponse, "ping", counted=_E.PING_RECEIVED
)
IDENTIFY = _sealed(
    "Identify",
    "identify",
    (pb.MESSAGE_TYPE_IDENTIFY_REQUEST, pb.MESSAGE_TYPE_IDENTIFY_RESPONSE),
    (_E.IDENTIFY_SENT, _E.IDENTIFY_REPLY_RECEIVED),
    (_E.IDENTIFY_RECEIVED, _E.IDENTIFY_REPLY_SENT),
)
REQUEST_DETAILS = _sealed(
    "RequestDetails",
    "details",
    (pb.MESSAGE_TYPE_DETAILS_REQUEST, pb.MESSAGE_TYPE_DETAILS_RESPONSE),
    (_E.DETAILS_SENT, _E.DETAILS_REPLY_RECEIVED),
    (_E.DETAILS_RECEIVED, _E.DETAILS_REPLY_SENT),
    # An exhausted step-2 quota: asking again today cannot succeed, so the
    # requester records a refusal instead of retrying.
    refusals=frozenset({grpc.StatusCode.RESOURCE_EXHAUSTED}),
)
AUDIT_DIGEST = _sealed(
    "AuditDigest",
    "audit_digest",
    (pb.MESSAGE_TYPE_AUDIT_DIGEST_REQUEST, pb.MESSAGE_TYPE_AUDIT_DIGEST_RESPONSE),
    (_E.DIGEST_SENT, _E.DIGEST_RECEIVED),
    (_E.DIGEST_RECEIVED, _E.DIGEST_SENT),
)
EXCHANGE_AGGREGATES = _sealed(
    "ExchangeAggregates",
    "aggregates",
    (pb.MESSAGE_TYPE_AGGREGATES_REQUEST, pb.MESSAGE_TYPE_AGGREGATES_RESPONSE),
    (_E.AGGREGATES_SENT, _E.AGGREGATES_RECEIVED),
    (_E.AGGREGATES_RECEIVED, _E.AGGREGATES_SENT),
)
REPORT_SIGHTINGS = _sealed(
    "ReportSightings",
    "sightings",
    (pb.MESSAGE_TYPE_SIGHTINGS_REQUEST, pb.MESSAGE_TYPE_SIGHTINGS_RESPONSE),
    (_E.SIGHTINGS_SENT, _E.SIGHTINGS_REPLY_RECEIVED),
    (_E.SIGHTINGS_RECEIVED, _E.SIGHTINGS_REPLY_SENT),
)

BLIND_IDENTIFY = _sealed(
    "BlindIdentify",
    "blind_identify",
    (pb.MESSAGE_TYPE_BLIND_IDENTIFY_REQUEST, pb.MESSAGE_TYPE_BLIND_IDENTIFY_RESPONSE),
    # Audited as step 1 is: the same events, probes and commitments as Identify.
    (_E.IDENTIFY_SENT, _E.IDENTIFY_REPLY_RECEIVED),
    (_E.IDENTIFY_RECEIVED, _E.IDENTIFY_REPLY_SENT),
)
BLIND_REVEAL = _sealed(
    "BlindReveal",
    "blind_reveal",
    (pb.MESSAGE_TYPE_BLIND_REVEAL_REQUEST, pb.MESSAGE_TYPE_BLIND_REVEAL_RESPONSE),
    (_E.REVEAL_SENT, _E.REVEAL_REPLY_RECEIVED),
    (_E.REVEAL_RECEIVED, _E.REVEAL_REPLY_SENT),
)

RPCS: tuple[Rpc[Any, Any], ...] = (
    PING,
    IDENTIFY,
    REQUEST_DETAILS,
    AUDIT_DIGEST,
    EXCHANGE_AGGREGATES,
    REPORT_SIGHTINGS,
    BLIND_IDENTIFY,
    BLIND_REVEAL,
)
"""Every method of the service, in the order ``exchange.proto`` declares them."""

BY_NAME: dict[str, Rpc[Any, Any]] = {rpc.name: rpc for rpc in RPCS}

Behaviour = Callable[[bytes, grpc.ServicerContext], Message]
"""A server method: the request's bytes in (parsed by the method), the reply out."""


Methods = dict[str, "grpc.UnaryUnaryMultiCallable[Any, Any]"]
"""Client stubs by method name."""


def client_methods(channel: grpc.Channel) -> Methods:
    """One client stub per row of ``RPCS`` on ``channel``, keyed by method name."""
    return {
        rpc.name: channel.unary_unary(
            rpc.path,
            request_serializer=rpc.request.SerializeToString,
            response_deserializer=rpc.reply.FromString,
        )
        for rpc in RPCS
    }


def service_handler(
    behaviour: Callable[[Rpc[Any, Any]], Behaviour],
) -> grpc.GenericRpcHandler[Any, Any]:
    """The ``Exchange`` service as one gRPC handler: ``behaviour(rpc)`` for each row."""
    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            rpc.name: grpc.unary_unary_rpc_method_handler(
                behaviour(rpc),
                request_deserializer=None,
                response_serializer=rpc.reply.SerializeToString,
            )
            for rpc in RPCS
        },
    )
