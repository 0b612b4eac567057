"""An extraction run's report: the figures, as markdown and as JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from biometric_exchange.evaluation.attacks.ledger import Ledger
from biometric_exchange.evaluation.attacks.recovery import RECOVERED_WITHIN, Outcome

EXTRACTION_ALERT = "EXTRACTION_SUSPECTED"
"""The holder's alert kind for a suspected extraction, by its string value."""


@dataclass(frozen=True)
class AttackReport:
    attack: str
    oracle: str
    watchlist: int
    threshold: float
    seed: int
    days_allowed: int | None
    daily_probes: int | None
    outcomes: tuple[Outcome, ...]
    ledger: Ledger

    @property
    def recovered(self) -> int:
        return sum(1 for outcome in self.outcomes if outcome.recovered)

    def as_dict(self) -> dict[str, Any]:
        ledger = self.ledger
        return {
            "attack": self.attack,
            "oracle": self.oracle,
            "watchlist": self.watchlist,
            "threshold": self.threshold,
            "recovered_within": RECOVERED_WITHIN * self.threshold,
            "seed": self.seed,
            "days_allowed": self.days_allowed,
            "daily_probes": self.daily_probes,
            "victims": len(self.outcomes),
            "recovered": self.recovered,
            "probes": ledger.probes,
            "probes_per_day": list(ledger.per_day),
            "days_used": ledger.days,
            "refused_requests": dict(ledger.refused_requests),
            "refused_probes": dict(ledger.refused_probes),
            "first_alert_at_probe": ledger.first_alert_at,
            "outcomes": [asdict(outcome) for outcome in self.outcomes],
        }


def _refusals(ledger: Ledger) -> str:
    if not ledger.refused_requests:
        return "none"
    return "; ".join(
        f"{code}: {count:,} requests ({ledger.refused_probes[code]:,} probes)"
        for code, count in sorted(ledger.refused_requests.items())
    )


def _per_day(per_day: list[int]) -> str:
    shown = ", ".join(f"{count:,}" for count in per_day[:10])
    return shown + (f", … ({len(per_day) - 10} more days)" if len(per_day) > 10 else "")


def _probes(report: AttackReport) -> str:
    ledger = report.ledger
    if report.days_allowed is None:
        return f"{ledger.probes:,} (no days, no quota)"
    return f"{ledger.probes:,} over {ledger.days} day(s); per day: {_per_day(ledger.per_day)}"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.2g}" if value < 1e-3 else f"{value:.4f}"


def render_markdown(report: AttackReport) -> str:
    """A short report: the run in a table, then one row per victim."""
    ledger = report.ledger
    alert = (
        "never"
        if ledger.first_alert_at is None
        else f"{ledger.first_alert_at:,} ({EXTRACTION_ALERT})"
    )
    within = RECOVERED_WITHIN * report.threshold
    lines = [
        f"## Template extraction: {report.attack}",
        "",
        "| | |",
        "|---|---|",
        f"| attack | {report.attack} |",
        f"| oracle | {report.oracle} |",
        f"| watchlist | {report.watchlist:,} entries, threshold {report.threshold:g} |",
        f"| victims | {len(report.outcomes)} |",
        f"| probes | {_probes(report)} |",
        f"| recovered | {report.recovered} / {len(report.outcomes)} "
        f"(rank 1 and ‖v̂ - v‖ ≤ {within:.3g}) |",
        f"| first alert at probe # | {alert} |",
        f"| refusals | {_refusals(ledger)} |",
        "",
        "| victim | start ‖p - v‖ | probes | error ‖v̂ - v‖ | rank 1 | recovered | note |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {o.victim} | {o.start_distance:.4f} | {o.probes:,} | {_number(o.error)} | "
        f"{'yes' if o.rank_one else 'no'} | {'yes' if o.recovered else 'no'} | {o.note} |"
        for o in report.outcomes
    ]
    return "\n".join(lines) + "\n"
