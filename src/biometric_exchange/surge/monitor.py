"""The surge monitor: assess both parties' daily counts, raise FLOW_SURGE.

Each run (``node.surges.run_monitor``) first asks each partner for its counts
of the last ``WINDOW_DAYS`` days (baseline plus lookback), then assesses every
(party, nationality, border point) series, ours unsuppressed and the
partners' as stored, at each of the
last ``LOOKBACK_DAYS`` days (today included, so a surge shows while the day
runs). A series starts at the party's first day of data: earlier days are not
zeros. Each surge day is one evidence item of the open FLOW_SURGE alert of its
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
from collections.abc import Iterable
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
from biometric_exchange.surge.detector import (
    BASELINE_DAYS,
    IMPACT_ORDER,
    Assessment,
    Impact,
    assess,
)
from biometric_exchange.surge.suppression import SUPPRESSION_THRESHOLD

log = logging.getLogger(__name__)

LOOKBACK_DAYS = 3
"""Days assessed per run, today included."""
WINDOW_DAYS = BASELINE_DAYS + LOOKBACK_DAYS
"""Days of counts one run needs (and asks the partner for)."""
MIN_ALERT_IMPACT = Impact.LOW
"""Surge days below this impact are reported but raise no alert. On a steady
Poisson(6) series, low fires on about 3 % of days and medium on about 1 % (their
p bounds); raise this to trade sensitivity for fewer alerts."""
RULE = "FLOW_SURGE"


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
            "impact": self.impact.value,
            "party": self.party,
            "nationality": self.nationality,
            "border_point": self.border_point,
            "rule": RULE,
            "test": "poisson",
        }

    def summary(self) -> str:
        return (
            f"surge of {self.nationality} nationals at {self.border_point} on "
            f"{self.day.isoformat()}: {self.assessment.count} vs "
            f"{self.assessment.baseline:.1f}/day baseline ({self.impact.value} impact)"
        )


def find_surges(
    counts: Iterable[DailyCount],
    party: str,
    *,
    first_day: dt.date,
    today: dt.date,
    lookback_days: int = LOOKBACK_DAYS,
    missing: int = 0,
) -> list[Surge]:
    """Surges of ``party``'s series at each of the ``lookback_days`` days up to ``today``.

    ``first_day`` is where the series start; counts outside [first_day, today] are
    ignored and missing days count ``missing``: 0 for our own counts, the largest
    count suppression can hide for a partner's (a suppressed day is 0 to 4, and
    reading it as 0 would make a rare series' first reported 5 look like a jump)."""
    if today < first_day:
        return []
    span = (today - first_day).days + 1
    series: dict[tuple[str, str], list[int]] = defaultdict(lambda: [missing] * span)
    seen: dict[tuple[str, str], set[int]] = defaultdict(set)
    for c in counts:
        if first_day <= c.day <= today:
            key, index = (c.nationality, c.border_point), (c.day - first_day).days
            if index not in seen[key]:
                series[key][index] = 0
                seen[key].add(index)
            series[key][index] += c.count
    surges = []
    for (nationality, border_point), values in sorted(series.items()):
        for index in range(max(0, span - lookback_days), span):
            history = values[max(0, index - BASELINE_DAYS) : index]
            assessment = assess(values[index], history)
            if assessment is None or assessment.impact is None:
                continue
            day = first_day + dt.timedelta(days=index)
            surges.append(
                Surge(party, nationality, border_point, day, assessment, assessment.impact)
            )
    return surges


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
    counts: DailyCounts, own_party: str, partners: Iterable[str], today: dt.date
) -> list[Surge]:
    """Surges in our own counts and in each partner's stored counts."""
    surges: list[Surge] = []
    own = window(today, counts.first_local_day())
    if own is not None:
        surges += find_surges(counts.local(*own), own_party, first_day=own[0], today=today)
    for partner in partners:
        theirs = window(today, counts.first_partner_day(partner))
        if theirs is not None:
            surges += find_surges(
                counts.partner(partner, *theirs),
                partner,
                first_day=theirs[0],
                today=today,
                missing=SUPPRESSION_THRESHOLD - 1,
            )
    return surges


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
