"""Rules that link records by face: ``IDENTITY_CONFLICT`` and ``MOVEMENT``.

* ``IDENTITY_CONFLICT``: two encounters whose faces match (below the
  threshold) carry different biographic identities — names, birth date,
  nationality or document number. Found among our own encounters, and across
  the partner's step-1 hits (two of our encounters hitting the same partner
  reference, i.e. the same watchlisted face). The evidence names the fields
  that differ, never their values.
* ``MOVEMENT``: a partner's probe matches one of our own encounters within
  ``movement_days``: the person moved on between the two countries. Evidence:
  transit direction and dwell time. Only our own records and the probe we
  lawfully received are compared; nothing more is disclosed to the partner.

Cases involving an unaccompanied minor go to the protection queue.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from biometric_exchange.alerts.rules import PartnerSighting, RuleContext
from biometric_exchange.domain import (
    Alert,
    AlertKind,
    AlertQueue,
    Encounter,
    Evidence,
    Person,
    Severity,
    utc_now,
)
from biometric_exchange.store.alerts import new_alert_id


def identity_differences(a: Person, b: Person) -> list[str]:
    """Which identity fields differ (names compared case- and space-insensitively)."""

    def name(person: Person) -> str:
        return " ".join(f"{person.given_name} {person.family_name}".casefold().split())

    differences = []
    if name(a) != name(b):
        differences.append("names")
    if a.birth_date != b.birth_date:
        differences.append("birth_date")
    if a.nationality != b.nationality:
        differences.append("nationality")
    if a.document_number != b.document_number:
        differences.append("document_number")
    return differences


@dataclass(frozen=True)
class PartnerLink:
    """Two encounters linked because both hit the same partner reference."""

    partner: str
    hit_reference: str


def identity_conflict(
    encounter: Encounter,
    other: Encounter,
    *,
    context: RuleContext,
    distance: float | None,
    differences: list[str],
    link: PartnerLink | None = None,
    root: Encounter | None = None,
) -> Alert:
    """``root``: the earliest encounter of that face, which names the subject
    (one open alert gathers every other identity seen with it)."""
    first, second = sorted((encounter.encounter_id, other.encounter_id))
    minors = encounter.person.unaccompanied_minor or other.person.unaccompanied_minor
    if link is not None:
        subject_key = f"conflict:{link.partner}:{link.hit_reference}"
    else:
        subject_key = f"conflict:{(root or other).encounter_id}"
    evidence: Evidence = {
        "key": f"{first}|{second}",
        "rule": AlertKind.IDENTITY_CONFLICT.value,
        "encounters": [first, second],
        "differences": differences,
        "distance": round(distance, 6) if distance is not None else None,
        "threshold": context.threshold,
        "partner": link.partner if link else None,
        "hit_reference": link.hit_reference if link else None,
        "agreement_id": context.agreement_id,
        "purpose": context.purpose,
    }
    via = f" (both hit {link.partner} reference {link.hit_reference})" if link else ""
    return Alert(
        alert_id=new_alert_id(),
        kind=AlertKind.IDENTITY_CONFLICT,
        severity=Severity.HIGH,
        created_at=utc_now(),
        summary=f"encounter {encounter.encounter_id} shows the face of encounter "
        f"{other.encounter_id} under another identity ({', '.join(differences)} differ){via}",
        subject_key=subject_key,
        queue=AlertQueue.PROTECTION if minors else AlertQueue.ENFORCEMENT,
        partner=link.partner if link else None,
        encounter_id=encounter.encounter_id,
        hit_reference=link.hit_reference if link else None,
        distance=distance,
        evidence=(evidence,),
    )


def movement(
    ours: Encounter,
    sighting: PartnerSighting,
    *,
    own_country: str,
    context: RuleContext,
    distance: float,
) -> Alert:
    later = sighting.encountered_at >= ours.encountered_at
    direction = (
        f"{own_country} → {sighting.partner}" if later else f"{sighting.partner} → {own_country}"
    )
    dwell = abs(sighting.encountered_at - ours.encountered_at)
    dwell_days = round(dwell / dt.timedelta(days=1), 2)
    minors = ours.person.unaccompanied_minor
    evidence: Evidence = {
        "key": f"{sighting.partner}:{sighting.probe_ref}",
        "rule": AlertKind.MOVEMENT.value,
        "our_encounter": ours.encounter_id,
        "our_point": ours.border_point,
        "our_time": ours.encountered_at.astimezone(dt.UTC).isoformat(),
        "partner": sighting.partner,
        "partner_point": sighting.encounter_point,
        "partner_time": sighting.encountered_at.astimezone(dt.UTC).isoformat(),
        "direction": direction,
        "dwell_days": dwell_days,
        "distance": round(distance, 6),
        "threshold": context.threshold,
        "agreement_id": context.agreement_id,
        "purpose": context.purpose,
    }
    return Alert(
        alert_id=new_alert_id(),
        kind=AlertKind.MOVEMENT,
        severity=Severity.MEDIUM,
        created_at=utc_now(),
        summary=f"the person of encounter {ours.encounter_id} ({ours.border_point}) was "
        f"encountered by {sighting.partner} at {sighting.encounter_point or 'an undisclosed point'}"
        f": {direction}, {dwell_days} days apart",
        subject_key=f"movement:{ours.encounter_id}",
        queue=AlertQueue.PROTECTION if minors else AlertQueue.ENFORCEMENT,
        partner=sighting.partner,
        encounter_id=ours.encounter_id,
        distance=distance,
        evidence=(evidence,),
    )
