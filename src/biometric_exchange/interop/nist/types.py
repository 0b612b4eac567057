"""What a transaction holds, once read: its header, the record, the exact template."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.domain import Encounter, WatchlistEntry
from biometric_exchange.interop.nist.fields import VERSION, TransactionType
from biometric_exchange.interop.nist.image import FaceImage

Record = Encounter | WatchlistEntry


def transaction_type(record: Record) -> TransactionType:
    if isinstance(record, Encounter):
        return TransactionType.ENCOUNTER
    return TransactionType.WATCHLIST_ENTRY


def record_id(record: Record) -> str:
    return record.encounter_id if isinstance(record, Encounter) else record.entry_id


@dataclass(frozen=True)
class TransactionHeader:
    """The Type-1 fields that vary between transactions."""

    originator: str
    """1.008 ORI, e.g. ``CHL-BX-node_chile``."""
    destination: str
    """1.007 DAI, e.g. ``PAN-BX``."""
    control_number: str
    """1.009 TCN: the record id and the UTC time of the export."""
    created_at: dt.datetime
    """1.014 GMT (1.005 DAT is its date)."""
    version: str = VERSION


@dataclass(frozen=True)
class NistTransaction:
    """A transaction read into the project's domain, nothing stored anywhere."""

    header: TransactionHeader
    transaction_type: TransactionType
    record: Record
    template_values: NDArray[np.float64] = field(repr=False)
    """The 99.999 values exactly as the file holds them (``record.template`` is float32)."""
    face_image: FaceImage | None = field(default=None, repr=False)

    @property
    def narrowed_values(self) -> int:
        """How many template values float32 (the node's form) cannot hold exactly."""
        widened = np.asarray(self.record.template, dtype=np.float64)
        return int(np.count_nonzero(widened != self.template_values))
