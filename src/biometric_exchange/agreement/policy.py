"""Policy decisions from the agreement's terms, the same on both sides.

The sending node asks these questions before anything leaves (and refuses
locally); the receiving node asks them again and refuses with a gRPC status.
Each refusal carries a reason naming the rule, for both audit logs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from biometric_exchange.agreement.document import AgreementDocument
from biometric_exchange.agreement.terms import (
    Confidence,
    DetailField,
    Disclosure,
    ProtectedCategory,
    Purpose,
    Scope,
    ScopeRule,
    Step1Mode,
    TemplateProtectionTerms,
)
from biometric_exchange.domain import LegalStatus, Person
from biometric_exchange.exceptions import AgreementMismatch, AgreementRefusal, UnknownNationality
from biometric_exchange.regions import ICAO_REFUGEE_CODES, nationality


@dataclass(frozen=True)
class ScopeFacts:
    """What the scope rules look at. They stay with the sender: a probe carries the
    rule applied and a commitment to these facts, never the facts."""

    nationality: str
    age_years: int
    protected_category: ProtectedCategory | None


def protected_category(person: Person, *, age_years: int) -> ProtectedCategory | None:
    """The person's protected category, if any (unaccompanied minors first)."""
    return category_of(
        nationality_code=person.nationality,
        legal_status=person.legal_status,
        unaccompanied_minor=person.unaccompanied_minor and age_years < 18,
    )


def category_of(
    *, nationality_code: str, legal_status: LegalStatus, unaccompanied_minor: bool
) -> ProtectedCategory | None:
    """The protected category these facts put a person in: ICAO XXB/XXC (refugees under
    the 1951 Convention or otherwise) count as refugees whatever the legal status says."""
    if unaccompanied_minor:
        return ProtectedCategory.UNACCOMPANIED_MINOR
    if legal_status is LegalStatus.REFUGEE or nationality_code in ICAO_REFUGEE_CODES:
        return ProtectedCategory.REFUGEE
    if legal_status is LegalStatus.ASYLUM_SEEKER:
        return ProtectedCategory.ASYLUM_SEEKER
    return None


def scope_facts(person: Person, on: dt.date) -> ScopeFacts:
    age = person.age_on(on)
    return ScopeFacts(person.nationality, age, protected_category(person, age_years=age))


class Policy:
    """The agreement's rules as questions; every ``check_*`` raises on refusal."""

    def __init__(self, document: AgreementDocument) -> None:
        self.document = document
        self.terms = document.agreement
        self.agreement_hash = document.hash
        """Computed once: every call compares it, and computing it costs a canonical dump."""

    def check_in_force(self, today: dt.date) -> None:
        self.document.check_in_force(today)

    @property
    def template_protection(self) -> TemplateProtectionTerms:
        """The scheme and epoch templates are protected with ("none" by default)."""
        return self.terms.template_protection

    @property
    def step1_mode(self) -> Step1Mode:
        return self.terms.step1.mode

    def check_step1_mode(self, mode: Step1Mode) -> None:
        """Step 1 must travel the way the agreement says (a template never crosses in
        clear under a blind agreement)."""
        if mode is not self.terms.step1.mode:
            raise AgreementRefusal(
                f"step 1 is {self.terms.step1.mode.value} under this agreement, not {mode.value}"
            )

    def check_same_agreement(self, agreement_id: str, agreement_hash: str) -> None:
        if agreement_id != self.document.id:
            raise AgreementMismatch(f"agreement id differs from ours ({self.document.id})")
        if agreement_hash != self.agreement_hash:
            raise AgreementMismatch("agreement hash differs from ours")

    def check_key_not_revoked(self, key_id: str) -> None:
        if key_id in self.terms.revoked_keys:
            raise AgreementMismatch(f"key {key_id[:16]}… is revoked by the agreement")

    def purpose(self, value: str) -> Purpose:
        """The purpose, if the agreement allows it; else AgreementRefusal."""
        try:
            purpose = Purpose(value)
        except ValueError:
            purpose = None
        if purpose is None or purpose not in self.terms.purposes:
            raise AgreementRefusal(f"purpose {str(value)!r} is not allowed by the agreement")
        return purpose

    def scope_refusal(self, facts: ScopeFacts, purpose: Purpose) -> str | None:
        """Why a person may not be exchanged for ``purpose``, or None when they may."""
        scope = self.terms.scope
        try:
            extra_regional = nationality(facts.nationality).is_extra_regional
        except UnknownNationality:
            return f"nationality {facts.nationality!r} unknown"
        if scope.population is Scope.EXTRA_REGIONAL and not extra_regional:
            return "out of scope: nationality within the Americas"
        if facts.age_years < scope.minimum_age:
            return f"out of scope: younger than {scope.minimum_age}"
        protection = self.terms.protection
        category = facts.protected_category
        if category in protection.categories and purpose not in protection.purposes:
            return f"protected category {category}: only for {_names(protection.purposes)}"
        return None

    def scope_rule(self, purpose: Purpose) -> ScopeRule:
        """The rule a sender states for a probe it may send under ``purpose``: the
        protection rule for every probe under a purpose the agreement names for
        protected categories, the standard rule otherwise."""
        if purpose in self.terms.protection.purposes:
            return ScopeRule.PROTECTION
        return ScopeRule.STANDARD

    def stated_rule_refusal(self, rule: ScopeRule, purpose: Purpose) -> str | None:
        """Why the holder refuses a probe sent under ``rule`` for ``purpose``, or None."""
        protection = self.terms.protection
        if rule is ScopeRule.PROTECTION and purpose not in protection.purposes:
            return (
                f"scope rule {rule.value!r} (protected categories) is only for "
                f"{_names(protection.purposes)}"
            )
        return None

    def withholds_hit(self, category: ProtectedCategory | None, purpose: Purpose) -> bool:
        """A hit on a protected person of ours is not reported under a purpose the
        agreement does not name for protected categories."""
        protection = self.terms.protection
        return category in protection.categories and purpose not in protection.purposes

    def confidence_band(self, distance: float, threshold: float) -> str:
        """The hit's named band under a "banded" agreement; "" when bands are off."""
        step1 = self.terms.step1
        if step1.confidence is Confidence.NONE:
            return ""
        share = distance / threshold
        for band in step1.bands:
            if share < band.up_to:
                return band.name
        return step1.bands[-1].name

    def person_rules_apply(self, nationality_code: str) -> bool:
        """Person-level alerts fire for the agreement's population only."""
        if self.terms.scope.population is Scope.ALL:
            return True
        try:
            return nationality(nationality_code).is_extra_regional
        except UnknownNationality:
            return True

    def check_scope(self, facts: ScopeFacts, purpose: Purpose) -> None:
        reason = self.scope_refusal(facts, purpose)
        if reason is not None:
            raise AgreementRefusal(reason)

    def check_probe_count(self, count: int) -> None:
        limit = self.terms.step1.max_probes_per_request
        if not 1 <= count <= limit:
            raise AgreementRefusal(f"{count} probes; the agreement allows 1 to {limit}")

    def max_candidates(self, requested: int) -> int:
        limit = self.terms.step1.max_candidates
        return min(requested or limit, limit)

    def disclosed_category(self, category: str) -> str:
        return category if self.terms.step1.disclosure is Disclosure.HIT_AND_CATEGORY else ""

    def detail_fields(self, purpose: Purpose, requested: Iterable[str]) -> tuple[DetailField, ...]:
        """The requested step-2 fields, each allowed for ``purpose``; else AgreementRefusal."""
        allowed = self.terms.step2.fields.get(purpose, ())
        fields = []
        for name in requested:
            try:
                field = DetailField(name)
            except ValueError:
                raise AgreementRefusal(f"unknown field {name!r}") from None
            if field not in allowed:
                raise AgreementRefusal(f"field {name!r} is not allowed for purpose {purpose}")
            fields.append(field)
        if not fields:
            raise AgreementRefusal("no field requested")
        return tuple(dict.fromkeys(fields))

    def check_protected_disclosure(self, person: Person, purpose: Purpose, on: dt.date) -> None:
        """Step 2: a protected record is disclosed only for a protection purpose."""
        facts = scope_facts(person, on)
        protection = self.terms.protection
        category = facts.protected_category
        if category in protection.categories and purpose not in protection.purposes:
            raise AgreementRefusal(f"protected record ({category}): not for purpose {purpose}")


def _names(purposes: Iterable[Purpose]) -> str:
    return ", ".join(p.value for p in purposes)
