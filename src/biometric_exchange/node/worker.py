"""The enrolling side: take due outbox items, check locally, exchange, alert.

For each encounter: search our own watchlist; then, when the agreement's
scope covers the person, send a sealed Identify to the partner (probes are
batched up to the agreement's limit) and raise an alert for every hit.
A partner that cannot be reached leaves the items pending for a retry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from biometric_exchange.agreement.policy import scope_facts
from biometric_exchange.alerts.linking import PartnerLink, identity_conflict, identity_differences
from biometric_exchange.alerts.rules import watchlist_hit
from biometric_exchange.domain import Encounter
from biometric_exchange.exceptions import (
    AgreementMismatch,
    ExchangeError,
    PartnerUnavailable,
    QuotaExceeded,
)
from biometric_exchange.node.encounter_index import EncounterIndex
from biometric_exchange.node.outbound import IDENTIFY, round_trip
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.transport import PeerTransport
from biometric_exchange.node.watchlist_index import WatchlistIndex
from biometric_exchange.serde import (
    HitOut,
    IdentifyQuery,
    ProbeIn,
    identify_request_to_bytes,
    identify_response_from_bytes,
)
from biometric_exchange.store.audit import AuditEvent, AuditOutcome
from biometric_exchange.store.outbox import OutboxItem
from biometric_exchange.store.quotas import QuotaKind
from biometric_exchange.v1 import exchange_pb2 as pb

log = logging.getLogger(__name__)
HOLD_MS = 60 * 60 * 1000
"""How long items wait when the agreement forbids sending now (not in force, mismatch)."""
DAY_MS = 24 * 60 * 60 * 1000


def _ms_to_next_utc_day(now_ms: int) -> int:
    return DAY_MS - now_ms % DAY_MS


@dataclass(frozen=True)
class _Pending:
    item: OutboxItem
    encounter: Encounter


class ExchangeWorker:
    def __init__(
        self,
        node: Node,
        watchlist: WatchlistIndex,
        transport: PeerTransport,
        encounters: EncounterIndex | None = None,
    ) -> None:
        self._node = node
        self._watchlist = watchlist
        self._transport = transport
        self._encounters = encounters if encounters is not None else EncounterIndex(node.records)

    def scope_refusal(self, encounter: Encounter) -> str | None:
        """Why the agreement forbids sending this encounter, or None."""
        node = self._node
        facts = scope_facts(encounter.person, encounter.encountered_at.date())
        return node.policy.scope_refusal(facts, node.config.exchange.purpose)

    def run_once(self) -> int:
        """Process every due item once; return how many were taken."""
        items = self._node.outbox.due()
        to_send: list[_Pending] = []
        for item in items:
            encounter = self._node.records.encounter(item.encounter_id)
            if encounter is None:  # pragma: no cover - foreign key forbids it
                self._node.outbox.mark_failed(item.encounter_id, "encounter missing")
                continue
            self._check_local(encounter)
            refusal = self.scope_refusal(encounter)
            if refusal is None:
                to_send.append(_Pending(item, encounter))
            else:
                self._not_sent(item, refusal)
        if to_send:
            self._send_all(to_send)
        return len(items)

    def _not_sent(self, item: OutboxItem, reason: str) -> None:
        """The agreement forbids sending this record: say so in the audit log."""
        node = self._node
        node.audit.record(
            AuditEvent.IDENTIFY_SENT,
            AuditOutcome.REJECTED,
            peer=node.partner.code,
            message_id=None,
            encounter_id=item.encounter_id,
            reason=reason,
            decided_by="sender",
        )
        node.outbox.mark_out_of_scope(item.encounter_id, reason)

    def _send_all(self, to_send: list[_Pending]) -> None:
        """Refuse locally what the agreement forbids now; send the rest in batches."""
        node = self._node
        try:
            node.policy.check_in_force(node.today())
            node.policy.purpose(node.config.exchange.purpose)
            self._check_partner_agreement()
        except PartnerUnavailable as exc:
            self._retry(to_send, exc)
            return
        except ExchangeError as exc:
            self._hold(to_send, exc, retry_in_ms=HOLD_MS)
            return
        terms = node.agreement.agreement
        limit, partner = terms.quotas.probes_per_day, node.partner.code
        start = 0
        while start < len(to_send):
            left = limit - node.quotas.used(node.today(), partner, QuotaKind.PROBES_SENT)
            batch = to_send[start : start + max(1, min(terms.step1.max_probes_per_request, left))]
            try:
                node.quotas.consume(node.today(), partner, QuotaKind.PROBES_SENT, len(batch), limit)
            except QuotaExceeded as exc:
                self._hold(to_send[start:], exc, retry_in_ms=_ms_to_next_utc_day(node.clock()))
                return
            self._exchange(batch)
            start += len(batch)

    def _retry(self, batch: list[_Pending], error: PartnerUnavailable) -> None:
        """The partner is unreachable: back off exponentially, lose nothing."""
        log.warning("partner unavailable, %d probes will be retried", len(batch))
        for pending in batch:
            self._node.outbox.retry_later(
                pending.item.encounter_id, str(error), pending.item.attempts + 1
            )

    def _check_partner_agreement(self) -> None:
        """Ping: refuse to exchange when the partner holds another agreement."""
        node = self._node
        response = self._transport.ping(
            pb.PingRequest(
                sender=node.country,
                agreement_hash=node.policy.agreement_hash,
                sent_at_ms=node.clock(),
            ),
            timeout=node.config.exchange.request_timeout_s,
        )
        if not response.agreement_matches:
            raise AgreementMismatch("the partner holds a different agreement (Ping)")

    def _hold(self, pending: list[_Pending], error: ExchangeError, *, retry_in_ms: int) -> None:
        """Keep items pending (nothing is lost) and audit the local refusal."""
        node = self._node
        node.audit.record(
            AuditEvent.IDENTIFY_SENT,
            AuditOutcome.REJECTED,
            peer=node.partner.code,
            message_id=None,
            probes=len(pending),
            reason=str(error),
            decided_by="sender",
        )
        log.warning("%d probes held: %s", len(pending), type(error).__name__)
        for item in pending:
            node.outbox.hold(item.item.encounter_id, str(error), node.clock() + retry_in_ms)

    def _check_local(self, encounter: Encounter) -> None:
        """Person-level rules on our own records (for the agreement's population only)."""
        node = self._node
        try:
            if node.policy.person_rules_apply(encounter.person.nationality):
                self._watchlist_hits(encounter)
                self._identity_conflicts(encounter)
        finally:
            self._encounters.add(encounter)

    def _identity_conflicts(self, encounter: Encounter) -> None:
        """The same face among our encounters under another identity."""
        node = self._node
        matches = [
            m
            for m in self._encounters.search(
                encounter.template, threshold=node.config.matching.threshold
            )
            if m.encounter.encounter_id != encounter.encounter_id
        ]
        if not matches:
            return
        root = min((m.encounter for m in matches), key=lambda e: (e.encountered_at, e.encounter_id))
        for match in matches:
            differences = identity_differences(encounter.person, match.encounter.person)
            if differences:
                node.alerts.raise_alert(
                    identity_conflict(
                        encounter,
                        match.encounter,
                        context=node.rule_context(),
                        distance=match.distance,
                        differences=differences,
                        root=root,
                    )
                )

    def _partner_conflicts(self, encounter: Encounter, alert_id: str, reference: str) -> None:
        """Two of our encounters hit the same partner reference under different identities."""
        node = self._node
        alert = node.alerts.get(alert_id)
        if alert is None:  # pragma: no cover - just raised
            return
        link = PartnerLink(node.partner.code, reference)
        others = {str(e["encounter_id"]) for e in alert.evidence if e.get("encounter_id")}
        for other_id in sorted(others - {encounter.encounter_id}):
            other = node.records.encounter(other_id)
            if other is None:
                continue
            differences = identity_differences(encounter.person, other.person)
            if differences:
                node.alerts.raise_alert(
                    identity_conflict(
                        encounter,
                        other,
                        context=node.rule_context(),
                        distance=None,
                        differences=differences,
                        link=link,
                    )
                )

    def _watchlist_hits(self, encounter: Encounter) -> None:
        node = self._node
        config = node.config.matching
        (matches,) = self._watchlist.search(
            [encounter.template], threshold=config.threshold, max_candidates=config.max_candidates
        )
        for match in matches:
            node.alerts.raise_alert(
                watchlist_hit(
                    encounter,
                    context=node.rule_context(),
                    category=match.category.value,
                    distance=match.distance,
                    entry_id=match.entry_id,
                )
            )

    def _exchange(self, batch: list[_Pending]) -> None:
        node = self._node
        try:
            results = self._identify(batch)
        except PartnerUnavailable as exc:
            self._retry(batch, exc)
            return
        except ExchangeError as exc:
            log.error("exchange refused for %d probes: %s", len(batch), type(exc).__name__)
            for pending in batch:
                node.outbox.mark_failed(pending.item.encounter_id, str(exc))
            return
        for pending in batch:
            for hit in results.get(pending.item.probe_ref, []):
                raised = node.alerts.raise_alert(
                    watchlist_hit(
                        pending.encounter,
                        context=node.rule_context(),
                        category=hit.category,
                        distance=hit.distance,
                        partner=node.partner.code,
                        hit_reference=hit.hit_reference,
                    )
                )
                if not raised.new:
                    self._partner_conflicts(pending.encounter, raised.alert_id, hit.hit_reference)
            node.outbox.mark_done(pending.item.encounter_id)

    def _identify(self, batch: list[_Pending]) -> dict[str, list[HitOut]]:
        node = self._node
        query = IdentifyQuery(
            purpose=node.config.exchange.purpose,
            max_candidates=node.agreement.agreement.step1.max_candidates,
            probes=tuple(
                ProbeIn(
                    probe_ref=p.item.probe_ref,
                    template=p.encounter.template,
                    encounter_point=p.encounter.border_point,
                    encountered_at=p.encounter.encountered_at,
                    facts=scope_facts(p.encounter.person, p.encounter.encountered_at.date()),
                )
                for p in batch
            ),
        )
        timeout = node.config.exchange.request_timeout_s
        return round_trip(
            node,
            IDENTIFY,
            identify_request_to_bytes(query),
            lambda request: self._transport.identify(request, timeout=timeout),
            identify_response_from_bytes,
            sent={"purpose": query.purpose, "probes": len(batch)},
            summary=lambda results: {"hits": sum(1 for hits in results.values() if hits)},
        )
