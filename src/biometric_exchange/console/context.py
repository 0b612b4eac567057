"""What every page of the console shares: the node, its settings, the clock, the stores."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from biometric_exchange.alerts.review import AlertReview
from biometric_exchange.config import ConsoleSection
from biometric_exchange.node.runtime import Node
from biometric_exchange.store.assignments import AssignmentStore
from biometric_exchange.store.officers import OfficerStore

Clock = Callable[[], dt.datetime]


def node_clock(node: Node) -> Clock:
    """The node's clock (ms) as aware UTC datetimes: what ``bx alerts`` dates steps with."""
    return lambda: dt.datetime.fromtimestamp(node.clock() / 1000, tz=dt.UTC)


@dataclass
class Console:
    """One console process: the node it serves and how."""

    node: Node
    settings: ConsoleSection
    clock: Clock
    secure_cookies: bool = False
    """Cookies only over HTTPS (set when the console serves TLS)."""
    reports_dir: Path | None = None
    officers: OfficerStore = field(init=False)
    assignments: AssignmentStore = field(init=False)
    review: AlertReview = field(init=False)

    def __post_init__(self) -> None:
        self.officers = OfficerStore(self.node.database)
        self.assignments = AssignmentStore(self.node.database)
        self.review = AlertReview(self.node.database, self.node.audit, clock=self.clock)

    @classmethod
    def of(
        cls,
        node: Node,
        *,
        clock: Clock | None = None,
        secure_cookies: bool = False,
        reports_dir: Path | None = None,
    ) -> Console:
        """The console of ``node`` with its ``[console]`` settings (clock: the node's)."""
        return cls(
            node=node,
            settings=node.config.console,
            clock=clock or node_clock(node),
            secure_cookies=secure_cookies,
            reports_dir=reports_dir,
        )

    def now(self) -> dt.datetime:
        return self.clock()
