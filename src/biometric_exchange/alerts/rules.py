"""The person-level early-warning rules: which alert an exchange event raises.

Every alert names its subject (one open alert per subject and cause) and
carries evidence: scores, threshold, partner and reference, agreement and
purpose, rule. A hit on a missing person, or one involving an unaccompanied
minor, is a ``PROTECTION`` alert in the protection queue instead: it never
reaches enforcement officers. Summaries name records and references, never a
person's name. ``extraction_suspected`` is about a partner, not a person: its
evidence holds no template and no person.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from biometric_exchange.domain import (
    CATEGORY_SEVERITY,
    Alert,
    AlertKind,
    AlertQueue,
    Encounter,
    Evidence,
    Severity,
    WatchlistCategory,
    utc_now,
)
from biometric_exchange.store.alerts import new_alert_id


@dataclass(frozen=True)
class RuleContext:
    """What every piece of evidence records about the decision."""

    agreement_id: str | None
    """The agreement the decision was made under; None for a check of our own records."""
    purpose: str
    threshold: float


def _severity(category: str) -> Severity:
    try:
        return CATEGORY_SEVERITY[WatchlistCategory(category)]
    except ValueError:
        return Severity.HIGH


def _protection(category: str, *unaccompanied_minor: bool) -> bool:
    return category == WatchlistCategory.MISSING_PERSON.value or any(unaccompanied_minor)


def _kind_and_queue(protection: bool, kind: AlertKind) -> tuple[AlertKind, AlertQueue]:
    if protection:
        return AlertKind.PROTECTION, AlertQueue.PROTECTION
    return kind, AlertQueue.ENFORCEMENT


def _moment(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat()


def watchlist_hit(
    encounter: Encounter,
    *,
    context: RuleContext,
    category: str,
    distance: float | None,
    entry_id: str | None = None,
    partner: str | None = None,
    hit_reference: str | None = None,
    confidence: str | None = None,
) -> Alert:
    """Our encounter matched our watchlist (``entry_id``, with its distance) or the
    partner's (``hit_reference``: no distance crosses, a named band may)."""
    protection = _protection(category, encounter.person.unaccompanied_minor)
    kind, queue = _kind_and_queue(protection, AlertKind.WATCHLIST_HIT)
    shown = category or "undisclosed"
    if partner is None:
        subject_key = f"local:{entry_id}"
        where = f"our watchlist entry {entry_id}"
    else:
        subject_key = f"{partner}:{hit_reference}"
        where = f"{partner} watchlist, reference {hit_reference}"
    evidence: Evidence = {
        "key": f"encounter:{encounter.encounter_id}",
        "rule": kind.value,
        "source": partner or "local",
        "encounter_id": encounter.encounter_id,
        "border_point": encounter.border_point,
        "encountered_at": _moment(encounter.encountered_at),
        "distance": None if distance is None else round(distance, 6),
        "confidence": confidence,
        "threshold": context.threshold,
        "category": category or None,
        "partner": partner,
        "hit_reference": hit_reference,
        "agreement_id": context.agreement_id,
        "purpose": context.purpose,
    }
    summary = (
        f"hit on {partner} watchlist, category {shown}: encounter {encounter.encounter_id} "
        f"at {encounter.border_point}, reference {hit_reference}"
        if partner
        else f"encounter {encounter.encounter_id} at {encounter.border_point} matches {where} "
        f"({shown})"
    )
    return Alert(
        alert_id=new_alert_id(),
        kind=kind,
        severity=Severity.HIGH if protection else _severity(category),
        created_at=utc_now(),
        summary=summary,
        subject_key=subject_key,
        queue=queue,
        partner=partner,
        encounter_id=encounter.encounter_id,
        watchlist_entry_id=entry_id,
        hit_reference=hit_reference,
        category=category or None,
        distance=distance,
        evidence=(evidence,),
    )


@dataclass(frozen=True)
class PartnerSighting:
    """Where and when a partner saw the holder's subject: from the probe, only that it
    was seen by the time the probe arrived; from a later sighting report, the point
    and time."""

    partner: str
    probe_ref: str
    encounter_point: str
    """Empty until the partner reports it."""
    encountered_at: dt.datetime


def subject_encountered_by_partner(
    sighting: PartnerSighting,
    *,
    context: RuleContext,
    entry_id: str,
    category: WatchlistCategory,
    entry_unaccompanied_minor: bool,
    hit_reference: str,
    distance: float | None,
) -> Alert:
    """The holder's side of a partner hit: our subject was seen by the partner (no
    distance under a blind step 1: the holder never learns it)."""
    evidence: Evidence = {
        "key": f"{sighting.partner}:{sighting.probe_ref}",
        "partner": sighting.partner,
        "encounter_point": sighting.encounter_point,
        "encountered_at": _moment(sighting.encountered_at),
        "distance": None if distance is None else round(distance, 6),
        "threshold": context.threshold,
        "hit_reference": hit_reference,
        "agreement_id": context.agreement_id,
        "purpose": context.purpose,
    }
    return _our_subject_seen(
        entry_id,
        category,
        entry_unaccompanied_minor,
        sighting.partner,
        hit_reference,
        where=f"at {sighting.encounter_point or 'an undisclosed point'}",
        evidence=evidence,
        distance=distance,
    )


def sighting_reported(
    sighting: PartnerSighting,
    *,
    entry_id: str,
    category: WatchlistCategory,
    entry_unaccompanied_minor: bool,
    hit_reference: str,
) -> Alert:
    """Where and when the partner saw our subject, reported after its hit: joins the
    open alert the hit raised (or opens one, if that was closed meanwhile)."""
    evidence: Evidence = {
        "key": f"{sighting.partner}:{hit_reference}:sighting",
        "supplements": f"{sighting.partner}:{sighting.probe_ref}",
        "partner": sighting.partner,
        "encounter_point": sighting.encounter_point,
        "encountered_at": _moment(sighting.encountered_at),
        "hit_reference": hit_reference,
    }
    return _our_subject_seen(
        entry_id,
        category,
        entry_unaccompanied_minor,
        sighting.partner,
        hit_reference,
        where=f"at {sighting.encounter_point} on {_moment(sighting.encountered_at)[:16]}",
        evidence=evidence,
    )


def _our_subject_seen(
    entry_id: str,
    category: WatchlistCategory,
    unaccompanied_minor: bool,
    partner: str,
    hit_reference: str,
    *,
    where: str,
    evidence: Evidence,
    distance: float | None = None,
) -> Alert:
    """The one alert per watchlist subject that a partner's hits and sightings join."""
    protection = _protection(category.value, unaccompanied_minor)
    kind, queue = _kind_and_queue(protection, AlertKind.SUBJECT_ENCOUNTERED_BY_PARTNER)
    return Alert(
        alert_id=new_alert_id(),
        kind=kind,
        severity=Severity.HIGH if protection else CATEGORY_SEVERITY[category],
        created_at=utc_now(),
        summary=f"our watchlist subject {entry_id} ({category.value}) was encountered by "
        f"{partner} {where}, reference {hit_reference}",
        subject_key=f"entry:{entry_id}",
        queue=queue,
        partner=partner,
        watchlist_entry_id=entry_id,
        hit_reference=hit_reference,
        category=category.value,
        distance=distance,
        evidence=({**evidence, "rule": kind.value},),
    )


def extraction_suspected(*, partner: str, day: dt.date, reason: str, strikes: int) -> Alert:
    """``partner`` is held from step 1 for the rest of ``day`` (UTC): its probes look
    like an attempt to rebuild our watchlist templates. One open alert per partner
    and day; the evidence names the refusal that held it, never a template."""
    evidence: Evidence = {
        "key": f"{partner}:{day.isoformat()}:strike-{strikes}",
        "rule": AlertKind.EXTRACTION_SUSPECTED.value,
        "partner": partner,
        "day": day.isoformat(),
        "reason": reason,
        "strikes": strikes,
    }
    return Alert(
        alert_id=new_alert_id(),
        kind=AlertKind.EXTRACTION_SUSPECTED,
        severity=Severity.HIGH,
        created_at=utc_now(),
        summary=f"step 1 held for {partner} for the rest of {day.isoformat()} (UTC) after "
        f"{strikes} guard refusal{'s' if strikes != 1 else ''}; the last: {reason}",
        subject_key=f"partner:{partner}:{day.isoformat()}",
        queue=AlertQueue.ENFORCEMENT,
        partner=partner,
        evidence=(evidence,),
    )
