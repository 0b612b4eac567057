"""Step 1 on the wire: IdentifyRequest / IdentifyResponse ↔ domain, validated."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from biometric_exchange.agreement.policy import ScopeFacts
from biometric_exchange.agreement.terms import ProtectedCategory
from biometric_exchange.domain import TEMPLATE_MODEL, Template
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.serde.common import (
    check_ref,
    check_text,
    from_ms,
    parse_message,
    template_from_proto,
    template_to_proto,
    to_bytes,
    to_ms,
)
from biometric_exchange.v1 import exchange_pb2 as pb


@dataclass(frozen=True)
class ProbeIn:
    probe_ref: str
    template: Template
    encounter_point: str
    encountered_at: dt.datetime
    facts: ScopeFacts


@dataclass(frozen=True)
class HitOut:
    hit_reference: str
    category: str
    distance: float
    rank: int


@dataclass(frozen=True)
class IdentifyQuery:
    purpose: str
    probes: tuple[ProbeIn, ...]
    max_candidates: int
    template_model: str = TEMPLATE_MODEL
    """The model of every probe's template: the face model's own id, or the id of the
    agreement's template protection (scheme and epoch) when templates are protected."""


def identify_request_to_bytes(query: IdentifyQuery) -> bytes:
    message = pb.IdentifyRequest(
        purpose=query.purpose,
        max_candidates=query.max_candidates,
        probes=[
            pb.Probe(
                probe_ref=probe.probe_ref,
                template=template_to_proto(probe.template, model_id=query.template_model),
                encounter_point=probe.encounter_point,
                encountered_at_ms=to_ms(probe.encountered_at),
                nationality=probe.facts.nationality,
                age_years=probe.facts.age_years,
                protected_category=(probe.facts.protected_category or ""),
            )
            for probe in query.probes
        ],
    )
    return to_bytes(message)


def _facts(probe: pb.Probe, field_name: str) -> ScopeFacts:
    category = None
    if probe.protected_category:
        try:
            category = ProtectedCategory(probe.protected_category)
        except ValueError:
            raise InvalidInput(f"{field_name}.protected_category: unknown category") from None
    return ScopeFacts(probe.nationality[:8], int(probe.age_years), category)


def identify_request_from_bytes(
    body: bytes, *, template_model: str = TEMPLATE_MODEL
) -> IdentifyQuery:
    """Parse and check a request whose templates must all be of ``template_model``."""
    message = parse_message(pb.IdentifyRequest, body, "identify request: not a valid message")
    probes = []
    seen: set[str] = set()
    for index, probe in enumerate(message.probes):
        field_name = f"probes[{index}]"
        ref = check_ref(probe.probe_ref, f"{field_name}.probe_ref")
        if ref in seen:
            raise InvalidInput(f"{field_name}.probe_ref: duplicate reference")
        seen.add(ref)
        probes.append(
            ProbeIn(
                probe_ref=ref,
                template=template_from_proto(
                    probe.template, field_name=f"{field_name}.template", model_id=template_model
                ),
                encounter_point=check_text(probe.encounter_point, f"{field_name}.encounter_point"),
                encountered_at=from_ms(probe.encountered_at_ms, f"{field_name}.encountered_at_ms"),
                facts=_facts(probe, field_name),
            )
        )
    purpose = check_ref(message.purpose, "purpose")
    return IdentifyQuery(purpose, tuple(probes), message.max_candidates, template_model)


def identify_response_to_bytes(results: dict[str, list[HitOut]]) -> bytes:
    message = pb.IdentifyResponse(
        results=[
            pb.ProbeResult(
                probe_ref=probe_ref,
                hit=bool(hits),
                hits=[
                    pb.Hit(
                        hit_reference=h.hit_reference,
                        category=h.category,
                        distance=h.distance,
                        rank=h.rank,
                    )
                    for h in hits
                ],
            )
            for probe_ref, hits in results.items()
        ]
    )
    return to_bytes(message)


def identify_response_from_bytes(body: bytes) -> dict[str, list[HitOut]]:
    message = parse_message(pb.IdentifyResponse, body, "identify response: not a valid message")
    results: dict[str, list[HitOut]] = {}
    for index, result in enumerate(message.results):
        field_name = f"results[{index}]"
        probe_ref = check_ref(result.probe_ref, f"{field_name}.probe_ref")
        if probe_ref in results:
            raise InvalidInput(f"{field_name}.probe_ref: duplicate reference")
        results[probe_ref] = [
            HitOut(
                hit_reference=check_ref(hit.hit_reference, f"{field_name}.hit_reference"),
                category=hit.category,
                distance=float(hit.distance),
                rank=int(hit.rank),
            )
            for hit in result.hits
        ]
    return results
