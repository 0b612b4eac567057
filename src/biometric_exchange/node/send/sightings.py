"""Telling a partner, after its hits and only for them, where and when we saw its
subjects: the context its alert needs, which no probe carries."""

from __future__ import annotations

from biometric_exchange.node.link import Link
from biometric_exchange.node.rpc import REPORT_SIGHTINGS
from biometric_exchange.node.send.round_trip import round_trip
from biometric_exchange.node.transport import PeerTransport
from biometric_exchange.serde.sightings import (
    Sighting,
    sightings_request_to_bytes,
    sightings_response_from_bytes,
)


def report_sightings(link: Link, transport: PeerTransport, sightings: list[Sighting]) -> int:
    """Send ``sightings`` to ``link``'s partner; how many it recorded."""
    return round_trip(
        link,
        transport,
        REPORT_SIGHTINGS,
        sightings_request_to_bytes(sightings),
        sightings_response_from_bytes,
        sent={"sightings": len(sightings)},
        summary=lambda recorded: {"recorded": recorded},
    )
