"""The load run's dispenser: a closed loop hands out numbers, a paced run their due
times, and neither hands out a call past the run's end."""

from __future__ import annotations

import pytest

from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.loadtest import LoadConfig
from biometric_exchange.loadtest.driver import Dispenser


class _Clock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_closed_loop_hands_out_every_number_without_a_due_time() -> None:
    dispenser = Dispenser(3, 60.0, clock=_Clock())
    assert [dispenser.take() for _ in range(4)] == [(0, None), (1, None), (2, None), None]


def test_a_paced_run_dues_each_call_one_interval_after_the_last() -> None:
    clock = _Clock()
    dispenser = Dispenser(4, 60.0, rate=50.0, clock=clock)
    taken = [dispenser.take() for _ in range(4)]
    assert [number for number, _due in filter(None, taken)] == [0, 1, 2, 3]
    dues = [due for _number, due in filter(None, taken)]
    assert dues == pytest.approx([100.0, 100.02, 100.04, 100.06])
    assert dispenser.take() is None


def test_a_paced_run_hands_out_nothing_due_past_its_end() -> None:
    dispenser = Dispenser(1000, 1.0, rate=10.0, clock=_Clock())
    numbers = []
    while (taken := dispenser.take()) is not None:
        numbers.append(taken[0])
    assert numbers == list(range(10)), "calls 0-9 fall due within the run's second"


def test_no_call_is_handed_out_once_the_run_is_over() -> None:
    clock = _Clock()
    dispenser = Dispenser(1000, 5.0, clock=clock)
    assert dispenser.take() == (0, None)
    clock.now += 5.0
    assert dispenser.take() is None


@pytest.mark.parametrize("rate", [0.0, -3.0, float("inf"), float("nan")])
def test_the_rate_must_be_a_positive_number(rate: float) -> None:
    with pytest.raises(InvalidInput, match="rate"):
        LoadConfig(rate=rate)
