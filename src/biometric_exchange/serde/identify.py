"""Step 1 on the wire: IdentifyRequest / IdentifyResponse ↔ domain, validated."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from biometric_exchange.agreement.commitment import COMMITMENT_BYTES
from biometric_exchange.agreement.terms import ScopeRule
from biometric_exchange.domain import TEMPLATE_MODEL, Template
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.serde.common import (
    check_new_ref,
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


def rule_to_proto(rule: ScopeRule) -> pb.ScopeRule.ValueType:
    return _RULES[rule]


def rule_from_proto(value: pb.ScopeRule.ValueType, field_name: str) -> ScopeRule:
    rule = _RULES_BACK.get(value)
    if rule is None:
        raise InvalidInput(f"{field_name}.scope_rule: no scope rule stated")
    return rule


def commitment_from_proto(value: bytes, field_name: str) -> bytes:
    if len(value) != COMMITMENT_BYTES:
        raise InvalidInput(f"{field_name}.scope_commitment: {COMMITMENT_BYTES} bytes expected")
    return bytes(value)


def identify_request_from_bytes(
    body: bytes, *, template_model: str = TEMPLATE_MODEL
) -> IdentifyQuery:
    """Parse and check a request whose templates must all be of ``template_model``."""
    message = parse_message(pb.IdentifyRequest, body, "identify request: not a valid message")
    probes = []
    seen: set[str] = set()
    for index, probe in enumerate(message.probes):
        field_name = f"probes[{index}]"
        ref = check_new_ref(probe.probe_ref, f"{field_name}.probe_ref", seen)
        seen.add(ref)
        probes.append(
            ProbeIn(
                probe_ref=ref,
                template=template_from_proto(
                    probe.template, field_name=f"{field_name}.template", model_id=template_model
                ),
                scope_rule=rule_from_proto(probe.scope_rule, field_name),
                commitment=commitment_from_proto(probe.scope_commitment, field_name),
            )
        )
    purpose = check_ref(message.purpose, "purpose")
    return IdentifyQuery(purpose, tuple(probes), message.max_candidates, template_model)


def identify_response_to_bytes(results: dict[str, list[HitOut]]) -> bytes:
    return to_bytes(pb.IdentifyResponse(results=results_to_proto(results)))


def results_to_proto(results: dict[str, list[HitOut]]) -> list[pb.ProbeResult]:
    """Per probe hit/no-hit and its hits (Identify's and BlindReveal's replies)."""
    return [
        pb.ProbeResult(
            probe_ref=probe_ref,
            hit=bool(hits),
            hits=[
                pb.Hit(hit_reference=h.hit_reference, category=h.category, confidence=h.confidence)
                for h in hits
            ],
        )
        for probe_ref, hits in results.items()
    ]


def identify_response_from_bytes(body: bytes) -> dict[str, list[HitOut]]:
    message = parse_message(pb.IdentifyResponse, body, "identify response: not a valid message")
    return results_from_proto(message.results)


def results_from_proto(found: Iterable[pb.ProbeResult]) -> dict[str, list[HitOut]]:
    """Inverse of ``results_to_proto``, validated."""
    results: dict[str, list[HitOut]] = {}
    for index, result in enumerate(found):
        field_name = f"results[{index}]"
        probe_ref = check_new_ref(result.probe_ref, f"{field_name}.probe_ref", results)
        results[probe_ref] = [
            HitOut(
                hit_reference=check_ref(hit.hit_reference, f"{field_name}.hit_reference"),
                category=check_text(hit.category, f"{field_name}.category"),
                confidence=check_text(hit.confidence, f"{field_name}.confidence"),
            )
            for hit in result.hits
        ]
    return results
