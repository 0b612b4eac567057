"""Step 1 on the wire: IdentifyRequest / IdentifyResponse ↔ domain, validated."""

from __future__ import annotations

from dataclasses import dataclass

from biometric_exchange.agreement.commitment import COMMITMENT_BYTES
from biometric_exchange.agreement.terms import ScopeRule
from biometric_exchange.domain import TEMPLATE_MODEL, Template
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.serde.common import (
    check_ref,
    check_text,
    parse_message,
    template_from_proto,
    template_to_proto,
    to_bytes,
)
from biometric_exchange.v1 import exchange_pb2 as pb

_RULES: dict[ScopeRule, pb.ScopeRule.ValueType] = {
    ScopeRule.STANDARD: pb.SCOPE_RULE_STANDARD,
    ScopeRule.PROTECTION: pb.SCOPE_RULE_PROTECTION,
}
_RULES_BACK = {wire: rule for rule, wire in _RULES.items()}


@dataclass(frozen=True)
class ProbeIn:
    """A probe as it crosses: the template, the scope rule the sender applied and its
    commitment to the facts; nothing about the person."""

    probe_ref: str
    template: Template
    scope_rule: ScopeRule
    commitment: bytes


@dataclass(frozen=True)
class HitOut:
    """A hit as it crosses: a fresh reference, the category where the agreement
    discloses it, a named band where it says so; no distance, no rank."""

    hit_reference: str
    category: str
    confidence: str = ""


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
                scope_rule=_RULES[probe.scope_rule],
                scope_commitment=probe.commitment,
            )
            for probe in query.probes
        ],
    )
    return to_bytes(message)


def _scope_rule(probe: pb.Probe, field_name: str) -> ScopeRule:
    rule = _RULES_BACK.get(probe.scope_rule)
    if rule is None:
        raise InvalidInput(f"{field_name}.scope_rule: no scope rule stated")
    return rule


def _commitment(probe: pb.Probe, field_name: str) -> bytes:
    if len(probe.scope_commitment) != COMMITMENT_BYTES:
        raise InvalidInput(f"{field_name}.scope_commitment: {COMMITMENT_BYTES} bytes expected")
    return bytes(probe.scope_commitment)


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
                scope_rule=_scope_rule(probe, field_name),
                commitment=_commitment(probe, field_name),
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
                        hit_reference=h.hit_reference, category=h.category, confidence=h.confidence
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
                category=check_text(hit.category, f"{field_name}.category"),
                confidence=check_text(hit.confidence, f"{field_name}.confidence"),
            )
            for hit in result.hits
        ]
    return results
