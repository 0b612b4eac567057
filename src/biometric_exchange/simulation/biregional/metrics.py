"""The numbers a bi-regional run reports, per topology, from the runs and the world."""

from __future__ import annotations

import statistics
from typing import Any

from biometric_exchange.federation.description import Federation
from biometric_exchange.federation.generate import FederationFolders
from biometric_exchange.node.transport import Tally
from biometric_exchange.simulation.biregional.run import TopologyRun


def _totals(tally: Tally) -> tuple[int, int]:
    calls = sum(tally.calls.values())
    data = sum(tally.bytes_sent.values()) + sum(tally.bytes_received.values())
    return calls, data


def _quantile(samples: list[float], q: float) -> float | None:
    if not samples:
        return None
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[int(q * 100) - 1]


def topology_metrics(
    run: TopologyRun, expected: set[tuple[str, str, str]], members: int
) -> dict[str, Any]:
    member_calls, member_bytes = _totals(run.member_tally)
    router_calls, router_bytes = _totals(run.router_tally)
    found = run.partner_hits
    per = max(run.encounters, 1)
    identify = run.latency_ms.get("identify", [])
    return {
        "encounters": run.encounters,
        "seconds": round(run.seconds, 2),
        "member_calls": member_calls,
        "member_calls_by_method": dict(run.member_tally.calls),
        "router_onward_calls": router_calls,
        "member_calls_per_encounter": round(member_calls / per, 3),
        "identify_calls_per_encounter": round(run.member_tally.calls["identify"] / per, 3),
        "messages_per_encounter": round((member_calls + router_calls) / per, 3),
        "member_bytes": member_bytes,
        "router_onward_bytes": router_bytes,
        "member_bytes_per_encounter": round(member_bytes / per),
        "wire_bytes_per_encounter": round((member_bytes + router_bytes) / per),
        "endpoints_per_member": 1 if run.topology == "router" else None,
        "identify_ms_median": _round(_quantile(identify, 0.5)),
        "identify_ms_p95": _round(_quantile(identify, 0.95)),
        "partner_hits": len(found),
        "expected_partner_hits": len(expected),
        "found_expected": len(found & expected),
        "unexpected_hits": len(found - expected),
        "recall": round(len(found & expected) / len(expected), 4) if expected else None,
        "local_hits": len(run.local_hits),
        "pending_at_end": run.pending,
        "router_audit": dict(run.router_audit),
        "router_audit_fields": run.router_audit_fields,
        "router_chain_entries": run.router_chain_entries,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def federation_metrics(federation: Federation, folders: FederationFolders) -> dict[str, Any]:
    members = len(federation.members)
    pairs = len(folders.pairs)
    partners = {code: 0 for code in federation.members}
    for first, second in folders.pairs:
        partners[first] += 1
        partners[second] += 1
    return {
        "members": list(federation.members),
        "conferences": {code: federation.conference(code) for code in federation.members},
        "possible_pairs": members * (members - 1) // 2,
        "agreements": pairs,
        "pairs_without_terms": list(federation.without_terms),
        "bilateral_overrides": sorted(federation.pairs),
        "signatures": 2 * pairs,
        "partners_per_member_median": statistics.median(partners.values()),
        "router_memberships": members,
    }
