"""Family-wise error control over one day's tests: Holm's step-down procedure.

Holm (1979) controls the family-wise error rate — the chance that any true null
of the family is rejected — at alpha under any dependence, and rejects at least
what Bonferroni does. A discrete test whose smallest attainable p is not below
alpha can never be rejected; counting it would only tighten the others' bounds, so
the family is the tests that can reach alpha (Tarone 1990). Valid because that
smallest p depends only on the total count over the days a series' tests use,
and each test is exact given that total: the choice of family leaves every
test's level as it was.
"""

from __future__ import annotations

from collections.abc import Sequence


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values, in the given order: reject where adjusted < alpha."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def can_reach(smallest: float, alpha: float) -> bool:
    """Whether a test whose smallest attainable p is ``smallest`` belongs to the family."""
    return smallest < alpha
