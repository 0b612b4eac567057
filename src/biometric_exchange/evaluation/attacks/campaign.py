"""Drives attacks against an oracle, a day at a time, within the day's probes.

Each request carries at most ``per_request`` probes and each day at most
``daily_probes``. A request refused for the quota (``RESOURCE_EXHAUSTED``)
ends the day and is sent again the next; any other refusal goes to the
attack, and ``REFUSALS_PER_DAY`` in a row end the day too (a holder holding
the partner off). ``next_day`` moves the holder on a day; ``alerted`` says
whether it has raised an extraction alert, asked after every request.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from biometric_exchange.evaluation.attacks.attack import Attack
from biometric_exchange.evaluation.attacks.ledger import Ledger
from biometric_exchange.evaluation.attacks.oracle import QUOTA_REFUSAL, Matrix, Oracle, Refused

REFUSALS_PER_DAY = 3
"""Refusals in a row (other than the quota's) after which the attacker waits a day."""


def never() -> bool:
    return False


def stay() -> None:
    """No holder clock to move (the in-process baseline)."""


class Campaign:
    """One attacker's requests to one holder, shared by its attacks in turn."""

    def __init__(
        self,
        oracle: Oracle,
        *,
        per_request: int,
        daily_probes: int | None = None,
        days: int | None = None,
        next_day: Callable[[], None] = stay,
        alerted: Callable[[], bool] = never,
    ) -> None:
        self._oracle = oracle
        self._per_request = per_request
        self._daily_probes = daily_probes
        self._days = days
        self._next_day = next_day
        self._alerted = alerted
        self.ledger = Ledger()
        self._refusals_in_a_row = 0
        self._over = False

    @property
    def out_of_days(self) -> bool:
        return self._over

    def run(self, attack: Attack, *, budget: int | None = None) -> int:
        """Feed ``attack`` until it finishes, its ``budget`` of probes is spent or the
        days run out; return the probes it sent."""
        spent = 0
        waiting: Matrix | None = None
        """A batch refused for the quota, sent again the next day."""
        while not self._over:
            left = None if budget is None else budget - spent
            batch = self._batch(attack, waiting, left)
            if batch is None:
                break
            if len(batch) == 0:
                self._end_day()
                continue
            waiting = None
            answers = self._oracle.ask(batch)
            self.ledger.sent(len(batch))
            spent += len(batch)
            if self.ledger.first_alert_at is None and self._alerted():
                self.ledger.first_alert_at = self.ledger.probes
            if isinstance(answers, Refused):
                self.ledger.refused(answers.code, len(batch))
                if answers.code == QUOTA_REFUSAL:
                    waiting = batch
                    self._end_day()
                    continue
                self._refusals_in_a_row += 1
                attack.observe(answers)
                if self._refusals_in_a_row >= REFUSALS_PER_DAY:
                    self._end_day()
                continue
            self._refusals_in_a_row = 0
            attack.observe(answers)
        if waiting is not None:
            attack.observe(Refused(QUOTA_REFUSAL, "not answered before the attack ended"))
        return spent

    def _batch(self, attack: Attack, waiting: Matrix | None, left: int | None) -> Matrix | None:
        """The next request's probes: the waiting batch, else the attack's next; an
        empty batch when today has no room for it; None when the attack is over."""
        room = self._room()
        if waiting is not None:
            if left is not None and len(waiting) > left:
                return None
            return waiting if len(waiting) <= room else waiting[:0]
        if left is not None and left <= 0:
            return None
        limit = room if left is None else min(room, left)
        if limit <= 0:
            return np.empty((0, 0), dtype=np.float32)
        return attack.next_batch(limit)

    def _room(self) -> int:
        if self._daily_probes is None:
            return self._per_request
        return min(self._per_request, self._daily_probes - self.ledger.today)

    def _end_day(self) -> None:
        """The next day, or the campaign's end after its last."""
        self._refusals_in_a_row = 0
        if self._days is not None and self.ledger.days >= self._days:
            self._over = True
            return
        self.ledger.next_day()
        self._next_day()
