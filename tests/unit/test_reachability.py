"""When a node checks a partner again: 30 s after the last answer, 5 s after no answer."""

from __future__ import annotations

from biometric_exchange.node.reachability import CHECK_INTERVAL_S, RECHECK_DOWN_S, Reachability


def test_a_partner_is_checked_at_once_then_after_each_interval() -> None:
    now = [1000.0]
    reachability = Reachability(lambda: now[0])
    assert reachability.quiet(["CHL", "MEX"]) == ["CHL", "MEX"]  # never called
    reachability.record("CHL", True, "OK")
    reachability.record("MEX", False, "UNAVAILABLE")
    assert reachability.quiet(["CHL", "MEX"]) == []
    now[0] += RECHECK_DOWN_S
    assert reachability.quiet(["CHL", "MEX"]) == ["MEX"]  # down: checked again soon
    now[0] += CHECK_INTERVAL_S - RECHECK_DOWN_S - 0.001
    assert reachability.quiet(["CHL"]) == []
    now[0] += 0.001
    assert reachability.quiet(["CHL"]) == ["CHL"]


def test_the_last_outcome_wins() -> None:
    reachability = Reachability(lambda: 5.0)
    reachability.record("CHL", False, "DEADLINE_EXCEEDED")
    reachability.record("CHL", True, "PERMISSION_DENIED")
    outcome = reachability.last("CHL")
    assert outcome is not None and outcome.up and outcome.reason == "PERMISSION_DENIED"
    assert reachability.last("MEX") is None


def test_a_clock_set_back_does_not_hold_the_next_check_back() -> None:
    now = [10_000.0]
    reachability = Reachability(lambda: now[0])
    reachability.record("CHL", True, "OK")
    now[0] -= 3600  # e.g. corrected by NTP
    assert reachability.quiet(["CHL"]) == ["CHL"]
