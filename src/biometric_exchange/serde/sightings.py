"""Sightings on the wire: where and when the sender saw the subject of one of its hits."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.serde.common import (
    check_new_ref,
    check_text,
    from_ms,
    parse_message,
    to_bytes,
    to_ms,
)
from biometric_exchange.v1 import exchange_pb2 as pb


@dataclass(frozen=True)
class Sighting:
    hit_reference: str
    encounter_point: str
    encountered_at: dt.datetime


def sightings_request_to_bytes(sightings: list[Sighting]) -> bytes:
    return to_bytes(
        pb.SightingsRequest(
            sightings=[
                pb.Sighting(
                    hit_reference=s.hit_reference,
                    encounter_point=s.encounter_point,
                    encountered_at_ms=to_ms(s.encountered_at),
                )
                for s in sightings
            ]
        )
    )


def sightings_request_from_bytes(body: bytes, *, limit: int) -> list[Sighting]:
    """At most ``limit`` sightings, each naming a distinct reference."""
    message = parse_message(pb.SightingsRequest, body, "sightings request: not a valid message")
    if not 1 <= len(message.sightings) <= limit:
        raise InvalidInput(f"sightings: 1 to {limit} expected, got {len(message.sightings)}")
    sightings: list[Sighting] = []
    seen: set[str] = set()
    for index, sighting in enumerate(message.sightings):
        field_name = f"sightings[{index}]"
        reference = check_new_ref(sighting.hit_reference, f"{field_name}.hit_reference", seen)
        seen.add(reference)
        point = check_text(sighting.encounter_point, f"{field_name}.encounter_point")
        if not point:
            raise InvalidInput(f"{field_name}.encounter_point: required")
        sightings.append(
            Sighting(
                reference,
                point,
                from_ms(sighting.encountered_at_ms, f"{field_name}.encountered_at_ms"),
            )
        )
    return sightings


def sightings_response_to_bytes(recorded: int) -> bytes:
    return to_bytes(pb.SightingsResponse(recorded=recorded))


def sightings_response_from_bytes(body: bytes) -> int:
    message = parse_message(pb.SightingsResponse, body, "sightings response: not a valid message")
    return int(message.recorded)
