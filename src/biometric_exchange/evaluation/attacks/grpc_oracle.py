"""A real holder as the oracle: sealed Identify requests over the link's transport.

Each request is sealed, sent, opened and audited on the asking side exactly as
the exchange worker does it (``round_trip``). From the reply only whether a
probe hit is read (its hit references), and a confidence band where the
agreement gives one: the wire carries nothing finer.
A refused request becomes ``Refused`` with the holder's status code.
"""

from __future__ import annotations

import itertools

import grpc

from biometric_exchange.evaluation.attacks.oracle import Matrix, ProbeAnswer, Refused
from biometric_exchange.evaluation.attacks.query import identify_query
from biometric_exchange.exceptions import ExchangeError
from biometric_exchange.node.link import Link
from biometric_exchange.node.rpc import IDENTIFY
from biometric_exchange.node.send.round_trip import round_trip
from biometric_exchange.node.status import RemoteRefusal
from biometric_exchange.node.transport import PeerTransport
from biometric_exchange.serde.identify import (
    HitOut,
    identify_request_to_bytes,
    identify_response_from_bytes,
)


def status_code(error: ExchangeError) -> str:
    """The holder's gRPC status behind a failed call (the error's name without one)."""
    if isinstance(error, RemoteRefusal):
        return error.code.name
    cause = error.__cause__
    if isinstance(cause, grpc.RpcError):
        return str(cause.code().name)
    return type(error).__name__


def _answer(hits: list[HitOut]) -> ProbeAnswer:
    """Hit or not, and the first hit's band where the agreement gives bands."""
    band = next((hit.confidence for hit in hits), "") or None
    return ProbeAnswer(hit=any(hit.hit_reference for hit in hits), band=band)


class GrpcOracle:
    """Asks the partner of ``link`` through ``transport``; probe refs ``ATK-<n>``."""

    def __init__(self, link: Link, transport: PeerTransport) -> None:
        self._link = link
        self._transport = transport
        self._numbers = itertools.count(1)

    def ask(self, templates: Matrix) -> list[ProbeAnswer] | Refused:
        refs = [f"ATK-{next(self._numbers):09d}" for _ in range(len(templates))]
        query = identify_query(self._link, templates, refs)
        try:
            results = round_trip(
                self._link,
                self._transport,
                IDENTIFY,
                identify_request_to_bytes(query),
                identify_response_from_bytes,
                sent={"purpose": query.purpose, "probes": len(refs)},
                summary=lambda found: {"hits": sum(1 for hits in found.values() if hits)},
            )
        except ExchangeError as exc:
            return Refused(status_code(exc), str(exc))
        return [_answer(results.get(ref, [])) for ref in refs]
