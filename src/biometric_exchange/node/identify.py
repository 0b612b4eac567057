"""The holder's side of step 1: open the probe envelope, enforce the
agreement, match, reply sealed.

Plain logic, no sockets: the gRPC servicer only unpacks and packs.
"""

from __future__ import annotations

import datetime as dt

from biometric_exchange.agreement.terms import ProtectedCategory
from biometric_exchange.alerts.linking import movement
from biometric_exchange.alerts.rules import (
    PartnerSighting,
    RuleContext,
    subject_encountered_by_partner,
)
from biometric_exchange.domain import TEMPLATE_MODEL, Template
from biometric_exchange.exceptions import AgreementRefusal
from biometric_exchange.node.encounter_index import EncounterIndex, EncounterMatch
from biometric_exchange.node.inbound import accept_request, seal_reply
from biometric_exchange.node.protection import (
    ProtectedEncounters,
    ProtectedWatchlist,
    link_protection,
)
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.watchlist_index import WatchlistIndex, WatchlistMatch
from biometric_exchange.serde import (
    HitOut,
    IdentifyQuery,
    ProbeIn,
    identify_request_from_bytes,
    identify_response_to_bytes,
)
from biometric_exchange.store.audit import AuditEvent
from biometric_exchange.store.quotas import QuotaKind
from biometric_exchange.v1 import exchange_pb2 as pb


class IdentifyHandler:
    """Serves one partner, under our agreement with them (``node`` is bound to it)."""

    def __init__(
        self, node: Node, watchlist: WatchlistIndex, encounters: EncounterIndex | None = None
    ) -> None:
        self._node = node
        self._watchlist = watchlist
        self._encounters = encounters if encounters is not None else EncounterIndex(node.records)
        self._protection = link_protection(node)
        self._protected: tuple[ProtectedWatchlist, ProtectedEncounters] | None = None
        if self._protection is not None:
            self._protected = (
                ProtectedWatchlist(watchlist, self._protection),
                ProtectedEncounters(self._encounters, self._protection),
            )

    @property
    def template_model(self) -> str:
        return TEMPLATE_MODEL if self._protection is None else self._protection.model_id

    @property
    def threshold(self) -> float:
        """Our matching threshold, or the protection scheme's under a protected agreement."""
        if self._protection is None:
            return self._node.config.matching.threshold
        return self._protection.scheme.threshold

    def handle(self, envelope: pb.SealedEnvelope) -> pb.SealedEnvelope:
        node = self._node
        message_id, query = accept_request(
            node,
            envelope,
            expected_type=pb.MESSAGE_TYPE_IDENTIFY_REQUEST,
            event=AuditEvent.IDENTIFY_RECEIVED,
            check=self._checked,
            describe=lambda query: {"purpose": query.purpose, "probes": len(query.probes)},
        )
        results = self._match(query)
        self._movements(query)
        return seal_reply(
            node,
            pb.MESSAGE_TYPE_IDENTIFY_RESPONSE,
            identify_response_to_bytes(results),
            in_reply_to=message_id,
            event=AuditEvent.IDENTIFY_REPLY_SENT,
            probes=len(results),
            hits=sum(1 for hits in results.values() if hits),
        )

    def _checked(self, body: bytes) -> IdentifyQuery:
        query = identify_request_from_bytes(body, template_model=self.template_model)
        self._enforce(query)
        return query

    def _enforce(self, query: IdentifyQuery) -> None:
        """The agreement's terms, checked again on our side; then the quota."""
        node = self._node
        policy = node.policy
        purpose = policy.purpose(query.purpose)
        policy.check_probe_count(len(query.probes))
        for index, probe in enumerate(query.probes):
            reason = policy.scope_refusal(probe.facts, purpose)
            if reason is not None:
                raise AgreementRefusal(f"probes[{index}]: {reason}")
        node.quotas.consume(
            node.today(),
            node.partner.code,
            QuotaKind.PROBES_RECEIVED,
            len(query.probes),
            node.agreement.agreement.quotas.probes_per_day,
        )

    def _movements(self, query: IdentifyQuery) -> None:
        """A probe matching one of our recent encounters: the person moved on."""
        node = self._node
        window = dt.timedelta(days=node.config.alerts.movement_days)
        context = RuleContext(node.agreement.id, query.purpose, self.threshold)
        for probe in query.probes:
            if not node.policy.person_rules_apply(probe.facts.nationality):
                continue
            for match in self._encounter_matches(probe.template):
                if abs(probe.encountered_at - match.encounter.encountered_at) > window:
                    continue
                node.alerts.raise_alert(
                    movement(
                        match.encounter,
                        _sighting(node.partner.code, probe),
                        own_country=node.country,
                        context=context,
                        distance=match.distance,
                    )
                )

    def _encounter_matches(self, template: Template) -> list[EncounterMatch]:
        if self._protected is not None:
            return self._protected[1].search(template)
        return self._encounters.search(template, threshold=self.threshold)

    def _watchlist_matches(
        self, templates: list[Template], max_candidates: int
    ) -> list[list[WatchlistMatch]]:
        if self._protected is not None:
            return self._protected[0].search(templates, max_candidates=max_candidates)
        return self._watchlist.search(
            templates, threshold=self.threshold, max_candidates=max_candidates
        )

    def _match(self, query: IdentifyQuery) -> dict[str, list[HitOut]]:
        node = self._node
        partner = node.partner.code
        context = RuleContext(node.agreement.id, query.purpose, self.threshold)
        max_candidates = min(
            node.policy.max_candidates(query.max_candidates), node.config.matching.max_candidates
        )
        matches = self._watchlist_matches(
            [probe.template for probe in query.probes], max_candidates
        )
        ttl = dt.timedelta(hours=node.agreement.agreement.step1.hit_reference_ttl_hours)
        results: dict[str, list[HitOut]] = {}
        for probe, probe_matches in zip(query.probes, matches, strict=True):
            hits = []
            for match in probe_matches:
                reference = node.hit_references.issue(
                    partner, probe.probe_ref, match.entry_id, ttl=ttl
                )
                hits.append(
                    HitOut(
                        hit_reference=reference,
                        category=node.policy.disclosed_category(match.category.value),
                        distance=match.distance,
                        rank=match.rank,
                    )
                )
                node.alerts.raise_alert(
                    subject_encountered_by_partner(
                        _sighting(partner, probe),
                        context=context,
                        entry_id=match.entry_id,
                        category=match.category,
                        entry_unaccompanied_minor=match.unaccompanied_minor,
                        hit_reference=reference,
                        distance=match.distance,
                    )
                )
            results[probe.probe_ref] = hits
        return results


def _sighting(partner: str, probe: ProbeIn) -> PartnerSighting:
    return PartnerSighting(
        partner=partner,
        probe_ref=probe.probe_ref,
        encounter_point=probe.encounter_point,
        encountered_at=probe.encountered_at,
        unaccompanied_minor=probe.facts.protected_category is ProtectedCategory.UNACCOMPANIED_MINOR,
    )
