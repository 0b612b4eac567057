"""The enrolling side: take due outbox items, check locally, exchange, alert.

For each encounter: search our own watchlist; then, for each partner whose
agreement's scope covers the person, send a sealed Identify under that
agreement (probes are batched up to its limit: template, the scope rule we
applied and a commitment to the facts, nothing about the person), raise an
alert for every hit, naming the partner, and report where and when we saw
the subjects of the hits. A partner that cannot be reached leaves its items
pending for a retry; the other partners are not held up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from biometric_exchange.agreement.commitment import commit, commitments_digest
from biometric_exchange.agreement.policy import scope_facts
from biometric_exchange.agreement.terms import ScopeRule, Step1Mode
from biometric_exchange.alerts.rules import watchlist_hit
from biometric_exchange.domain import TEMPLATE_MODEL, Encounter
from biometric_exchange.exceptions import ExchangeError, PartnerUnavailable, QuotaExceeded
from biometric_exchange.node.link import Link
from biometric_exchange.node.protection import LinkProtection, link_protection
from biometric_exchange.node.rpc import IDENTIFY
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.send.blind import TIMEOUT_S as BLIND_TIMEOUT_S
from biometric_exchange.node.send.blind import BlindClient
from biometric_exchange.node.send.conflicts import link_identity
from biometric_exchange.node.send.ping import check_partner_agreement
from biometric_exchange.node.send.round_trip import round_trip
from biometric_exchange.node.send.sightings import report_sightings
from biometric_exchange.node.services import Services
from biometric_exchange.node.transport import PeerTransport
from biometric_exchange.serde.common import to_ms
from biometric_exchange.serde.identify import (
    HitOut,
    IdentifyQuery,
    ProbeIn,
    identify_request_to_bytes,
    identify_response_from_bytes,
)
from biometric_exchange.serde.sightings import Sighting
from biometric_exchange.store.audit import AuditEvent, AuditOutcome
from biometric_exchange.store.openings import StoredOpening
from biometric_exchange.store.outbox import OutboxItem
from biometric_exchange.store.quotas import QuotaKind

log = logging.getLogger(__name__)
HOLD_MS = 60 * 60 * 1000
"""How long items wait when the agreement forbids sending now (not in force, mismatch)."""
DAY_MS = 24 * 60 * 60 * 1000
AWAIT_RELOAD_MS = 5_000
"""How long an item to a partner whose agreement is on disk but not loaded waits."""
CALL_LEASE_MARGIN_MS = 5_000
"""Beyond the call's deadline, how long items about to be sent stay leased (shared store)."""
PASS_BUDGET_S = 2.0
"""A pass takes no more items after this long, so that a stop request, a reload
and the other chores are never far away."""


def _ms_to_next_utc_day(now_ms: int) -> int:
    return DAY_MS - now_ms % DAY_MS


@dataclass(frozen=True)
class _Pending:
    item: OutboxItem
    encounter: Encounter


class ExchangeWorker:
    """Works the outbox: local checks once per encounter, then one exchange per partner.

    ``transports`` is the way to each partner, by partner code; it may change
    between passes (a running node loads new agreements). ``awaits`` is asked
    about an item to a partner we hold no link to: True when that partner's
    agreement is on disk but not loaded yet, and the item waits. A pass stops
    taking items when ``stop`` is set or after ``budget_s`` seconds (``monotonic``
    measures them); what it did not take stays pending for the next pass, and
    one partner's failure leaves the others' items untouched.
    """

    def __init__(
        self,
        node: Node,
        services: Services,
        transports: Mapping[str, PeerTransport],
        *,
        awaits: Callable[[str], bool] | None = None,
        stop: threading.Event | None = None,
        budget_s: float = PASS_BUDGET_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._node = node
        self._watchlist = services.watchlist
        self._encounters = services.encounters
        self._transports = transports
        self._awaits = awaits
        self._stop = stop or threading.Event()
        self._budget_s = budget_s
        self._monotonic = monotonic
        self._protections: dict[str, tuple[Link, LinkProtection | None]] = {}
        """Each link's template protection, derived once per link."""
        self._blind = BlindClient()
        """Each link's keys for a blind step 1 (``step1.mode = "blind"``)."""

    def scope_refusal(self, encounter: Encounter, link: Link) -> str | None:
        """Why ``link``'s agreement forbids sending this encounter, or None."""
        facts = scope_facts(encounter.person, encounter.encountered_at.date())
        return link.policy.scope_refusal(facts, link.purpose)

    def run_once(self, *, limit: int = 32) -> int:
        """Process up to ``limit`` due items once (fairly across partners); return how
        many were taken. Items left when the pass stops early stay pending."""
        node = self._node
        deadline = self._monotonic() + self._budget_s
        items = node.outbox.claim(limit=limit)
        checked: dict[str, Encounter] = {}
        to_send: dict[str, list[_Pending]] = {}
        taken = 0
        for item in items:
            if self._stop.is_set() or self._monotonic() >= deadline:
                node.outbox.release(items[taken:])
                break
            taken += 1
            try:
                self._take(item, checked, to_send)
            except Exception:  # one record's trouble must not hold up the others
                log.exception("outbox item of %s not processed", item.partner)
                node.outbox.retry_if_pending(item, "not processed: internal error")
        partners = list(to_send)
        for turn, partner in enumerate(partners):
            pending = to_send[partner]
            if self._stop.is_set():
                # these stay pending; their local check is idempotent. The partners
                # already sent to keep what that set (back-off, holds).
                node.outbox.release(
                    [each.item for later in partners[turn:] for each in to_send[later]]
                )
                break
            # A lease that ran out meanwhile (a slow partner before this one) may have
            # let another process claim these: send only what is still ours.
            ours = {
                (i.encounter_id, i.partner) for i in node.outbox.renew([p.item for p in pending])
            }
            pending = [p for p in pending if (p.item.encounter_id, p.item.partner) in ours]
            if not pending:
                continue
            try:
                self._send_all(node.link(partner), pending)
            except Exception:  # one partner's trouble must not hold up the others
                log.exception("exchange with %s failed", partner)
                for each in pending:
                    node.outbox.retry_if_pending(each.item, "not sent: internal error")
        return taken

    def _take(
        self, item: OutboxItem, checked: dict[str, Encounter], to_send: dict[str, list[_Pending]]
    ) -> None:
        """Check ``item``'s encounter locally (once a pass) and file it to send or not."""
        node = self._node
        encounter = checked.get(item.encounter_id) or node.records.encounter(item.encounter_id)
        if encounter is None:  # pragma: no cover - foreign key forbids it
            node.outbox.mark_failed(item, "encounter missing")
            return
        if item.encounter_id not in checked:
            self._check_local(encounter)
            checked[item.encounter_id] = encounter
        if self._awaiting_agreement(item.partner):
            reason = f"agreement with {item.partner} on disk, not loaded yet (bx node reload)"
            log.warning("items for %s wait: its agreement is not loaded yet", item.partner)
            node.outbox.hold(item, reason, node.clock() + AWAIT_RELOAD_MS)
            return
        refusal = self._refusal_for(item, encounter)
        if refusal is None:
            to_send.setdefault(item.partner, []).append(_Pending(item, encounter))
        else:
            self._not_sent(item, refusal)

    def _awaiting_agreement(self, partner: str) -> bool:
        if partner in self._node.partner_codes or self._awaits is None:
            return False
        return self._awaits(partner)

    def _refusal_for(self, item: OutboxItem, encounter: Encounter) -> str | None:
        if item.partner not in self._node.partner_codes:
            return f"no agreement with {item.partner} any more"
        if item.partner not in self._transports:
            return f"no way configured to reach {item.partner}"
        return self.scope_refusal(encounter, self._node.link(item.partner))

    def _not_sent(self, item: OutboxItem, reason: str) -> None:
        """The agreement forbids sending this record: say so in the audit log."""
        node = self._node
        node.audit.record(
            AuditEvent.IDENTIFY_SENT,
            AuditOutcome.REJECTED,
            peer=item.partner,
            message_id=None,
            encounter_id=item.encounter_id,
            reason=reason,
            decided_by="sender",
        )
        node.outbox.mark_out_of_scope(item, reason)

    def _send_all(self, link: Link, to_send: list[_Pending]) -> None:
        """Refuse locally what ``link``'s agreement forbids now; send the rest in batches."""
        node = self._node
        try:
            link.policy.check_in_force(node.today())
            link.policy.purpose(link.purpose)
            check_partner_agreement(link, self._transports[link.code])
        except PartnerUnavailable as exc:
            self._retry(to_send, exc)
            return
        except ExchangeError as exc:
            self._hold(link, to_send, exc, retry_in_ms=HOLD_MS)
            return
        terms = link.terms
        limit, partner = terms.quotas.probes_per_day, link.code
        start = 0
        while start < len(to_send) and not self._stop.is_set():
            left = limit - node.quotas.used(node.today(), partner, QuotaKind.PROBES_SENT)
            taken = to_send[start : start + max(1, min(terms.step1.max_probes_per_request, left))]
            start += len(taken)
            batch = self._held_through_call(link, taken)
            if not batch:
                continue
            try:
                node.quotas.consume(node.today(), partner, QuotaKind.PROBES_SENT, len(batch), limit)
            except QuotaExceeded as exc:
                self._hold(
                    link,
                    [*batch, *to_send[start:]],
                    exc,
                    retry_in_ms=_ms_to_next_utc_day(node.clock()),
                )
                return
            self._exchange(link, batch)

    def _held_through_call(self, link: Link, batch: list[_Pending]) -> list[_Pending]:
        """Those of ``batch`` still this process's own, leased past the longest the call
        can take (a lease that ran out mid-call would let another process send them too)."""
        timeout_s = self._node.config.exchange.request_timeout_s
        if link.policy.step1_mode is Step1Mode.BLIND:
            timeout_s = max(timeout_s, BLIND_TIMEOUT_S)
        timeout_ms = round(timeout_s * 1000)
        ours = {
            (item.encounter_id, item.partner)
            for item in self._node.outbox.renew(
                [each.item for each in batch], at_least_ms=timeout_ms + CALL_LEASE_MARGIN_MS
            )
        }
        return [each for each in batch if (each.item.encounter_id, each.item.partner) in ours]

    def _retry(self, batch: list[_Pending], error: PartnerUnavailable) -> None:
        """The partner is unreachable: back off exponentially, lose nothing."""
        log.warning("partner unavailable, %d probes will be retried", len(batch))
        for pending in batch:
            self._node.outbox.retry_later(pending.item, str(error))

    def _hold(
        self, link: Link, pending: list[_Pending], error: ExchangeError, *, retry_in_ms: int
    ) -> None:
        """Keep items pending (nothing is lost) and audit the local refusal."""
        node = self._node
        node.audit.record(
            AuditEvent.IDENTIFY_SENT,
            AuditOutcome.REJECTED,
            peer=link.code,
            message_id=None,
            probes=len(pending),
            reason=str(error),
            decided_by="sender",
        )
        log.warning("%d probes held: %s", len(pending), type(error).__name__)
        for item in pending:
            node.outbox.hold(item.item, str(error), node.clock() + retry_in_ms)

    def _check_local(self, encounter: Encounter) -> None:
        """Person-level rules on our own records (for any agreement's population)."""
        node = self._node
        nationality = encounter.person.nationality
        try:
            if any(link.policy.person_rules_apply(nationality) for link in node.links()):
                self._watchlist_hits(encounter)
                self._identity_conflicts(encounter)
        finally:
            self._encounters.add(encounter)

    def _identity_conflicts(self, encounter: Encounter) -> None:
        """The same face among our encounters under another identity: one alert per
        face group, at most one evidence row per encounter (``send.conflicts``)."""
        link_identity(self._node, self._encounters, encounter)

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
                    context=node.local_rule_context(),
                    category=match.category.value,
                    distance=match.distance,
                    entry_id=match.entry_id,
                )
            )

    def _exchange(self, link: Link, batch: list[_Pending]) -> None:
        node = self._node
        try:
            results = self._identify(link, batch)
        except PartnerUnavailable as exc:
            self._retry(batch, exc)
            return
        except ExchangeError as exc:
            log.error("exchange refused for %d probes: %s", len(batch), type(exc).__name__)
            for pending in batch:
                node.outbox.mark_failed(pending.item, str(exc))
            return
        sightings: list[Sighting] = []
        for pending in batch:
            encounter = pending.encounter
            for hit in results.get(pending.item.probe_ref, []):
                node.alerts.raise_alert(
                    watchlist_hit(
                        encounter,
                        context=link.rule_context(),
                        category=hit.category,
                        distance=None,
                        confidence=hit.confidence or None,
                        partner=link.code,
                        hit_reference=hit.hit_reference,
                    )
                )
                sightings.append(
                    Sighting(hit.hit_reference, encounter.border_point, encounter.encountered_at)
                )
            node.outbox.mark_done(pending.item)
        if sightings:
            self._report(link, sightings)

    def _report(self, link: Link, sightings: list[Sighting]) -> None:
        """Where and when we saw the partner's subjects. A failure is in our audit log
        and costs the partner's alert its place and time, nothing else."""
        try:
            report_sightings(link, self._transports[link.code], sightings)
        except ExchangeError as exc:
            log.warning("%d sightings not reported: %s", len(sightings), type(exc).__name__)

    def _protection(self, link: Link) -> LinkProtection | None:
        held = self._protections.get(link.code)
        if held is None or held[0] is not link:
            held = (link, link_protection(link))
            self._protections[link.code] = held
        return held[1]

    def _identify(self, link: Link, batch: list[_Pending]) -> dict[str, list[HitOut]]:
        protection = self._protection(link)
        templates = [p.encounter.template for p in batch]
        if protection is not None:
            templates = list(protection.protect(np.stack(templates)))
        rule = link.policy.scope_rule(link.purpose)
        commitments = self._commitments(link, rule, batch)
        query = IdentifyQuery(
            purpose=link.purpose.value,
            max_candidates=link.terms.step1.max_candidates,
            template_model=TEMPLATE_MODEL if protection is None else protection.model_id,
            probes=tuple(
                ProbeIn(
                    probe_ref=p.item.probe_ref,
                    template=template,
                    scope_rule=rule,
                    commitment=commitments[p.item.probe_ref],
                )
                for p, template in zip(batch, templates, strict=True)
            ),
        )
        if link.policy.step1_mode is Step1Mode.BLIND:
            return self._blind.identify(link, self._transports[link.code], query)
        return round_trip(
            link,
            self._transports[link.code],
            IDENTIFY,
            identify_request_to_bytes(query),
            identify_response_from_bytes,
            sent={
                "purpose": query.purpose,
                "probes": len(batch),
                "scope_rules": {rule.value: len(batch)},
                "commitments": commitments_digest(p.commitment for p in query.probes),
                "probe_refs": [p.probe_ref for p in query.probes],
            },
            summary=lambda results: {"hits": sum(1 for hits in results.values() if hits)},
        )

    def _commitments(self, link: Link, rule: ScopeRule, batch: list[_Pending]) -> dict[str, bytes]:
        """Each probe's commitment to its scope facts under ``rule``; the opening stays
        with us (a probe sent again keeps its first commitment)."""
        openings = []
        for pending in batch:
            encounter = pending.encounter
            opening = commit(
                pending.item.probe_ref,
                rule,
                scope_facts(encounter.person, encounter.encountered_at.date()),
                encounter.border_point,
                to_ms(encounter.encountered_at),
            )
            openings.append(
                StoredOpening(
                    opening.probe_ref,
                    link.code,
                    opening.canonical_facts().decode(),
                    opening.salt,
                    opening.commitment,
                )
            )
        kept = self._node.scope_openings.keep(link.code, openings)
        return {ref: stored.commitment for ref, stored in kept.items()}
