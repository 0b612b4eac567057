"""Blind step 1 on the wire: BlindIdentify and BlindReveal requests and replies ↔ domain.

Ciphertexts cross as opaque SEAL bytes; what they must be is checked by the blind
package when they are loaded. Here: the shape of each message, its references and
sizes (an envelope is at most 4 MB anyway).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from biometric_exchange.agreement.terms import ScopeRule
from biometric_exchange.blind.public import ContextBlob, EncryptedProbe
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.serde.common import check_new_ref, check_ref, parse_message, to_bytes
from biometric_exchange.serde.identify import (
    HitOut,
    commitment_from_proto,
    results_from_proto,
    results_to_proto,
    rule_from_proto,
    rule_to_proto,
)
from biometric_exchange.v1 import exchange_pb2 as pb

MAX_CIPHERTEXT_BYTES = 1 << 20
"""One ciphertext (a request's are about 115 KB, a reply block's 131 KB)."""
MAX_BLOCKS = 64
MAX_SLOTS_CLAIMED = 64
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class BlindProbeIn:
    probe_ref: str
    scope_rule: ScopeRule
    commitment: bytes
    encrypted: EncryptedProbe


@dataclass(frozen=True)
class BlindQuery:
    purpose: str
    max_candidates: int
    context_digest: str
    context: ContextBlob | None
    """Sent when the holder asked for it (``BlindAnswer.context_required``)."""
    probes: tuple[BlindProbeIn, ...]


@dataclass(frozen=True)
class BlindAnswer:
    context_required: bool = False
    round_id: str = ""
    blocks: dict[str, tuple[bytes, ...]] | None = None
    """Per probe reference, its reply blocks (in the request's order)."""
    max_hits: int = 0


@dataclass(frozen=True)
class BlindClaims:
    round_id: str
    slots: dict[str, tuple[int, ...]]
    """Per probe reference (the round's order), the slots read as hits."""


def _ciphertext(value: bytes, field_name: str) -> bytes:
    if not 0 < len(value) <= MAX_CIPHERTEXT_BYTES:
        raise InvalidInput(f"{field_name}: 1 to {MAX_CIPHERTEXT_BYTES} bytes expected")
    return bytes(value)


def _digest(value: str, field_name: str) -> str:
    if not _DIGEST.match(value):
        raise InvalidInput(f"{field_name}: 64 lower-case hex digits expected")
    return value


def blind_request_to_bytes(query: BlindQuery) -> bytes:
    context = query.context
    message = pb.BlindIdentifyRequest(
        purpose=query.purpose,
        max_candidates=query.max_candidates,
        context_digest=query.context_digest,
        context=None
        if context is None
        else pb.BlindContext(
            scheme=context.scheme,
            public_key=context.public_key,
            galois_keys=context.galois_keys,
        ),
        probes=[
            pb.BlindProbe(
                probe_ref=probe.probe_ref,
                scope_rule=rule_to_proto(probe.scope_rule),
                scope_commitment=probe.commitment,
                encrypted_template=probe.encrypted.template,
                encrypted_norm=probe.encrypted.norm,
            )
            for probe in query.probes
        ],
    )
    return to_bytes(message)


def blind_request_from_bytes(body: bytes) -> BlindQuery:
    message = parse_message(pb.BlindIdentifyRequest, body, "blind request: not a valid message")
    probes = []
    seen: set[str] = set()
    for index, probe in enumerate(message.probes):
        field_name = f"probes[{index}]"
        ref = check_new_ref(probe.probe_ref, f"{field_name}.probe_ref", seen)
        seen.add(ref)
        probes.append(
            BlindProbeIn(
                probe_ref=ref,
                scope_rule=rule_from_proto(probe.scope_rule, field_name),
                commitment=commitment_from_proto(probe.scope_commitment, field_name),
                encrypted=EncryptedProbe(
                    _ciphertext(probe.encrypted_template, f"{field_name}.encrypted_template"),
                    _ciphertext(probe.encrypted_norm, f"{field_name}.encrypted_norm"),
                ),
            )
        )
    context = None
    if message.HasField("context"):
        sent = message.context
        context = ContextBlob(
            scheme=check_ref(sent.scheme, "context.scheme"),
            public_key=_ciphertext(sent.public_key, "context.public_key"),
            galois_keys=_ciphertext(sent.galois_keys, "context.galois_keys"),
        )
    return BlindQuery(
        purpose=check_ref(message.purpose, "purpose"),
        max_candidates=message.max_candidates,
        context_digest=_digest(message.context_digest, "context_digest"),
        context=context,
        probes=tuple(probes),
    )


def blind_answer_to_bytes(answer: BlindAnswer) -> bytes:
    message = pb.BlindIdentifyResponse(
        context_required=answer.context_required,
        round_id=answer.round_id,
        max_hits=answer.max_hits,
        probes=[
            pb.BlindProbeReply(probe_ref=ref, blocks=list(blocks))
            for ref, blocks in (answer.blocks or {}).items()
        ],
    )
    return to_bytes(message)


def blind_answer_from_bytes(body: bytes) -> BlindAnswer:
    message = parse_message(pb.BlindIdentifyResponse, body, "blind reply: not a valid message")
    if message.context_required:
        return BlindAnswer(context_required=True)
    blocks: dict[str, tuple[bytes, ...]] = {}
    for index, probe in enumerate(message.probes):
        field_name = f"probes[{index}]"
        ref = check_new_ref(probe.probe_ref, f"{field_name}.probe_ref", blocks)
        if not 0 < len(probe.blocks) <= MAX_BLOCKS:
            raise InvalidInput(f"{field_name}.blocks: 1 to {MAX_BLOCKS} blocks expected")
        blocks[ref] = tuple(
            _ciphertext(block, f"{field_name}.blocks[{n}]") for n, block in enumerate(probe.blocks)
        )
    return BlindAnswer(
        round_id=check_ref(message.round_id, "round_id"),
        blocks=blocks,
        max_hits=message.max_hits,
    )


def claims_to_bytes(claims: BlindClaims) -> bytes:
    message = pb.BlindRevealRequest(
        round_id=claims.round_id,
        claims=[
            pb.BlindClaim(probe_ref=ref, slots=list(slots)) for ref, slots in claims.slots.items()
        ],
    )
    return to_bytes(message)


def claims_from_bytes(body: bytes) -> BlindClaims:
    message = parse_message(pb.BlindRevealRequest, body, "blind reveal: not a valid message")
    slots: dict[str, tuple[int, ...]] = {}
    for index, claim in enumerate(message.claims):
        field_name = f"claims[{index}]"
        ref = check_new_ref(claim.probe_ref, f"{field_name}.probe_ref", slots)
        if len(claim.slots) > MAX_SLOTS_CLAIMED:
            raise InvalidInput(f"{field_name}.slots: at most {MAX_SLOTS_CLAIMED}")
        slots[ref] = tuple(claim.slots)
    return BlindClaims(check_ref(message.round_id, "round_id"), slots)


def reveal_reply_to_bytes(results: dict[str, list[HitOut]]) -> bytes:
    return to_bytes(pb.BlindRevealResponse(results=results_to_proto(results)))


def reveal_reply_from_bytes(body: bytes) -> dict[str, list[HitOut]]:
    message = parse_message(pb.BlindRevealResponse, body, "blind reveal reply: not valid")
    return results_from_proto(message.results)
