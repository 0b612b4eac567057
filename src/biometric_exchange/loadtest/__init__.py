"""Load driver: many concurrent Identify calls over real mutual TLS to a real node.

``run_load`` builds a fresh pair in a folder of its own (``create_pair``),
re-signs the agreement so that the run fits its terms (probes per request and
per day; nothing else changes), loads a synthetic watchlist of N entries into
Chile's database, starts Chile as a real process (``bx node run``) and drives
it from this process as Panama's node: C threads, each with its own gRPC
channel, call ``Identify`` through the same ``round_trip`` the exchange worker
uses, so every call is sealed, opened and recorded in Panama's audit log
(``identify.sent``, then ``identify.reply_received`` with its outcome). Runs:
one probe per call, batches of B probes, and a few batches one at a time.
Afterwards both audit logs are matched against the calls made, by message id,
and the gallery search alone is timed on the same watchlist, in a fresh
process with the holder's environment, for the batch-overhead ratio.

With ``store = "postgresql"`` the holder keeps its state on a PostgreSQL database
(a throwaway cluster on loopback unless ``store_url`` names a server) and runs
``replicas`` processes on one address; ``compare_stores`` runs the same load on
SQLite with one process first, for the figures side by side.

Synthetic data only: every watchlist entry is generated here and marked so.
The figures depend on the machine and on whatever else runs on it: the report
carries the CPU count and the load average around each run.
"""

from biometric_exchange.loadtest.audit_check import check_audit
from biometric_exchange.loadtest.config import (
    BLAS_THREAD_VARIABLES,
    CALL_TIMEOUT_S,
    GENERATOR,
    INSERT_BATCH,
    MAX_CANDIDATES,
    MAX_PROBES_PER_REQUEST,
    PURPOSE,
    SERVER_WORKERS,
    STORES,
    TARGET_BATCH_OVERHEAD,
    TARGET_SINGLE_CALLS_PER_S,
    TARGET_SINGLE_P99_MS,
    THRESHOLD,
    LoadConfig,
)
from biometric_exchange.loadtest.data import (
    Matrix,
    SyntheticWatchlist,
    load_watchlist,
    probe_templates,
    synthetic_watchlist,
)
from biometric_exchange.loadtest.matching_alone import time_matching
from biometric_exchange.loadtest.pair import amend_pair_agreement
from biometric_exchange.loadtest.report import describe, verdicts
from biometric_exchange.loadtest.results import (
    AuditCheck,
    LoadReport,
    MatchingStats,
    Percentiles,
    RunStats,
    Verdict,
)
from biometric_exchange.loadtest.runner import run_load
from biometric_exchange.loadtest.stores import StoreComparison, compare_stores, describe_comparison

__all__ = [
    "BLAS_THREAD_VARIABLES",
    "CALL_TIMEOUT_S",
    "GENERATOR",
    "INSERT_BATCH",
    "MAX_CANDIDATES",
    "MAX_PROBES_PER_REQUEST",
    "PURPOSE",
    "SERVER_WORKERS",
    "STORES",
    "TARGET_BATCH_OVERHEAD",
    "TARGET_SINGLE_CALLS_PER_S",
    "TARGET_SINGLE_P99_MS",
    "THRESHOLD",
    "AuditCheck",
    "LoadConfig",
    "LoadReport",
    "MatchingStats",
    "Matrix",
    "Percentiles",
    "RunStats",
    "StoreComparison",
    "SyntheticWatchlist",
    "Verdict",
    "amend_pair_agreement",
    "check_audit",
    "compare_stores",
    "describe",
    "describe_comparison",
    "load_watchlist",
    "probe_templates",
    "run_load",
    "synthetic_watchlist",
    "time_matching",
    "verdicts",
]
