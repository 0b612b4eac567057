"""The holder's side of blind step 1, first half: masked encrypted decisions.

The request carries the probe encrypted under the partner's own key and names the
partner's public context by digest (the context itself the first time, or when we
ask for it). We check what plain step 1 checks that needs no template (hold, step-1
mode, purpose, probe count, scope rule, the daily quota) and evaluate the probe
against every entry the purpose may search, one partner's probe at a time. The reply
is one ciphertext per block of slots in a fresh private order; the order stays here
for the reveal (``blind_reveal``). The quota is counted; hits are counted and
referenced only at the reveal.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from biometric_exchange.agreement.commitment import commitments_digest
from biometric_exchange.agreement.terms import Purpose, Step1Mode
from biometric_exchange.blind.holder import Evaluation, evaluate
from biometric_exchange.blind.params import PROBES_PER_REQUEST
from biometric_exchange.blind.public import PublicContext
from biometric_exchange.exceptions import (
    AgreementRefusal,
    BlindBusy,
    ExtractionRefusal,
    InvalidInput,
    QuotaExceeded,
)
from biometric_exchange.node.link import Link
from biometric_exchange.node.rpc import BLIND_IDENTIFY
from biometric_exchange.node.serve.blind_state import (
    BlindHolder,
    Round,
    RoundProbe,
    SearchedRows,
    blind_holder,
    new_round_id,
)
from biometric_exchange.node.serve.sealed import serve_sealed
from biometric_exchange.node.services import Services
from biometric_exchange.serde.blind import (
    BlindAnswer,
    BlindQuery,
    blind_answer_to_bytes,
    blind_request_from_bytes,
)
from biometric_exchange.store.quotas import QuotaKind
from biometric_exchange.v1 import exchange_pb2 as pb

BUSY_WAIT_S = 30.0
"""How long a partner's second blind request waits for its first to be evaluated."""


@dataclass(frozen=True)
class _Checked:
    query: BlindQuery
    purpose: Purpose
    context: PublicContext | None
    """None: we do not hold the context the request names, and ask for it."""


@dataclass(frozen=True)
class _Evaluated:
    checked: _Checked
    searched: SearchedRows | None
    evaluations: tuple[Evaluation, ...]
    max_hits: int


class BlindIdentifyHandler:
    """Serves one partner's blind probes, under our agreement with them."""

    def __init__(self, link: Link, services: Services) -> None:
        self._link = link
        self._holder: BlindHolder = blind_holder(link, services)
        self._evaluating = threading.Lock()

    def handle(self, envelope: pb.SealedEnvelope) -> pb.SealedEnvelope:
        try:
            return serve_sealed(self._link, BLIND_IDENTIFY, envelope, self)
        except ExtractionRefusal as refusal:
            alert = self._holder.guard.suspect(self._link.today(), refusal)
            if alert is not None:
                self._link.node.alerts.raise_alert(alert)
            raise

    def check(self, body: bytes) -> _Checked:
        """Not held; the agreement's step-1 mode, purpose, probe count and scope rules;
        the daily quota not yet used up (counted at admission); the context."""
        link = self._link
        self._holder.guard.check_not_held(link.today())
        query = blind_request_from_bytes(body)
        policy = link.policy
        policy.check_step1_mode(Step1Mode.BLIND)
        purpose = policy.purpose(query.purpose)
        policy.check_probe_count(len(query.probes))
        if len(query.probes) > PROBES_PER_REQUEST:
            raise AgreementRefusal(
                f"{len(query.probes)} probes; a blind request carries {PROBES_PER_REQUEST}"
            )
        for index, probe in enumerate(query.probes):
            reason = policy.stated_rule_refusal(probe.scope_rule, purpose)
            if reason is not None:
                raise AgreementRefusal(f"probes[{index}]: {reason}")
        limit = link.terms.quotas.probes_per_day
        used = link.node.quotas.used(link.today(), link.code, QuotaKind.PROBES_RECEIVED)
        if used + len(query.probes) > limit:
            raise QuotaExceeded(f"daily quota probes_received for {link.code}: {used} of {limit}")
        return _Checked(query, purpose, self._context(query))

    def _context(self, query: BlindQuery) -> PublicContext | None:
        sent = query.context
        if sent is None:
            return self._holder.context(query.context_digest)
        if sent.digest != query.context_digest:
            raise InvalidInput("context_digest: not the digest of the context sent")
        context = PublicContext(sent)
        if context.is_private():  # pragma: no cover - a PublicContext never is
            raise InvalidInput("context: a secret key is not accepted")
        self._holder.keep_context(context)
        return context

    def prepare(self, checked: _Checked) -> _Evaluated:
        """Evaluate every probe against the rows the purpose may search (one of the
        partner's probes at a time; a second waits, then is told to ask again)."""
        if checked.context is None:
            return _Evaluated(checked, None, (), 0)
        link = self._link
        searched = self._holder.searched(checked.purpose)
        if not self._evaluating.acquire(timeout=BUSY_WAIT_S):
            raise BlindBusy(f"a blind probe of {link.code} is being evaluated")
        try:
            evaluations = tuple(
                evaluate(checked.context, probe.encrypted, searched.gallery)
                for probe in checked.query.probes
            )
        finally:
            self._evaluating.release()
        max_hits = min(
            link.policy.max_candidates(checked.query.max_candidates),
            link.node.config.matching.max_candidates,
        )
        return _Evaluated(checked, searched, evaluations, max_hits)

    def admit(self, checked: _Checked, evaluated: _Evaluated) -> _Evaluated:
        if checked.context is not None:
            link = self._link
            link.node.quotas.consume(
                link.today(),
                link.code,
                QuotaKind.PROBES_RECEIVED,
                len(checked.query.probes),
                link.terms.quotas.probes_per_day,
            )
        return evaluated

    def describe(self, evaluated: _Evaluated) -> Mapping[str, Any]:
        """As plain step 1 (rules, commitments), and which context and mode."""
        query = evaluated.checked.query
        probes = query.probes
        return {
            "purpose": query.purpose,
            "probes": len(probes),
            "scope_rules": dict(sorted(Counter(p.scope_rule.value for p in probes).items())),
            "commitments": commitments_digest(p.commitment for p in probes),
            "mode": Step1Mode.BLIND.value,
            "context": query.context_digest[:16],
            "context_required": evaluated.checked.context is None,
        }

    def answer(self, evaluated: _Evaluated) -> tuple[bytes, Mapping[str, Any]]:
        """The round kept for the reveal; the reply's blocks."""
        checked, searched = evaluated.checked, evaluated.searched
        if checked.context is None or searched is None:
            return blind_answer_to_bytes(BlindAnswer(context_required=True)), {
                "context_required": True
            }
        query = checked.query
        opened = Round(
            round_id=new_round_id(),
            created_ms=self._link.node.clock(),
            purpose=query.purpose,
            max_hits=evaluated.max_hits,
            probes=tuple(
                RoundProbe(p.probe_ref, p.scope_rule, p.commitment, e.layout)
                for p, e in zip(query.probes, evaluated.evaluations, strict=True)
            ),
            searched=searched,
        )
        self._holder.keep_round(opened)
        body = blind_answer_to_bytes(
            BlindAnswer(
                round_id=opened.round_id,
                blocks={
                    p.probe_ref: e.blocks
                    for p, e in zip(query.probes, evaluated.evaluations, strict=True)
                },
                max_hits=evaluated.max_hits,
            )
        )
        return body, {
            "probes": len(query.probes),
            "round": opened.round_id,
            "entries_searched": len(searched.gallery),
            "withheld_protected_entries": searched.withheld,
            "blocks": sum(len(e.blocks) for e in evaluated.evaluations),
            "reply_bytes": len(body),
        }
