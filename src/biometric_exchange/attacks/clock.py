"""The pair's shared clock: real time, moved on by whole days when the attacker waits."""

from __future__ import annotations

from biometric_exchange.node.runtime import system_clock

DAY_MS = 24 * 60 * 60 * 1000


class DayClock:
    """Milliseconds since the epoch: the system's, set back or on to noon UTC of today
    at the start (a day's quota is counted per UTC day), then on by ``next_day``."""

    def __init__(self) -> None:
        now = system_clock()
        self._offset = now - now % DAY_MS + DAY_MS // 2 - now

    def __call__(self) -> int:
        return system_clock() + self._offset

    def next_day(self) -> None:
        self._offset += DAY_MS
