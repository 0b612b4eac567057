"""What an extraction run is asked to do (``bx evaluate --attack``), checked."""

from __future__ import annotations

from dataclasses import dataclass

from biometric_exchange.exceptions import InvalidInput

ATTACKS = ("trilateration", "boundary")


@dataclass(frozen=True)
class AttackConfig:
    """One run: which attack, on how many victims in how large a watchlist, for how
    many days; ``budget`` caps the probes spent on each victim (none by default);
    ``banded`` gives hits the agreement's confidence bands."""

    attack: str
    victims: int = 3
    days: int = 30
    watchlist: int = 1000
    seed: int = 2017
    budget: int | None = None
    banded: bool = False
    """The agreement's step1.confidence is "banded": hits name a band, never a distance."""

    def __post_init__(self) -> None:
        if self.attack not in ATTACKS:
            raise InvalidInput(
                f"--attack: expected one of {', '.join(ATTACKS)}, got {self.attack!r}"
            )
        if self.victims < 1:
            raise InvalidInput(f"--victims: expected at least 1, got {self.victims}")
        if self.watchlist < self.victims + 1:
            raise InvalidInput(
                f"--watchlist: expected more entries than victims ({self.victims}), "
                f"got {self.watchlist}"
            )
        if self.days < 1:
            raise InvalidInput(f"--days: expected at least 1, got {self.days}")
        if self.budget is not None and self.budget < 1:
            raise InvalidInput(f"--budget: expected at least 1 probe, got {self.budget}")
