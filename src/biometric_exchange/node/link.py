"""One partner of a node: the agreement with them, its policy, our stated purpose.

Every handler and every client takes a ``Link``: which partner a call is
made to or served for is a type, never a default. A link is made once per
partner when the node opens; what every call needs from it (the envelope
context, the agreement hash) is computed then.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from biometric_exchange import blind
from biometric_exchange.agreement import AgreementDocument, Party, Terms
from biometric_exchange.agreement.policy import Policy
from biometric_exchange.agreement.terms import Purpose, Step1Mode
from biometric_exchange.alerts.rules import RuleContext
from biometric_exchange.crypto.envelope import EnvelopeContext
from biometric_exchange.exceptions import BlindUnavailable

if TYPE_CHECKING:
    from biometric_exchange.node.runtime import Node


@dataclass(frozen=True, eq=False)
class Link:
    """``node``'s tie to one partner, under the one agreement it holds with them."""

    node: Node
    policy: Policy
    purpose: Purpose
    """The purpose we state to this partner (node.toml, per partner where set)."""
    partner: Party = field(init=False)
    envelope: EnvelopeContext = field(init=False)
    """Our keys and the partner's pins under this agreement: made once, used by every call."""

    def __post_init__(self) -> None:
        if self.policy.step1_mode is Step1Mode.BLIND and not blind.available():
            raise BlindUnavailable(
                f'agreement {self.policy.document.id}: step1.mode = "blind" needs TenSEAL; '
                f"{blind.INSTALL_HINT}"
            )
        partner = self.policy.document.partner_of(self.node.country)
        object.__setattr__(self, "partner", partner)
        context = EnvelopeContext(
            agreement_id=self.agreement.id,
            agreement_hash=self.policy.agreement_hash,
            own_party=self.node.country,
            partner_party=partner.code,
            own_signing_key=self.node.keys.signing_key,
            own_kex_key=self.node.keys.kex_key,
            partner_signing_public=partner.signing_public,
            partner_kex_public=partner.kex_public,
        )
        object.__setattr__(self, "envelope", context)

    @property
    def agreement(self) -> AgreementDocument:
        return self.policy.document

    @property
    def terms(self) -> Terms:
        return self.policy.terms

    @property
    def code(self) -> str:
        """The partner's country code."""
        return self.partner.code

    def rule_context(self) -> RuleContext:
        """Our own decisions' evidence: agreement, our purpose, our threshold."""
        threshold = self.node.config.matching.threshold
        return RuleContext(self.agreement.id, self.purpose.value, threshold)

    def today(self) -> dt.date:
        return self.node.today()

    def __repr__(self) -> str:
        return f"Link({self.node.country}→{self.code}, {self.agreement.id})"
