"""What crossed each link, as the recipients opened it.

``Wire`` keeps the run's ``Ledger`` (fields per RPC, direction and path) and,
per (RPC, direction, caller, holder, references), how many values of each
disclosure class crossed under those references: the part of a message about
one probe, one hit or one step-2 request. ``disclosure`` joins these with the
ground truth to say about whom they were.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from google.protobuf.message import Message

from biometric_exchange.node.ledger import Ledger, Reference

About = tuple[str, str, str, str, tuple[Reference, ...]]
"""(RPC, direction, caller, holder, references)."""


@dataclass
class Wire:
    """Every message the metering opened, tallied."""

    ledger: Ledger = field(default_factory=Ledger)
    about: dict[About, Counter[str]] = field(default_factory=dict)
    """Values per disclosure class under each message part's references."""
    unopened: int = 0
    """Envelopes the metering could not open (none expected)."""

    def observe(self, rpc: str, direction: str, caller: str, holder: str, message: Message) -> None:
        """Tally ``message``, carried by ``rpc`` between ``caller`` and ``holder``."""
        for crossing in self.ledger.add(rpc, direction, message):
            key = (rpc, direction, caller, holder, crossing.references)
            self.about.setdefault(key, Counter())[crossing.disclosure] += 1

    def hit_references(self) -> set[str]:
        """Every hit reference that crossed, in any message."""
        return {value for key in self.about for name, value in key[4] if name == "hit_reference"}
