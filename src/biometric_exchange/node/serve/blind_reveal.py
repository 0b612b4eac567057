"""The holder's side of blind step 1, second half: the partner names the slots it read
as hits; we map them through the round's private order to our entries, then answer as
plain step 1 does: fresh hit references (the same store, expiry and retry rule), our
``SUBJECT_ENCOUNTERED_BY_PARTNER`` alert, the category where the agreement discloses it.

A claim must name exactly the round's probes and, per probe, distinct slots in range,
no more than the round's limit and no decoy. Anything else gets nothing: refused
(``PERMISSION_DENIED``), audited, and a strike of the extraction guard; the round is
gone either way. Hits count against the guard's per-entry daily cap.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from biometric_exchange.agreement.terms import Step1Mode
from biometric_exchange.alerts.rules import PartnerSighting, RuleContext
from biometric_exchange.alerts.rules import subject_encountered_by_partner as encountered
from biometric_exchange.exceptions import BlindClaimRefused, BlindRoundExpired, ExtractionRefusal
from biometric_exchange.node.index.watchlist import WatchlistMatch
from biometric_exchange.node.link import Link
from biometric_exchange.node.rpc import BLIND_REVEAL
from biometric_exchange.node.serve.blind_state import BlindHolder, Round, RoundProbe, blind_holder
from biometric_exchange.node.serve.sealed import serve_sealed
from biometric_exchange.node.services import Services
from biometric_exchange.serde.blind import BlindClaims, claims_from_bytes, reveal_reply_to_bytes
from biometric_exchange.serde.identify import HitOut
from biometric_exchange.v1 import exchange_pb2 as pb


@dataclass(frozen=True)
class _Revealed:
    opened: Round
    matches: dict[str, list[WatchlistMatch]]
    """Per probe of the round (its order), the entries its claimed slots hold."""


def _claimed(opened: Round, claims: BlindClaims) -> dict[str, list[WatchlistMatch]]:
    """The entries behind the claimed slots; BlindClaimRefused for any slot we did not
    give as a possible hit."""
    expected = [probe.probe_ref for probe in opened.probes]
    if list(claims.slots) != expected:
        raise BlindClaimRefused("claims do not name the round's probes")
    searched = opened.searched
    found: dict[str, list[WatchlistMatch]] = {}
    for probe in opened.probes:
        slots = claims.slots[probe.probe_ref]
        if len(slots) > opened.max_hits:
            raise BlindClaimRefused(f"{len(slots)} slots claimed; at most {opened.max_hits}")
        if len(set(slots)) != len(slots):
            raise BlindClaimRefused("a slot claimed twice")
        matches = []
        for slot in slots:
            if slot >= probe.layout.slots:
                raise BlindClaimRefused(f"slot {slot} out of range")
            row = probe.layout.row_of(slot)
            if row is None:
                raise BlindClaimRefused("a decoy slot claimed as a hit")
            matches.append(searched.entries.match(searched.rows[row], float("nan"), 0))
        found[probe.probe_ref] = matches
    return found


class BlindRevealHandler:
    """Serves one partner's reveals, under our agreement with them."""

    def __init__(self, link: Link, services: Services) -> None:
        self._link = link
        self._holder: BlindHolder = blind_holder(link, services)

    def handle(self, envelope: pb.SealedEnvelope) -> pb.SealedEnvelope:
        try:
            return serve_sealed(self._link, BLIND_REVEAL, envelope, self)
        except ExtractionRefusal as refusal:
            alert = self._holder.guard.suspect(self._link.today(), refusal)
            if alert is not None:
                self._link.node.alerts.raise_alert(alert)
            raise

    def check(self, body: bytes) -> _Revealed:
        link = self._link
        self._holder.guard.check_not_held(link.today())
        claims = claims_from_bytes(body)
        link.policy.check_step1_mode(Step1Mode.BLIND)
        opened = self._holder.take_round(claims.round_id, link.node.clock())
        if opened is None:
            raise BlindRoundExpired(f"round {claims.round_id[:32]} unknown or expired")
        return _Revealed(opened, _claimed(opened, claims))

    def prepare(self, revealed: _Revealed) -> _Revealed:
        return revealed

    def admit(self, revealed: _Revealed, _prepared: _Revealed) -> _Revealed:
        """The guard's cap on hits per watchlist entry (undone with the transaction)."""
        self._holder.guard.count_hits(
            self._link.today(),
            [match.entry_id for found in revealed.matches.values() for match in found],
        )
        return revealed

    def describe(self, revealed: _Revealed) -> Mapping[str, Any]:
        return {
            "round": revealed.opened.round_id,
            "probes": len(revealed.matches),
            "claimed": sum(map(len, revealed.matches.values())),
            "mode": Step1Mode.BLIND.value,
        }

    def answer(self, revealed: _Revealed) -> tuple[bytes, Mapping[str, Any]]:
        results = {
            probe.probe_ref: self._hits(revealed.opened, probe, revealed.matches[probe.probe_ref])
            for probe in revealed.opened.probes
        }
        detail = {
            "probes": len(results),
            "hits": sum(1 for hits in results.values() if hits),
            "mode": Step1Mode.BLIND.value,
        }
        return reveal_reply_to_bytes(results), detail

    def _hits(
        self, opened: Round, probe: RoundProbe, matches: list[WatchlistMatch]
    ) -> list[HitOut]:
        """Fresh references and our alerts, as plain step 1 issues them. A retry (same
        probe reference and commitment) gets the reference it was given."""
        link = self._link
        node = link.node
        received_at = dt.datetime.fromtimestamp(opened.created_ms / 1000, tz=dt.UTC)
        context = RuleContext(link.agreement.id, opened.purpose, self._holder.threshold)
        ttl = dt.timedelta(hours=link.terms.step1.hit_reference_ttl_hours)
        sighting = PartnerSighting(link.code, probe.probe_ref, "", received_at)
        digest = hashlib.sha256(b"blind:" + probe.commitment).hexdigest()[:32]
        hits = []
        for match in matches:
            reference = node.hit_references.issue(
                link.code,
                probe.probe_ref,
                match.entry_id,
                probe_digest=digest,
                ttl=ttl,
                now=received_at,
            )
            hits.append(HitOut(reference, link.policy.disclosed_category(match.category.value)))
            node.alerts.raise_alert(
                encountered(
                    sighting,
                    context=context,
                    entry_id=match.entry_id,
                    category=match.category,
                    entry_unaccompanied_minor=match.unaccompanied_minor,
                    hit_reference=reference,
                    distance=None,
                )
            )
        return hits
