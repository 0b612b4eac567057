"""The hash-chained audit log (``log``) and its parts: events, chain, rows,
verification and export. Every public name is importable from here."""

from biometric_exchange.store.audit.chain import (
    EXPORT_FIELDS,
    GENESIS,
    GENESIS_HASH,
    AuditChainBroken,
    AuditEntry,
    ChainPoint,
    PurgedRange,
    entry_hash,
    to_ms,
)
from biometric_exchange.store.audit.events import AuditEvent, AuditOutcome
from biometric_exchange.store.audit.export import read_jsonl, write_jsonl
from biometric_exchange.store.audit.log import AuditLog
from biometric_exchange.store.audit.rows import ANCHOR_KEY, HEAD_KEY, UNREADABLE_DETAIL
from biometric_exchange.store.audit.verify import verify_chain

__all__ = [
    "ANCHOR_KEY",
    "EXPORT_FIELDS",
    "GENESIS",
    "GENESIS_HASH",
    "HEAD_KEY",
    "UNREADABLE_DETAIL",
    "AuditChainBroken",
    "AuditEntry",
    "AuditEvent",
    "AuditLog",
    "AuditOutcome",
    "ChainPoint",
    "PurgedRange",
    "entry_hash",
    "read_jsonl",
    "to_ms",
    "verify_chain",
    "write_jsonl",
]
