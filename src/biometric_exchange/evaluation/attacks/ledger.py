"""What a campaign spent and met: probes per day, refusals, the first alert."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Ledger:
    """Probes sent (answered or refused) per day, refused requests and probes by
    status code, and the probes sent when the holder first raised an extraction
    alert (None while it has not)."""

    per_day: list[int] = field(default_factory=lambda: [0])
    refused_requests: Counter[str] = field(default_factory=Counter)
    refused_probes: Counter[str] = field(default_factory=Counter)
    first_alert_at: int | None = None

    @property
    def probes(self) -> int:
        return sum(self.per_day)

    @property
    def today(self) -> int:
        return self.per_day[-1]

    @property
    def days(self) -> int:
        """Days begun (the first included)."""
        return len(self.per_day)

    def sent(self, probes: int) -> None:
        self.per_day[-1] += probes

    def refused(self, code: str, probes: int) -> None:
        self.refused_requests[code] += 1
        self.refused_probes[code] += probes

    def next_day(self) -> None:
        self.per_day.append(0)
