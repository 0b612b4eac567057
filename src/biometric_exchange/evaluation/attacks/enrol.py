"""The scenario's watchlist enrolled on a holder node, as synthetic records."""

from __future__ import annotations

from biometric_exchange import __version__
from biometric_exchange.evaluation.attacks.scenario import Scenario
from biometric_exchange.node.runtime import Node
from biometric_exchange.synthetic.numbered import numbered_entry

BATCH = 1000
GENERATOR = f"biometric-exchange {__version__}"


def enrol_watchlist(node: Node, scenario: Scenario, *, seed: int) -> None:
    """Every entry of ``scenario`` on ``node``'s watchlist, BATCH at a time."""
    for start in range(0, len(scenario.ids), BATCH):
        stop = min(start + BATCH, len(scenario.ids))
        node.records.add_watchlist(
            [
                numbered_entry(
                    n,
                    scenario.ids[n],
                    scenario.templates[n],
                    label="Watchlist",
                    generator=GENERATOR,
                    seed=seed,
                )
                for n in range(start, stop)
            ]
        )
