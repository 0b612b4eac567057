"""The holder's side of step 1: check the probes against the agreement, match,
issue fresh hit references, alert, reply sealed.

A probe tells us its template, the purpose and the scope rule the sender
applied (with a commitment to the facts); where and when the sender saw the
person arrives later, and only for hits (``ReportSightings``).

Plain logic, no sockets: the gRPC servicer only unpacks and packs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.agreement.commitment import commitments_digest
from biometric_exchange.agreement.terms import Step1Mode
from biometric_exchange.alerts.linking import movement
from biometric_exchange.alerts.rules import (
    PartnerSighting,
    RuleContext,
    subject_encountered_by_partner,
)
from biometric_exchange.domain import TEMPLATE_MODEL
from biometric_exchange.exceptions import AgreementRefusal, ExtractionRefusal
from biometric_exchange.node.index.encounters import EncounterMatch
from biometric_exchange.node.index.watchlist import WatchlistMatch
from biometric_exchange.node.link import Link
from biometric_exchange.node.protection import (
    ProtectedEncounters,
    ProtectedWatchlist,
    link_protection,
)
from biometric_exchange.node.rpc import IDENTIFY
from biometric_exchange.node.serve.guard import ExtractionGuard, PopulationModel
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

log = logging.getLogger(__name__)
POPULATION_SAMPLE = 200_000
"""Most templates the plausibility model is fitted on: a uniform sample of a larger
watchlist (its bands are the 0.1 % and 99.9 % quantiles, 200 templates beyond each);
fitting on every template of a 10M watchlist would copy 5 GB."""


@dataclass(frozen=True)
class _Matches:
    """What the search found for a query, before anything is written."""

    query: IdentifyQuery
    watchlist: list[list[WatchlistMatch]]
    """Per probe, the watchlist matches we may report under the query's purpose."""
    withheld: int
    """Matches on protected subjects of ours that the purpose does not let us report."""
    movements: list[list[EncounterMatch]]
    """Per probe, our recent encounters it matches."""
    received_at: dt.datetime


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
        self._fitted: tuple[int, PopulationModel | None] | None = None
        self._guard = ExtractionGuard(
            partner=link.code,
            store=link.node.extraction,
            settings=link.node.config.extraction,
            population=self._population,
            threshold=self.threshold,
        )

    def _population(self) -> PopulationModel | None:
        """The plausibility model of the gallery we search (our watchlist, in the
        link's protected domain when templates are protected; a sample of a large
        one), fitted once per version of the watchlist's entries; None while too
        small to fit. It follows the watchlist as of the latest search pass, which
        asks the store; asking it here too would cost every call a query."""
        fitted = self._fitted
        if fitted is None or fitted[0] != self._entries_version():
            version, gallery = self._fitting_rows()
            enough = len(gallery) >= self._link.node.config.extraction.min_population
            fitted = (version, PopulationModel.fit(gallery) if enough else None)
            self._fitted = fitted
        return fitted[1]

    def _entries_version(self) -> int:
        """``WatchlistEntries.version`` of the gallery we search, as of the latest pass."""
        if self._protected is not None:
            return self._protected[0].view(refresh=False)[0].version
        return self._watchlist.version

    def _fitting_rows(self) -> tuple[int, NDArray[Any]]:
        """(version, rows) the plausibility model is fitted on: the protected templates,
        or a sample of at most ``POPULATION_SAMPLE`` of the watchlist's."""
        if self._protected is not None:
            entries, gallery = self._protected[0].view(refresh=False)
            return entries.version, gallery
        return self._watchlist.sample(POPULATION_SAMPLE)

    def handle(self, envelope: pb.SealedEnvelope) -> pb.SealedEnvelope:
        try:
            return serve_sealed(self._link, IDENTIFY, envelope, self)
        except ExtractionRefusal as refusal:
            self._suspect(refusal)
            raise

    def _suspect(self, refusal: ExtractionRefusal) -> None:
        """A strike for the partner; the alert when it holds them for the day."""
        alert = self._guard.suspect(self._link.today(), refusal)
        if alert is not None:
            self._link.node.alerts.raise_alert(alert)
            log.warning(
                "step 1 held for %s: template extraction suspected",
                self._link.code,
                extra={"peer": self._link.code, "event": alert.kind.value},
            )

    def check(self, body: bytes) -> IdentifyQuery:
        """The partner must not be held; parse; then the agreement's terms, checked
        again on our side (purpose, number of probes, the scope rule each probe was
        sent under); last, the guard screens the templates."""
        link = self._link
        self._guard.check_not_held(link.today())
        query = identify_request_from_bytes(body, template_model=self.template_model)
        policy = link.policy
        policy.check_step1_mode(Step1Mode.PLAIN)
        purpose = policy.purpose(query.purpose)
        policy.check_probe_count(len(query.probes))
        for index, probe in enumerate(query.probes):
            reason = policy.stated_rule_refusal(probe.scope_rule, purpose)
            if reason is not None:
                raise AgreementRefusal(f"probes[{index}]: {reason}")
        self._guard.screen(
            [probe.probe_ref for probe in query.probes],
            np.stack([probe.template for probe in query.probes]),
        )
        return query

    def prepare(self, query: IdentifyQuery) -> _Matches:
        """Search the watchlist for every probe (keeping the matches we may report), and
        our recent encounters for movements."""
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
        purpose = link.policy.purpose(query.purpose)
        reported = [
            [m for m in found if not link.policy.withholds_hit(m.protected, purpose)]
            for found in watchlist
        ]
        withheld = sum(map(len, watchlist)) - sum(map(len, reported))
        received_at = _moment(link.node.clock())
        movements = [self._movement_matches(probe, received_at) for probe in query.probes]
        return _Matches(query, reported, withheld, movements, received_at)

    def _movement_matches(self, probe: ProbeIn, received_at: dt.datetime) -> list[EncounterMatch]:
        """Our encounters of the last ``movement_days`` the probe matches (the sender
        applied the agreement's population rule; when it saw the person it tells only
        for hits, so the window ends when the probe arrived)."""
        link = self._link
        if self._protected is not None:
            found = self._protected[1].search(probe.template)
        else:
            found = self._encounters.search(probe.template, threshold=self.threshold)
        window = dt.timedelta(days=link.node.config.alerts.movement_days)
        return [m for m in found if abs(received_at - m.encounter.encountered_at) <= window]

    def admit(self, query: IdentifyQuery, matches: _Matches) -> _Matches:
        """The daily quota, then the guard's cap on hits per watchlist entry (both
        undone with the transaction when either refuses)."""
        link = self._link
        link.node.quotas.consume(
            link.today(),
            link.code,
            QuotaKind.PROBES_RECEIVED,
            len(query.probes),
            link.terms.quotas.probes_per_day,
        )
        self._guard.count_hits(
            link.today(), [match.entry_id for found in matches.watchlist for match in found]
        )
        return matches

    def describe(self, matches: _Matches) -> Mapping[str, Any]:
        """The acceptance's audit detail: the rules the probes were sent under and the
        digest of their commitments, which the sender's log must show too."""
        probes = matches.query.probes
        return {
            "purpose": matches.query.purpose,
            "probes": len(probes),
            "scope_rules": dict(sorted(Counter(p.scope_rule.value for p in probes).items())),
            "commitments": commitments_digest(p.commitment for p in probes),
        }

    def answer(self, matches: _Matches) -> tuple[bytes, Mapping[str, Any]]:
        """Hit references and alerts for what the search found; the sealed reply's body."""
        results = self._hits(matches)
        self._movements(matches)
        detail = {
            "probes": len(results),
            "hits": sum(1 for hits in results.values() if hits),
            "withheld_protected": matches.withheld,
        }
        return identify_response_to_bytes(results), detail

    def _movements(self, matches: _Matches) -> None:
        """A probe matching one of our recent encounters: the person moved on."""
        link = self._link
        node = link.node
        query = matches.query
        context = RuleContext(link.agreement.id, query.purpose, self.threshold)
        for probe, found in zip(query.probes, matches.movements, strict=True):
            for match in found:
                node.alerts.raise_alert(
                    movement(
                        match.encounter,
                        _sighting(link.code, probe, matches.received_at),
                        own_country=node.country,
                        context=context,
                        distance=match.distance,
                    )
                )

    def _hits(self, matches: _Matches) -> dict[str, list[HitOut]]:
        """Fresh references and our alerts for the matches we may report (a hit on a
        protected subject of ours under a purpose not named for protected categories
        was left out when the search was done; its count goes to our audit)."""
        link = self._link
        node = link.node
        policy = link.policy
        query = matches.query
        context = RuleContext(link.agreement.id, query.purpose, self.threshold)
        ttl = dt.timedelta(hours=link.terms.step1.hit_reference_ttl_hours)
        results: dict[str, list[HitOut]] = {}
        for probe, probe_matches in zip(query.probes, matches.watchlist, strict=True):
            hits = []
            for match in probe_matches:
                reference = node.hit_references.issue(
                    link.code,
                    probe.probe_ref,
                    match.entry_id,
                    probe_digest=_digest(probe),
                    ttl=ttl,
                    now=matches.received_at,
                )
                hits.append(
                    HitOut(
                        hit_reference=reference,
                        category=policy.disclosed_category(match.category.value),
                        confidence=policy.confidence_band(match.distance, self.threshold),
                    )
                )
                node.alerts.raise_alert(
                    subject_encountered_by_partner(
                        _sighting(link.code, probe, matches.received_at),
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


def _digest(probe: ProbeIn) -> str:
    """What tells a retry of a probe (same template) from another probe under its
    reference."""
    return hashlib.sha256(probe.template.tobytes()).hexdigest()[:32]


def _moment(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


def _sighting(partner: str, probe: ProbeIn, received_at: dt.datetime) -> PartnerSighting:
    """What the probe itself tells: a partner saw the subject by the time it arrived."""
    return PartnerSighting(
        partner=partner,
        probe_ref=probe.probe_ref,
        encounter_point="",
        encountered_at=received_at,
    )
