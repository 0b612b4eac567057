"""The asking side of blind step 1: each probe in its own round of two sealed calls.

``BlindIdentify`` sends the probe encrypted under our own key (our public context
with it the first time, or when the holder asks for it); we decrypt the reply, read
which slots hit, and ``BlindReveal`` names them (at most the holder's limit). The
reveal's reply is step 1's answer: per probe hit/no-hit and fresh hit references.
Slots inside the error margin are counted ``undecided``, never claimed, and the count
goes to our audit log and the node's log. The keys are made once per link and process
and never leave it; the holder keeps only our public context.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from biometric_exchange.agreement.commitment import commitments_digest
from biometric_exchange.agreement.terms import Step1Mode
from biometric_exchange.blind.keys import SecretContext
from biometric_exchange.blind.requester import Decisions, encrypt_probe, read_reply
from biometric_exchange.exceptions import InvalidInput, PartnerUnavailable
from biometric_exchange.node.link import Link
from biometric_exchange.node.rpc import BLIND_IDENTIFY, BLIND_REVEAL
from biometric_exchange.node.send.round_trip import round_trip
from biometric_exchange.node.transport import PeerTransport
from biometric_exchange.serde.blind import (
    BlindAnswer,
    BlindClaims,
    BlindProbeIn,
    BlindQuery,
    blind_answer_from_bytes,
    blind_request_to_bytes,
    claims_to_bytes,
    reveal_reply_from_bytes,
)
from biometric_exchange.serde.identify import HitOut, IdentifyQuery, ProbeIn

log = logging.getLogger(__name__)
TIMEOUT_S = 60.0
"""A blind request's deadline, at least: the holder may wait 30 s for the partner's
previous probe, then spends up to a few seconds on this one (docs/blind.md)."""


@dataclass
class _Session:
    link: Link
    keys: SecretContext = field(default_factory=SecretContext)
    acknowledged: bool = False
    """The holder has our context (a reply came back without asking for it)."""


class BlindClient:
    """Blind step 1 for every link of one node: each link's keys, made on first use."""

    def __init__(self) -> None:
        self._sessions: dict[str, _Session] = {}

    def session(self, link: Link) -> _Session:
        held = self._sessions.get(link.code)
        if held is None or held.link is not link:
            held = _Session(link)
            self._sessions[link.code] = held
        return held

    def identify(
        self, link: Link, transport: PeerTransport, query: IdentifyQuery
    ) -> dict[str, list[HitOut]]:
        """Step 1 for ``query``'s probes, one round each; the results as Identify's."""
        session = self.session(link)
        results: dict[str, list[HitOut]] = {}
        for probe in query.probes:
            results.update(_round(session, transport, query, probe))
        return results


def _round(
    session: _Session, transport: PeerTransport, query: IdentifyQuery, probe: ProbeIn
) -> dict[str, list[HitOut]]:
    link = session.link
    encrypted = BlindProbeIn(
        probe.probe_ref,
        probe.scope_rule,
        probe.commitment,
        encrypt_probe(session.keys, probe.template),
    )
    answer = _ask(session, transport, query, encrypted, with_context=not session.acknowledged)
    if answer.context_required:
        answer = _ask(session, transport, query, encrypted, with_context=True)
        if answer.context_required:
            raise PartnerUnavailable("the holder asked for our blind context twice")
    session.acknowledged = True
    blocks = answer.blocks or {}
    if list(blocks) != [probe.probe_ref]:
        raise InvalidInput("blind reply: not the probes asked about")
    decisions = read_reply(session.keys, blocks[probe.probe_ref])
    claimed = _claim(decisions.hits, answer.max_hits)
    if decisions.undecided:
        log.warning(
            "%d blind decisions within the error margin, not claimed",
            decisions.undecided,
            extra={"peer": link.code, "event": "identify.undecided"},
        )
    return round_trip(
        link,
        transport,
        BLIND_REVEAL,
        claims_to_bytes(BlindClaims(answer.round_id, {probe.probe_ref: claimed})),
        reveal_reply_from_bytes,
        sent=_reveal_detail(answer, decisions, claimed),
        summary=lambda results: {"hits": sum(1 for hits in results.values() if hits)},
    )


def _ask(
    session: _Session,
    transport: PeerTransport,
    query: IdentifyQuery,
    probe: BlindProbeIn,
    *,
    with_context: bool,
) -> BlindAnswer:
    keys = session.keys
    blind_query = BlindQuery(
        purpose=query.purpose,
        max_candidates=query.max_candidates,
        context_digest=keys.digest,
        context=keys.blob if with_context else None,
        probes=(probe,),
    )
    link = session.link
    return round_trip(
        link,
        transport,
        BLIND_IDENTIFY,
        blind_request_to_bytes(blind_query),
        blind_answer_from_bytes,
        timeout=max(link.node.config.exchange.request_timeout_s, TIMEOUT_S),
        sent={
            "purpose": query.purpose,
            "probes": 1,
            "scope_rules": {probe.scope_rule.value: 1},
            "commitments": commitments_digest([probe.commitment]),
            "probe_refs": [probe.probe_ref],
            "mode": Step1Mode.BLIND.value,
            "context": keys.digest[:16],
            "context_sent": with_context,
        },
        summary=lambda answer: (
            {"context_required": True}
            if answer.context_required
            else {"round": answer.round_id, "blocks": sum(map(len, (answer.blocks or {}).values()))}
        ),
    )


def _claim(hits: Sequence[int], max_hits: int) -> tuple[int, ...]:
    """The slots to name: every hit, or ``max_hits`` of them at random (the values say
    nothing about which hit is closest)."""
    if len(hits) <= max_hits:
        return tuple(hits)
    return tuple(sorted(random.SystemRandom().sample(list(hits), max_hits)))


def _reveal_detail(
    answer: BlindAnswer, decisions: Decisions, claimed: tuple[int, ...]
) -> dict[str, Any]:
    return {
        "round": answer.round_id,
        "claimed": len(claimed),
        "undecided": decisions.undecided,
        "over_limit": max(0, len(decisions.hits) - answer.max_hits),
        "mode": Step1Mode.BLIND.value,
    }
