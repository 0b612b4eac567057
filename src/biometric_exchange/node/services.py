"""What the answering side shares between every partner's handlers."""

from __future__ import annotations

from dataclasses import dataclass

from biometric_exchange.node.index.encounters import EncounterIndex
from biometric_exchange.node.index.watchlist import WatchlistIndex
from biometric_exchange.node.runtime import Node


@dataclass(frozen=True)
class Services:
    """The node's galleries: its watchlist and its own checked encounters (the
    exchange worker adds to the latter; every partner's probes search both)."""

    watchlist: WatchlistIndex
    encounters: EncounterIndex

    @classmethod
    def of(cls, node: Node) -> Services:
        """Both galleries, loaded from the node's store."""
        return cls(node.watchlist_index(), EncounterIndex(node.records))
