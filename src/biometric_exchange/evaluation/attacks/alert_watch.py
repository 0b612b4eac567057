"""Whether the holder has raised an extraction alert, by the kind's string value.

The kind may not exist in this version's ``AlertKind``: then no alert of it
can exist either, and the answer is always no.
"""

from __future__ import annotations

from biometric_exchange.domain import AlertKind
from biometric_exchange.evaluation.attacks.report import EXTRACTION_ALERT
from biometric_exchange.node.runtime import Node


class ExtractionAlerts:
    """Asks ``holder``'s alert store for an alert of kind ``EXTRACTION_SUSPECTED``."""

    def __init__(self, holder: Node) -> None:
        self._holder = holder
        self._kind = next((k for k in AlertKind if k.value == EXTRACTION_ALERT), None)

    def raised(self) -> bool:
        return self._kind is not None and bool(self._holder.alerts.list(kind=self._kind))
