"""The holder's side of step 1: open the probe envelope, match, reply sealed.

Plain logic, no sockets: the gRPC servicer only unpacks and packs.
"""

from __future__ import annotations

from biometric_exchange.agreement import Disclosure
from biometric_exchange.alerts.rules import subject_encountered_by_partner
from biometric_exchange.crypto.envelope import open_envelope, read_header, seal
from biometric_exchange.exceptions import AgreementRefusal, ExchangeError, InvalidEnvelope
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.watchlist_index import WatchlistIndex
from biometric_exchange.serde import (
    HitOut,
    IdentifyQuery,
    identify_request_from_bytes,
    identify_response_to_bytes,
)
from biometric_exchange.store.audit import AuditEvent, AuditOutcome
from biometric_exchange.v1 import exchange_pb2 as pb


def _claimed_message_id(envelope: pb.SealedEnvelope) -> str | None:
    """The header's message id, unverified: for the audit trail of a refusal."""
    try:
        return read_header(envelope).message_id[:64] or None
    except InvalidEnvelope:
        return None


class IdentifyHandler:
    def __init__(self, node: Node, watchlist: WatchlistIndex) -> None:
        self._node = node
        self._watchlist = watchlist

    def handle(self, envelope: pb.SealedEnvelope) -> pb.SealedEnvelope:
        node = self._node
        partner = node.partner.code
        context = node.envelope_context()
        try:
            opened = open_envelope(
                context,
                envelope,
                now_ms=node.clock(),
                replay_guard=node.replay_guard,
                expected_type=pb.MESSAGE_TYPE_IDENTIFY_REQUEST,
            )
        except InvalidEnvelope as exc:
            node.audit.record(
                AuditEvent.IDENTIFY_RECEIVED,
                AuditOutcome.REJECTED,
                peer=partner,
                claimed_message_id=_claimed_message_id(envelope),
                reason=exc.reason,
            )
            raise
        message_id = opened.header.message_id
        try:
            query = identify_request_from_bytes(opened.body)
            max_candidates = self._check_terms(query)
        except ExchangeError as exc:
            node.audit.record(
                AuditEvent.IDENTIFY_RECEIVED,
                AuditOutcome.REJECTED,
                peer=partner,
                message_id=message_id,
                reason=str(exc),
            )
            raise
        node.audit.record(
            AuditEvent.IDENTIFY_RECEIVED,
            AuditOutcome.ACCEPTED,
            peer=partner,
            message_id=message_id,
            purpose=query.purpose,
            probes=len(query.probes),
        )
        results = self._match(query, max_candidates)
        reply = seal(
            context,
            pb.MESSAGE_TYPE_IDENTIFY_RESPONSE,
            identify_response_to_bytes(results),
            now_ms=node.clock(),
            in_reply_to=message_id,
        )
        node.audit.record(
            AuditEvent.IDENTIFY_REPLY_SENT,
            AuditOutcome.ACCEPTED,
            peer=partner,
            message_id=read_header(reply).message_id,
            in_reply_to=message_id,
            probes=len(results),
            hits=sum(1 for hits in results.values() if hits),
        )
        return reply

    def _check_terms(self, query: IdentifyQuery) -> int:
        """Refuse what the agreement does not allow; return the candidate cap."""
        terms = self._node.agreement.agreement
        if query.purpose not in {p.value for p in terms.purposes}:
            raise AgreementRefusal(f"purpose {query.purpose!r} is not allowed by the agreement")
        if not 1 <= len(query.probes) <= terms.max_probes_per_request:
            limit = terms.max_probes_per_request
            raise AgreementRefusal(f"{len(query.probes)} probes; the agreement allows 1 to {limit}")
        requested = query.max_candidates or terms.max_candidates
        return min(requested, terms.max_candidates, self._node.config.matching.max_candidates)

    def _match(self, query: IdentifyQuery, max_candidates: int) -> dict[str, list[HitOut]]:
        node = self._node
        partner = node.partner.code
        disclose_category = node.agreement.agreement.disclosure is Disclosure.HIT_AND_CATEGORY
        matches = self._watchlist.search(
            [probe.template for probe in query.probes],
            threshold=node.config.matching.threshold,
            max_candidates=max_candidates,
        )
        results: dict[str, list[HitOut]] = {}
        for probe, probe_matches in zip(query.probes, matches, strict=True):
            hits = []
            for match in probe_matches:
                reference = node.hit_references.issue(partner, probe.probe_ref, match.entry_id)
                hits.append(
                    HitOut(
                        hit_reference=reference,
                        category=match.category.value if disclose_category else "",
                        distance=match.distance,
                        rank=match.rank,
                    )
                )
                node.alerts.raise_alert(
                    *subject_encountered_by_partner(
                        partner=partner,
                        probe_ref=probe.probe_ref,
                        entry_id=match.entry_id,
                        category=match.category,
                        hit_reference=reference,
                        distance=match.distance,
                        encounter_point=probe.encounter_point,
                    )
                )
            results[probe.probe_ref] = hits
        return results
