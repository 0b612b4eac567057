"""Build the alerts each exchange event raises, with their dedup keys.

Alert summaries name watchlist entries, encounters and opaque references,
never a person's name; the operator opens the record for that.
"""

from __future__ import annotations

from biometric_exchange.domain import (
    CATEGORY_SEVERITY,
    Alert,
    AlertKind,
    Encounter,
    Severity,
    WatchlistCategory,
    utc_now,
)
from biometric_exchange.store.alerts import new_alert_id


def _severity(category: str) -> Severity:
    try:
        return CATEGORY_SEVERITY[WatchlistCategory(category)]
    except ValueError:
        return Severity.HIGH


def local_watchlist_hit(
    encounter: Encounter, entry_id: str, category: WatchlistCategory, distance: float
) -> tuple[Alert, str]:
    alert = Alert(
        alert_id=new_alert_id(),
        kind=AlertKind.LOCAL_WATCHLIST_HIT,
        severity=CATEGORY_SEVERITY[category],
        created_at=utc_now(),
        summary=f"encounter {encounter.encounter_id} at {encounter.border_point} matches our "
        f"watchlist entry {entry_id} ({category.value})",
        encounter_id=encounter.encounter_id,
        watchlist_entry_id=entry_id,
        category=category.value,
        distance=distance,
    )
    return alert, f"{alert.kind}:{encounter.encounter_id}:{entry_id}"


def partner_watchlist_hit(
    encounter: Encounter, partner: str, hit_reference: str, category: str, distance: float
) -> tuple[Alert, str]:
    shown = category or "undisclosed"
    alert = Alert(
        alert_id=new_alert_id(),
        kind=AlertKind.PARTNER_WATCHLIST_HIT,
        severity=_severity(category) if category else Severity.HIGH,
        created_at=utc_now(),
        summary=f"hit on {partner} watchlist, category {shown}: encounter "
        f"{encounter.encounter_id} at {encounter.border_point}, reference {hit_reference}",
        partner=partner,
        encounter_id=encounter.encounter_id,
        hit_reference=hit_reference,
        category=category or None,
        distance=distance,
    )
    return alert, f"{alert.kind}:{encounter.encounter_id}:{hit_reference}"


def subject_encountered_by_partner(
    *,
    partner: str,
    probe_ref: str,
    entry_id: str,
    category: WatchlistCategory,
    hit_reference: str,
    distance: float,
    encounter_point: str,
) -> tuple[Alert, str]:
    alert = Alert(
        alert_id=new_alert_id(),
        kind=AlertKind.SUBJECT_ENCOUNTERED_BY_PARTNER,
        severity=CATEGORY_SEVERITY[category],
        created_at=utc_now(),
        summary=f"our watchlist subject {entry_id} ({category.value}) was encountered by "
        f"{partner} at {encounter_point or 'an undisclosed point'}, reference {hit_reference}",
        partner=partner,
        watchlist_entry_id=entry_id,
        hit_reference=hit_reference,
        category=category.value,
        distance=distance,
    )
    return alert, f"{alert.kind}:{partner}:{probe_ref}:{entry_id}"
