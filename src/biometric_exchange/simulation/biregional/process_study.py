"""``bx federation run``: the scenario's gRPC subset as real processes, mesh then router,
on one world; ``processes.md`` and ``processes.json`` say whether the router found
every hit the mesh found."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from biometric_exchange import SYNTHETIC_NOTICE
from biometric_exchange.exceptions import ConfigError
from biometric_exchange.federation.description import Federation
from biometric_exchange.federation.generate import generate
from biometric_exchange.simulation.biregional.grpc_run import subset
from biometric_exchange.simulation.biregional.processes import run_processes
from biometric_exchange.simulation.biregional.run import TOPOLOGIES, copy_folders, expected_hits
from biometric_exchange.simulation.biregional.scenario import BiRegionalScenario
from biometric_exchange.simulation.biregional.study import RUN_QUOTAS, memory_folder
from biometric_exchange.simulation.biregional.world import build_world, restrict

Progress = Callable[[str, int, int], None]


def _quiet(what: str, done: int, total: int) -> None:
    """No progress shown."""


def run_process_study(
    scenario: BiRegionalScenario,
    federation: Federation,
    out: Path,
    *,
    progress: Progress = _quiet,
) -> dict[str, Any]:
    """Run the scenario's ``grpc_subset`` as node processes, mesh then router."""
    members = scenario.grpc_subset
    if len(members) < 2:
        raise ConfigError("grpc_subset: name at least two members")
    started = time.perf_counter()
    sub = subset(federation, members)
    world = restrict(build_world(scenario, today=dt.datetime.now(dt.UTC).date()), sub.members)
    out.mkdir(parents=True, exist_ok=True)
    runs: dict[str, Any] = {}
    hits = {}
    with tempfile.TemporaryDirectory(prefix="bi_regional-grpc-", dir=memory_folder()) as workdir:
        generated = generate(
            sub,
            Path(workdir) / "generated",
            threshold=scenario.threshold,
            terms_overrides={"quotas": RUN_QUOTAS},
        )
        expected = expected_hits(world, generated.pairs)
        for topology in TOPOLOGIES:
            folders = copy_folders(generated, Path(workdir) / topology)
            run = run_processes(topology, folders, world, out / "logs" / topology, progress)
            hits[topology] = run.partner_hits
            runs[topology] = {
                "encounters": run.encounters,
                "seconds": round(run.seconds, 2),
                "identify_calls": run.member_tally.calls["identify"],
                "sightings_calls": run.member_tally.calls["sightings"],
                "router_forwarded": dict(run.router_tally.calls),
                "router_audit": dict(run.router_audit),
                "router_chain_entries": run.router_chain_entries,
                "partner_hits": len(run.partner_hits),
                "found_expected": len(run.partner_hits & expected),
                "expected_partner_hits": len(expected),
                "pending_at_end": run.pending,
            }
    metrics = {
        "synthetic": True,
        "scenario": scenario.name,
        "seed": scenario.seed,
        "members": list(sub.members),
        "agreements": len(generated.pairs),
        "topologies": runs,
        "router_found_every_mesh_hit": hits["mesh"] <= hits["router"],
        "same_hits": hits["mesh"] == hits["router"],
        "seconds_total": round(time.perf_counter() - started, 1),
    }
    (out / "processes.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    _write_report(metrics, out / "processes.md")
    return metrics


def _write_report(metrics: dict[str, Any], path: Path) -> None:
    runs = metrics["topologies"]
    rows = (
        ("encounters enrolled", "encounters"),
        ("Identify calls made by the members", "identify_calls"),
        ("ReportSightings calls made by the members", "sightings_calls"),
        ("hits on a partner's list found", "partner_hits"),
        ("... of the expected (synthetic truth)", "expected_partner_hits"),
        ("found and expected", "found_expected"),
        ("exchange time (enrol to empty outboxes, every day), s", "seconds"),
        ("items pending at the end", "pending_at_end"),
    )
    lines = [
        f"# {metrics['scenario']}: {len(metrics['members'])} node processes over gRPC and "
        "mutual TLS, mesh and router",
        "",
        f"**{SYNTHETIC_NOTICE}**",
        "",
        f"Members: {', '.join(metrics['members'])}; {metrics['agreements']} agreements; "
        f"seed {metrics['seed']}. Each member is a `bx node run` process on loopback; in "
        "router topology each reaches its partners through a `bx federation router` process.",
        "",
        "| | mesh | router |",
        "|---|---|---|",
    ]
    for label, key in rows:
        lines.append(f"| {label} | {runs['mesh'][key]:,} | {runs['router'][key]:,} |")
    router = runs["router"]
    forwarded = ", ".join(f"{k}: {v:,}" for k, v in sorted(router["router_forwarded"].items()))
    lines += [
        "",
        f"Every hit found in mesh found through the router: "
        f"**{'yes' if metrics['router_found_every_mesh_hit'] else 'no'}** "
        f"(same hits: {'yes' if metrics['same_hits'] else 'no'}).",
        "",
        f"The router forwarded {forwarded}; its audit chain holds "
        f"{router['router_chain_entries']:,} entries, verified.",
        "",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
