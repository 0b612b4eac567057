"""Rules that link records by face: ``IDENTITY_CONFLICT`` and ``MOVEMENT``.

* ``IDENTITY_CONFLICT``: encounters whose faces match (below the threshold)
  carry different biographic identities — names, birth date, nationality or
  document number. Found among our own encounters: one alert per face group
  (``node.send.conflicts``), one evidence item per identity that differs from
  the group's first, keyed by the identity's keyed digest. The evidence names
  the fields that differ, never their values.
* ``MOVEMENT``: a partner's probe matches one of our own encounters within
  ``movement_days``: the person moved on between the two countries. Evidence:
  transit direction and dwell time. Only our own records and the probe we
  lawfully received are compared; nothing more is disclosed to the partner.

Cases involving an unaccompanied minor go to the protection queue.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from biometric_exchange.alerts.rules import PartnerSighting, RuleContext
from biometric_exchange.crypto.lookup import keyed_hash
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

IDENTITY_FIELDS = ("names", "birth_date", "nationality", "document_number")
"""What an identity is compared on (``sex`` and the rest are not identity here)."""


def identity_fields(person: Person) -> dict[str, str]:
    """The identity as compared: names case- and space-insensitively, the rest as given."""
    return {
        "names": " ".join(f"{person.given_name} {person.family_name}".casefold().split()),
        "birth_date": person.birth_date.isoformat(),
        "nationality": person.nationality,
        "document_number": person.document_number,
    }


def identity_differences(a: Person, b: Person) -> list[str]:
    """Which identity fields differ (names compared case- and space-insensitively)."""
    first, second = identity_fields(a), identity_fields(b)
    return [name for name in IDENTITY_FIELDS if first[name] != second[name]]


def identity_digest(lookup_key: bytes, person: Person) -> str:
    """The keyed hash (``crypto.lookup``, under the node's lookup key; 128 bits, hex) of
    the identity as compared: equal for identities without differences, and no way
    back to a value without the key."""
    fields = json.dumps(identity_fields(person), sort_keys=True)
    return keyed_hash(lookup_key, "identity", fields)[:32]


@dataclass(frozen=True)
class PartnerLink:
    """Two encounters linked because both hit the same partner reference."""

    partner: str
    hit_reference: str


def identity_conflict(
    encounter: Encounter,
    anchor: Encounter,
    *,
    context: RuleContext,
    distance: float | None,
    differences: list[str],
    identity: str,
    link: PartnerLink | None = None,
) -> Alert:
    """``encounter`` shows the face of ``anchor`` (the first encounter of its face
    group, which names the subject) under another identity, whose keyed digest is
    ``identity``. One evidence item per identity: a later encounter under the same
    identity is the same key (``distance``: to the encounter's nearest match)."""
    minors = encounter.person.unaccompanied_minor or anchor.person.unaccompanied_minor
    if link is not None:
        subject_key = f"conflict:{link.partner}:{link.hit_reference}"
    else:
        subject_key = f"conflict:{anchor.encounter_id}"
    evidence: Evidence = {
        "key": f"identity:{identity}",
        "rule": AlertKind.IDENTITY_CONFLICT.value,
        "identity": identity,
        "encounters": [anchor.encounter_id, encounter.encounter_id],
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
        f"{anchor.encounter_id} under another identity ({', '.join(differences)} differ){via}",
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
