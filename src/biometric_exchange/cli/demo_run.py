"""What ``bx demo`` runs: both nodes on loopback, a short synthetic scenario, the alerts.

Everything lives in a scratch folder (``.demo/`` by default), recreated on
every run: node folders with fresh keys and agreement, the synthetic data,
each node's database and log.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import time
from collections import Counter
from pathlib import Path

from rich.console import Console

from biometric_exchange import SYNTHETIC_NOTICE
from biometric_exchange.cli.alerts_views import alerts_table
from biometric_exchange.cli.details import sent_table
from biometric_exchange.domain import RequestStatus
from biometric_exchange.exceptions import ConfigError
from biometric_exchange.node.enrolment import enrol
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.send.details import request_details
from biometric_exchange.node.serve.details import approve
from biometric_exchange.node.transport import GrpcPeerTransport
from biometric_exchange.store.details import SentRequests
from biometric_exchange.store.outbox import OutboxState
from biometric_exchange.synthetic import DemoDataset, build_demo_dataset
from biometric_exchange.synthetic.files import write_dataset
from biometric_exchange.workspace import (
    create_pair,
    recreate_marked_folder,
    start_node_process,
    stop_process,
    wait_serving,
)

MARKER = ".bx-demo"
COUNTRY_DIR = {"CHL": "node_chile", "PAN": "node_panama"}


def _wait_outboxes(nodes: dict[str, Node], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(node.outbox.depth() == 0 for node in nodes.values()):
            return
        time.sleep(0.25)
    raise ConfigError(f"exchanges still pending after {timeout:.0f} s; see the node logs")


def _expected_partner_hits(dataset: DemoDataset) -> int:
    return sum(
        1
        for case in dataset.ground_truth
        if case.holder_country not in (None, case.enrolling_country) and case.extra_regional
    )


def run_demo(workdir: Path, *, seed: int, console: Console) -> bool:
    """Run the scenario; True when each node raised an alert from the exchange."""
    console.rule("[bold]biometric-exchange demo")
    console.print(f"[bold yellow]{SYNTHETIC_NOTICE}[/]")
    recreate_marked_folder(
        workdir, MARKER, refusal="is not a demo folder; choose another --workdir"
    )
    chile_dir, panama_dir = create_pair(workdir)
    console.print(f"keys, CAs and a signed agreement for Chile and Panama in {workdir}/")
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=14)
    dataset = build_demo_dataset(seed, start=start)
    write_dataset(dataset, workdir / "synthetic_data")
    dirs = {"CHL": chile_dir, "PAN": panama_dir}
    nodes = {country: Node.open(path) for country, path in dirs.items()}
    for country, node in nodes.items():
        node.records.add_watchlist(dataset.watchlists[country])
        console.print(
            f"{country}: watchlist of {len(dataset.watchlists[country])} synthetic entries"
        )
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for country, path in dirs.items():
            processes[country] = start_node_process(path, workdir / "logs" / f"{path.name}.log")
        for country, path in dirs.items():
            wait_serving(path, processes[country])
            console.print(f"{country}: node serving on {nodes[country].config.node.listen} (mTLS)")
        for country, node in nodes.items():
            for encounter in dataset.encounters[country]:
                enrol(node, encounter)
            console.print(f"{country}: enrolled {len(dataset.encounters[country])} encounters")
        _wait_outboxes(nodes, timeout=60)
        ok = _report(nodes, dataset, console)
        ok = _step_two(nodes, console) and ok
    finally:
        for country, process in processes.items():
            status = stop_process(process)
            console.print(f"{country}: node stopped (exit status {status})")
        for node in nodes.values():
            node.database.close()
        console.print(f"logs and databases kept in {workdir}/")
    return _simulate(workdir, console) and ok


def _step_two(nodes: dict[str, Node], console: Console) -> bool:
    """PAN asks for details on one CHL hit; a CHL officer approves; PAN's node learns it."""
    pan, chl = nodes["PAN"], nodes["CHL"]
    hits = pan.alerts.partner_hits(chl.country)
    if not hits or hits[0].hit_reference is None:
        return False
    to_chile = pan.link(chl.country)
    transport = GrpcPeerTransport(to_chile)
    try:
        sent = request_details(
            to_chile,
            transport,
            hit_reference=hits[0].hit_reference,
            purpose="anti_trafficking",
            justification="Synthetic demo: confirm the identity before a referral",
            officer_id="PAN-OFFICER-1",
            fields=("names", "document_numbers", "watchlist_category"),
        )
    finally:
        transport.close()
    console.print(
        f"\nPAN: step 2 request {sent.request_id} on {sent.hit_reference} "
        f"({sent.purpose}): {sent.status.value}; waiting for a CHL officer"
    )
    approve(chl.link(pan.country), sent.request_id, "CHL-OFFICER-7", "synthetic demo approval")
    console.print(f"CHL: officer CHL-OFFICER-7 approved {sent.request_id}")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        answer = SentRequests(pan.database, pan.records.data_keys).get(sent.request_id)
        if answer is not None and answer.status is not RequestStatus.PENDING:
            console.print(sent_table([answer], "Step 2 answer received by node_panama"))
            return answer.status is RequestStatus.APPROVED
        time.sleep(0.25)
    return False


def _report(nodes: dict[str, Node], dataset: DemoDataset, console: Console) -> bool:
    ok = True
    for country, node in nodes.items():
        states = Counter(
            item.state
            for item in (node.outbox.get(e.encounter_id) for e in dataset.encounters[country])
            if item is not None
        )
        console.print(
            f"\n{country}: {states[OutboxState.DONE]} exchanged with "
            f"{', '.join(node.partner_codes)}, "
            f"{states[OutboxState.OUT_OF_SCOPE]} regional not sent, "
            f"{states[OutboxState.FAILED]} failed; audit chain intact "
            f"({node.audit.verify()} entries)"
        )
        alerts = node.alerts.list()
        console.print(alerts_table(alerts, f"Alerts on {COUNTRY_DIR[country]} ({len(alerts)})"))
        if not any(alert.partner is not None for alert in alerts):
            ok = False
    raised = sum(
        len(node.alerts.partner_hits(code))
        for node in nodes.values()
        for code in node.partner_codes
    )
    console.print(
        f"\npartner hits raised: {raised}; planted in the synthetic data: "
        f"{_expected_partner_hits(dataset)}"
    )
    return ok


DEMO_SCENARIO = Path(__file__).resolve().parents[3] / "simulations" / "demo.toml"


def _simulate(workdir: Path, console: Console) -> bool:
    """The short demo scenario over real node processes, checked against its ground truth."""
    from biometric_exchange.simulation.scenario import load_scenario  # noqa: PLC0415
    from biometric_exchange.simulation.study import run_study  # noqa: PLC0415

    if not DEMO_SCENARIO.is_file():
        console.print(f"(no {DEMO_SCENARIO.name} here: the simulation step is skipped)")
        return True
    console.rule("[bold]simulation: simulations/demo.toml over real nodes (bx simulate)")
    out = workdir / "simulation"
    with console.status("simulating") as status:
        study = run_study(
            load_scenario(DEMO_SCENARIO),
            out,
            over_grpc=True,
            progress=lambda what, _done, _total: status.update(what),
        )
    for kind, figures in study.metrics["alerts"].items():
        count = figures["alerts"]
        console.print(
            f"{kind}: {count} alert{'' if count == 1 else 's'}; evidence "
            f"{figures['true_positives']} right, {figures['false_positives']} wrong "
            "against the ground truth"
        )
    console.print(f"simulation report: {out / 'report.md'}")
    return bool(study.metrics["alerts"]["WATCHLIST_HIT"]["true_positives"])
