"""The surge monitor: assess both parties' daily counts, raise FLOW_SURGE.

Each run (``node.surges.run_monitor``) first asks each partner for its counts
of the last ``WINDOW_DAYS`` days (baseline plus lookback), then tests every
(party, nationality, border point) series, ours unsuppressed and the
partners' as stored, day by day over that window as one family a day
(``surge.scan``: exact tests, Holm across the day's series, flagged days kept
out of later evidence), and reports the surges of the last ``LOOKBACK_DAYS``
days (today included, so a surge shows while the day runs: today's count so
far against a whole day's exposure, which only makes the test cautious). A
series starts at the party's first day of data: earlier days are not zeros.
Days a series raised in
earlier runs (``raised_days``, the alerts' evidence) stay flagged for the
scan, so a surge's days never become its baseline. Each surge day is one
evidence item of the open FLOW_SURGE alert of its
series (subject ``surge:{party}:{nationality}:{border_point}``), keyed
``{day}:{impact}``: re-running adds nothing, while a day whose count grows
into a higher impact adds an item and raises the severity. An item already
held by a closed alert of the series is not raised again.

FLOW_SURGE is aggregate-level and applies to every nationality; the
extra-regional scope rule governs person-level exchanges only. Surges of
extra-regional nationalities are the use case, but the detector does not filter.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from biometric_exchange.domain import (
    Alert,
    AlertKind,
    AlertQueue,
    DailyCount,
    Evidence,
    Severity,
)
from biometric_exchange.store.alerts import AlertStore, new_alert_id
from biometric_exchange.store.counts import DailyCounts
from biometric_exchange.surge.detector import BASELINE_DAYS, Assessment
from biometric_exchange.surge.impact import IMPACT_ORDER, Impact
from biometric_exchange.surge.scan import scan
from biometric_exchange.surge.series import PartyCounts, SeriesKey, build_family
from biometric_exchange.surge.suppression import SUPPRESSION_THRESHOLD

log = logging.getLogger(__name__)

LOOKBACK_DAYS = 3
"""Days assessed per run, today included."""
WINDOW_DAYS = BASELINE_DAYS + LOOKBACK_DAYS
"""Days of counts one run needs (and asks the partner for)."""
MIN_ALERT_IMPACT = Impact.LOW
"""Surge days below this impact are reported but raise no alert; raise it to trade
sensitivity to small rises for fewer alerts (the false-surge bound is ``ALPHA``'s
either way)."""
RULE = "FLOW_SURGE"
TEST = "exact-conditional+holm"
"""Evidence's ``test``: the exact conditional test, Holm-adjusted over the day."""


@dataclass(frozen=True)
class Surge:
    """One surge day of one series."""

    party: str
    nationality: str
    border_point: str
    day: dt.date
    assessment: Assessment
    impact: Impact

    @property
    def subject_key(self) -> str:
        return f"surge:{self.party}:{self.nationality}:{self.border_point}"

    @property
    def evidence_key(self) -> str:
        return f"{self.day.isoformat()}:{self.impact.value}"

    def evidence(self) -> Evidence:
        a = self.assessment
        return {
            "key": self.evidence_key,
            "day": self.day.isoformat(),
            "count": a.count,
            "baseline": round(a.baseline, 3),
            "expected": round(a.expected, 3),
            "ratio": round(a.ratio, 3),
            "p_value": a.p_value,
            "p_raw": a.raw_p,
            "family": a.family,
            "window_days": a.window_days,
            "baseline_days": a.baseline_days,
            "impact": self.impact.value,
            "party": self.party,
            "nationality": self.nationality,
            "border_point": self.border_point,
            "rule": RULE,
            "test": TEST,
        }

    def summary(self) -> str:
        return (
            f"surge of {self.nationality} nationals at {self.border_point} on "
            f"{self.day.isoformat()}: {self.assessment.count} vs "
            f"{self.assessment.baseline:.1f}/day baseline ({self.impact.value} impact)"
        )


def surges_of(
    sources: Iterable[PartyCounts],
    today: dt.date,
    *,
    lookback_days: int = LOOKBACK_DAYS,
    raised: Mapping[SeriesKey, Collection[dt.date]] | None = None,
) -> list[Surge]:
    """Surges at each of the ``lookback_days`` days up to ``today``, every party's
    series tested as one family per day (``surge.scan``); ``raised``: the days of each
    series that raised a surge in earlier runs (``raised_days``)."""
    start, family = build_family(sources, today, raised)
    days = (today - start).days + 1
    surges = [
        Surge(party, nationality, border_point, start + dt.timedelta(days=day), a, a.impact)
        for (party, nationality, border_point), day, a in scan(family, days)
        if day >= days - lookback_days and a.impact is not None
    ]
    return sorted(surges, key=lambda s: (s.party, s.nationality, s.border_point, s.day))


def find_surges(
    counts: Iterable[DailyCount],
    party: str,
    *,
    first_day: dt.date,
    today: dt.date,
    lookback_days: int = LOOKBACK_DAYS,
    missing: int = 0,
) -> list[Surge]:
    """Surges of ``party``'s series alone (a family of its own) at each of the
    ``lookback_days`` days up to ``today``.

    ``first_day`` is where the series start; counts outside [first_day, today] are
    ignored and a missing day hides 0 to ``missing``: 0 for our own counts, the
    largest count suppression can hide for a partner's (a suppressed day is 0 to 4,
    and reading it as 0 would make a rare series' first reported 5 look like a jump)."""
    source = PartyCounts(party, list(counts), first_day, missing)
    return surges_of([source], today, lookback_days=lookback_days)


def surge_alert(surge: Surge, *, created_at: dt.datetime, partner: str | None) -> Alert:
    """The FLOW_SURGE alert of one surge day (``partner`` set when it is about them)."""
    return Alert(
        alert_id=new_alert_id(),
        kind=AlertKind.FLOW_SURGE,
        severity=Severity(surge.impact.value),
        created_at=created_at,
        summary=surge.summary(),
        subject_key=surge.subject_key,
        queue=AlertQueue.ENFORCEMENT,
        partner=partner,
        evidence=(surge.evidence(),),
    )


@dataclass
class MonitorReport:
    partner_refreshed: bool = False
    partner_counts: int = 0
    surges: list[Surge] = field(default_factory=list)
    new_alerts: int = 0
    evidence_added: int = 0


def window(today: dt.date, first_day: dt.date | None) -> tuple[dt.date, dt.date] | None:
    """The days one run assesses of a series that starts at ``first_day``."""
    if first_day is None:
        return None
    return max(first_day, today - dt.timedelta(days=WINDOW_DAYS - 1)), today


def assess_counts(
    counts: DailyCounts,
    own_party: str,
    partners: Iterable[str],
    today: dt.date,
    *,
    raised: Mapping[SeriesKey, Collection[dt.date]] | None = None,
) -> list[Surge]:
    """Surges in our own counts and in each partner's stored counts: one family a day."""
    sources = stored_counts(counts, own_party, partners, today)
    return surges_of(sources, today, raised=raised)


def raised_days(alerts: AlertStore) -> dict[SeriesKey, set[dt.date]]:
    """The days of each series that a FLOW_SURGE alert holds as evidence (any status)."""
    days: dict[SeriesKey, set[dt.date]] = defaultdict(set)
    for alert in alerts.list(kind=AlertKind.FLOW_SURGE):
        for item in alert.evidence:
            party, nationality = str(item.get("party")), str(item.get("nationality"))
            key = (party, nationality, str(item.get("border_point")))
            days[key].add(dt.date.fromisoformat(str(item.get("day"))))
    return dict(days)


def stored_counts(
    counts: DailyCounts, own_party: str, partners: Iterable[str], today: dt.date
) -> list[PartyCounts]:
    """Our counts (unsuppressed) and each partner's (as stored) over one run's window."""
    sources: list[PartyCounts] = []
    own = window(today, counts.first_local_day())
    if own is not None:
        sources.append(PartyCounts(own_party, counts.local(*own), own[0]))
    for partner in partners:
        theirs = window(today, counts.first_partner_day(partner))
        if theirs is not None:
            stored = counts.partner(partner, *theirs)
            sources.append(PartyCounts(partner, stored, theirs[0], SUPPRESSION_THRESHOLD - 1))
    return sources


def raise_surges(
    alerts: AlertStore,
    surges: Iterable[Surge],
    report: MonitorReport,
    *,
    created_at: dt.datetime,
    partners: Iterable[str],
    min_impact: Impact = MIN_ALERT_IMPACT,
) -> None:
    """Raise each surge of at least ``min_impact`` not already held by a FLOW_SURGE
    alert of its series (whatever that alert's status); a surge of one of
    ``partners``' series names that partner."""
    held: set[tuple[str, str]] = {
        (alert.subject_key, str(item.get("key")))
        for alert in alerts.list(kind=AlertKind.FLOW_SURGE)
        for item in alert.evidence
    }
    named = set(partners)
    floor = IMPACT_ORDER.index(min_impact)
    for surge in surges:
        if IMPACT_ORDER.index(surge.impact) < floor:
            continue
        if (surge.subject_key, surge.evidence_key) in held:
            continue
        partner = surge.party if surge.party in named else None
        raised = alerts.raise_alert(surge_alert(surge, created_at=created_at, partner=partner))
        report.new_alerts += int(raised.new)
        report.evidence_added += raised.evidence_added
        held.add((surge.subject_key, surge.evidence_key))
