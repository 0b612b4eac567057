"""ANSI/NIST-ITL 1-2011 transactions (IDEMIA's ``nistitl``): records out and in.

``fields`` maps each field, ``write`` builds a transaction, ``read`` parses
one (``message`` guards the parser, ``text`` the character sets), ``image``
checks a Type-10 face, ``types`` holds the parsed shapes and ``records``
converts whole records. Nothing here opens a node: ``node.interchange`` does.
"""

from biometric_exchange.interop.nist.read import parse_transaction, read_transaction
from biometric_exchange.interop.nist.records import (
    ExportedTransaction,
    agency,
    as_watchlist_entry,
    export_transaction,
    record_to_enrol,
)
from biometric_exchange.interop.nist.types import NistTransaction, Record, TransactionHeader

__all__ = [
    "ExportedTransaction",
    "NistTransaction",
    "Record",
    "TransactionHeader",
    "agency",
    "as_watchlist_entry",
    "export_transaction",
    "parse_transaction",
    "read_transaction",
    "record_to_enrol",
]
