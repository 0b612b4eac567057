"""Salted commitments to the scope facts of a probe: the sender is bound, nothing leaks.

A sender decides scope itself (it holds the facts) and states in the signed
request which rule it applied. With each probe it sends
``SHA-256(label ‖ len ‖ facts ‖ salt)``, where ``facts`` is the canonical JSON
of the rule, the probe reference, nationality, age, protected category, border
point and time, and ``salt`` is 16 random bytes the sender keeps. The holder
records the commitments (as one digest per request in its audit log), learns
nothing from them (the salt makes them unguessable even for the few values a
field can take), and both logs can be reconciled. An auditor who doubts a
probe asks the sender to open its commitment: the facts and salt must hash to
what the holder recorded, and the facts must satisfy the rule stated.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from biometric_exchange.agreement.policy import Policy, ScopeFacts
from biometric_exchange.agreement.terms import ProtectedCategory, Purpose, ScopeRule

LABEL = b"biometric-exchange/v1/scope-commitment"
SALT_BYTES = 16
COMMITMENT_BYTES = 32


@dataclass(frozen=True)
class ScopeOpening:
    """Everything a commitment binds, and the salt that opens it (the sender's only)."""

    probe_ref: str
    rule: ScopeRule
    facts: ScopeFacts
    encounter_point: str
    encountered_at_ms: int
    salt: bytes

    def canonical_facts(self) -> bytes:
        category = self.facts.protected_category
        return json.dumps(
            {
                "probe_ref": self.probe_ref,
                "rule": self.rule.value,
                "nationality": self.facts.nationality,
                "age_years": self.facts.age_years,
                "protected_category": category.value if category else None,
                "encounter_point": self.encounter_point,
                "encountered_at_ms": self.encountered_at_ms,
            },
            sort_keys=True,
            separators=(",", ":"),
        ).encode()

    @property
    def commitment(self) -> bytes:
        facts = self.canonical_facts()
        return hashlib.sha256(LABEL + len(facts).to_bytes(4, "big") + facts + self.salt).digest()

    @classmethod
    def from_json(cls, text: str, salt: bytes) -> ScopeOpening:
        """The opening whose ``canonical_facts`` are ``text``."""
        data = json.loads(text)
        category = data["protected_category"]
        return cls(
            probe_ref=str(data["probe_ref"]),
            rule=ScopeRule(data["rule"]),
            facts=ScopeFacts(
                str(data["nationality"]),
                int(data["age_years"]),
                ProtectedCategory(category) if category else None,
            ),
            encounter_point=str(data["encounter_point"]),
            encountered_at_ms=int(data["encountered_at_ms"]),
            salt=salt,
        )


def commit(
    probe_ref: str, rule: ScopeRule, facts: ScopeFacts, encounter_point: str, encountered_at_ms: int
) -> ScopeOpening:
    """A fresh opening (random salt) for one probe."""
    return ScopeOpening(
        probe_ref, rule, facts, encounter_point, encountered_at_ms, secrets.token_bytes(SALT_BYTES)
    )


def commitments_digest(commitments: Iterable[bytes]) -> str:
    """Hex SHA-256 over a request's commitments in probe order: what both audit logs keep."""
    digest = hashlib.sha256(LABEL + b"/request")
    for commitment in commitments:
        digest.update(commitment)
    return digest.hexdigest()


def rule_violation(policy: Policy, opening: ScopeOpening, purpose: Purpose) -> str | None:
    """Why the opened facts do not satisfy the rule the sender stated under ``purpose``
    (what an auditor checks once a commitment is opened), or None when they do."""
    facts = opening.facts
    category = facts.protected_category
    if opening.rule is ScopeRule.STANDARD and category in policy.terms.protection.categories:
        return f"rule 'standard' stated for a person in protected category {category}"
    return policy.scope_refusal(facts, purpose)
