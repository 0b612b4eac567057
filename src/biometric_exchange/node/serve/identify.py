"""The holder's side of step 1: check the probes against the agreement, match,
issue hit references, alert, reply sealed.

Plain logic, no sockets: the gRPC servicer only unpacks and packs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from biometric_exchange.agreement.terms import ProtectedCategory
from biometric_exchange.alerts.linking import movement
from biometric_exchange.alerts.rules import (
    PartnerSighting,
    RuleContext,
    subject_encountered_by_partner,
)
from biometric_exchange.domain import TEMPLATE_MODEL
from biometric_exchange.exceptions import AgreementRefusal
from biometric_exchange.node.index.encounters import EncounterMatch
from biometric_exchange.node.index.watchlist import WatchlistMatch
from biometric_exchange.node.link import Link
from biometric_exchange.node.protection import (
    ProtectedEncounters,
    ProtectedWatchlist,
    link_protection,
)
from biometric_exchange.node.rpc import IDENTIFY
from biometric_exchange.node.serve.sealed import serve_sealed
from biometric_exchange.node.services import Services
from biometric_exchange.serde.identify import (
    HitOut,
    IdentifyQuery,
    ProbeIn,
    identify_request_from_bytes,
    identify_response_to_bytes,
)
from biometric_exchange.store.quotas import QuotaKind
from biometric_exchange.v1 import exchange_pb2 as pb


@dataclass(frozen=True)
class _Matches:
    """What the search found for a query, before anything is written."""

    query: IdentifyQuery
    watchlist: list[list[WatchlistMatch]]
    movements: list[list[EncounterMatch]]
    """Per probe, our recent encounters it matches (empty where the rules do not apply)."""


class IdentifyHandler:
    """Serves one partner, under our agreement with them."""

    def __init__(self, link: Link, services: Services) -> None:
        self._link = link
        self._watchlist = services.watchlist
        self._encounters = services.encounters
        protection = link_protection(link)
        self._protected: tuple[ProtectedWatchlist, ProtectedEncounters] | None = None
        self.template_model = TEMPLATE_MODEL
        self.threshold = link.node.config.matching.threshold
        """Our matching threshold, or the protection scheme's under a protected agreement."""
        if protection is not None:
            self._protected = (
                ProtectedWatchlist(services.watchlist, protection),
                ProtectedEncounters(services.encounters, protection),
            )
            self.template_model = protection.model_id
            self.threshold = protection.scheme.threshold

    def handle(self, envelope: pb.SealedEnvelope) -> pb.SealedEnvelope:
        return serve_sealed(self._link, IDENTIFY, envelope, self)

    def check(self, body: bytes) -> IdentifyQuery:
        """Parse; then the agreement's terms, checked again on our side."""
        query = identify_request_from_bytes(body, template_model=self.template_model)
        policy = self._link.policy
        purpose = policy.purpose(query.purpose)
        policy.check_probe_count(len(query.probes))
        for index, probe in enumerate(query.probes):
            reason = policy.scope_refusal(probe.facts, purpose)
            if reason is not None:
                raise AgreementRefusal(f"probes[{index}]: {reason}")
        return query

    def prepare(self, query: IdentifyQuery) -> _Matches:
        """Search the watchlist for every probe, and our recent encounters for movements."""
        link = self._link
        max_candidates = min(
            link.policy.max_candidates(query.max_candidates),
            link.node.config.matching.max_candidates,
        )
        templates = [probe.template for probe in query.probes]
        if self._protected is not None:
            watchlist = self._protected[0].search(templates, max_candidates=max_candidates)
        else:
            watchlist = self._watchlist.search(
                templates, threshold=self.threshold, max_candidates=max_candidates
            )
        movements = [self._movement_matches(probe) for probe in query.probes]
        return _Matches(query, watchlist, movements)

    def _movement_matches(self, probe: ProbeIn) -> list[EncounterMatch]:
        link = self._link
        if not link.policy.person_rules_apply(probe.facts.nationality):
            return []
        if self._protected is not None:
            found = self._protected[1].search(probe.template)
        else:
            found = self._encounters.search(probe.template, threshold=self.threshold)
        window = dt.timedelta(days=link.node.config.alerts.movement_days)
        return [
            m for m in found if abs(probe.encountered_at - m.encounter.encountered_at) <= window
        ]

    def admit(self, query: IdentifyQuery, matches: _Matches) -> _Matches:
        link = self._link
        link.node.quotas.consume(
            link.today(),
            link.code,
            QuotaKind.PROBES_RECEIVED,
            len(query.probes),
            link.terms.quotas.probes_per_day,
        )
        return matches

    def describe(self, matches: _Matches) -> Mapping[str, Any]:
        return {"purpose": matches.query.purpose, "probes": len(matches.query.probes)}

    def answer(self, matches: _Matches) -> tuple[bytes, Mapping[str, Any]]:
        """Hit references and alerts for what the search found; the sealed reply's body."""
        query = matches.query
        results = self._hits(query, matches.watchlist)
        self._movements(query, matches.movements)
        detail = {
            "probes": len(results),
            "hits": sum(1 for hits in results.values() if hits),
        }
        return identify_response_to_bytes(results), detail

    def _movements(self, query: IdentifyQuery, found: list[list[EncounterMatch]]) -> None:
        """A probe matching one of our recent encounters: the person moved on."""
        link = self._link
        node = link.node
        context = RuleContext(link.agreement.id, query.purpose, self.threshold)
        for probe, matches in zip(query.probes, found, strict=True):
            for match in matches:
                node.alerts.raise_alert(
                    movement(
                        match.encounter,
                        _sighting(link.code, probe),
                        own_country=node.country,
                        context=context,
                        distance=match.distance,
                    )
                )

    def _hits(
        self, query: IdentifyQuery, found: list[list[WatchlistMatch]]
    ) -> dict[str, list[HitOut]]:
        link = self._link
        node = link.node
        context = RuleContext(link.agreement.id, query.purpose, self.threshold)
        ttl = dt.timedelta(hours=link.terms.step1.hit_reference_ttl_hours)
        results: dict[str, list[HitOut]] = {}
        for probe, probe_matches in zip(query.probes, found, strict=True):
            hits = []
            for match in probe_matches:
                reference = node.hit_references.issue(
                    link.code, probe.probe_ref, match.entry_id, ttl=ttl
                )
                hits.append(
                    HitOut(
                        hit_reference=reference,
                        category=link.policy.disclosed_category(match.category.value),
                        distance=match.distance,
                        rank=match.rank,
                    )
                )
                node.alerts.raise_alert(
                    subject_encountered_by_partner(
                        _sighting(link.code, probe),
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
