"""All protobuf ↔ domain conversion, in one place.

Templates travel as little-endian float32 bytes with their dimension and
model id; nothing is ever pickled.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TypeVar

from google.protobuf.message import DecodeError, Message

from biometric_exchange.agreement.policy import ScopeFacts
from biometric_exchange.agreement.terms import ProtectedCategory
from biometric_exchange.domain import (
    TEMPLATE_DIM,
    TEMPLATE_MODEL,
    Template,
    template_from_bytes,
    template_to_bytes,
)
from biometric_exchange.exceptions import AgreementMismatch, InvalidInput, InvalidTemplate
from biometric_exchange.v1 import exchange_pb2 as pb

MAX_REF_LENGTH = 64


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


_Message = TypeVar("_Message", bound=Message)


def parse_message(message_type: type[_Message], body: bytes, failure: str) -> _Message:
    """``body`` parsed as ``message_type``, or InvalidInput with ``failure``."""
    message = message_type()
    try:
        message.ParseFromString(body)
    except DecodeError as exc:
        raise InvalidInput(failure) from exc
    return message


def template_to_proto(template: Template, *, model_id: str = TEMPLATE_MODEL) -> pb.Template:
    return pb.Template(dim=TEMPLATE_DIM, model_id=model_id, values=template_to_bytes(template))


PROTECTED_MODEL_PREFIX = "bx-protected/"
"""Model ids of protected templates: ``bx-protected/<scheme>/epoch-<n>``."""


def template_from_proto(
    message: pb.Template, *, field_name: str, model_id: str = TEMPLATE_MODEL
) -> Template:
    if message.model_id != model_id:
        if any(m.startswith(PROTECTED_MODEL_PREFIX) for m in (message.model_id, model_id)):
            raise AgreementMismatch(
                f"{field_name}: template protection differs (expected {model_id!r}, "
                f"got {message.model_id[:64]!r})"
            )
        raise InvalidTemplate(f"{field_name}: unsupported template model {message.model_id!r}")
    if message.dim != TEMPLATE_DIM:
        raise InvalidTemplate(f"{field_name}: expected dimension {TEMPLATE_DIM}, got {message.dim}")
    return template_from_bytes(message.values, field_name=field_name)


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


LATEST_MS = int(dt.datetime(9999, 12, 31, tzinfo=dt.UTC).timestamp() * 1000)


def _moment(ms: int, field_name: str = "time") -> dt.datetime:
    if not 0 <= ms <= LATEST_MS:
        raise InvalidInput(f"{field_name}: out of range")
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


def _check_text(value: str, field_name: str) -> str:
    """Optional short text from the partner: printable, cut to the reference length."""
    if not value.isprintable():
        raise InvalidInput(f"{field_name}: must be printable text")
    return value[:MAX_REF_LENGTH]


def identify_request_to_bytes(query: IdentifyQuery) -> bytes:
    message = pb.IdentifyRequest(
        purpose=query.purpose,
        max_candidates=query.max_candidates,
        probes=[
            pb.Probe(
                probe_ref=probe.probe_ref,
                template=template_to_proto(probe.template, model_id=query.template_model),
                encounter_point=probe.encounter_point,
                encountered_at_ms=_ms(probe.encountered_at),
                nationality=probe.facts.nationality,
                age_years=probe.facts.age_years,
                protected_category=(probe.facts.protected_category or ""),
            )
            for probe in query.probes
        ],
    )
    return message.SerializeToString(deterministic=True)


def _check_ref(value: str, field_name: str) -> str:
    if not value or len(value) > MAX_REF_LENGTH or not value.isprintable():
        raise InvalidInput(f"{field_name}: must be 1 to {MAX_REF_LENGTH} printable characters")
    return value


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
        ref = _check_ref(probe.probe_ref, f"{field_name}.probe_ref")
        if ref in seen:
            raise InvalidInput(f"{field_name}.probe_ref: duplicate reference")
        seen.add(ref)
        probes.append(
            ProbeIn(
                probe_ref=ref,
                template=template_from_proto(
                    probe.template, field_name=f"{field_name}.template", model_id=template_model
                ),
                encounter_point=_check_text(probe.encounter_point, f"{field_name}.encounter_point"),
                encountered_at=_moment(probe.encountered_at_ms, f"{field_name}.encountered_at_ms"),
                facts=_facts(probe, field_name),
            )
        )
    purpose = _check_ref(message.purpose, "purpose")
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
    return message.SerializeToString(deterministic=True)


def identify_response_from_bytes(body: bytes) -> dict[str, list[HitOut]]:
    message = parse_message(pb.IdentifyResponse, body, "identify response: not a valid message")
    results: dict[str, list[HitOut]] = {}
    for index, result in enumerate(message.results):
        field_name = f"results[{index}]"
        probe_ref = _check_ref(result.probe_ref, f"{field_name}.probe_ref")
        if probe_ref in results:
            raise InvalidInput(f"{field_name}.probe_ref: duplicate reference")
        results[probe_ref] = [
            HitOut(
                hit_reference=_check_ref(hit.hit_reference, f"{field_name}.hit_reference"),
                category=hit.category,
                distance=float(hit.distance),
                rank=int(hit.rank),
            )
            for hit in result.hits
        ]
    return results
