"""Adding a partner while nodes run: three real node processes over real mTLS.

Chile and Panama exchange; a Chile-Mexico agreement is installed in both
folders while all three run. Mexico watches its folder and loads it by itself;
Chile is set to load agreements only when told (``watch_agreements = false``),
so that the test shows both ways: its Panama items keep flowing, its Mexico
items wait (not dropped) until ``bx node reload`` sends SIGHUP, and then go.
No process restarts.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from biometric_exchange.agreement.document import parse
from biometric_exchange.agreement.policy import scope_facts
from biometric_exchange.cli.main import app
from biometric_exchange.config import load_config
from biometric_exchange.domain import Encounter
from biometric_exchange.node.enrolment import enrol
from biometric_exchange.node.presence import read_state
from biometric_exchange.node.runtime import Node, agreement_files
from biometric_exchange.store.outbox import OutboxState
from biometric_exchange.synthetic import DemoDataset
from biometric_exchange.workspace import (
    SHIPPED_TERMS,
    create_federation,
    init_agreement,
    start_node_process,
    stop_process,
    wait_serving,
)
from tests.integration.conftest import eventually

pytestmark = pytest.mark.integration
runner = CliRunner()


def _bx(*args: object) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, " ".join((result.stdout + result.stderr).split())


def _in_scope(node: Node, encounters: list[Encounter]) -> list[Encounter]:
    """Encounters Chile's agreement with Panama lets it send (extra-regional; the
    Chile-Mexico terms cover the same population)."""
    link = node.link("PAN")
    return [
        e
        for e in encounters
        if link.policy.scope_refusal(scope_facts(e.person, e.encountered_at.date()), link.purpose)
        is None
    ]


def _agreement_file(folder: Path, partner: str) -> Path:
    """The file holding ``folder``'s agreement with ``partner``."""
    country = load_config(folder).node.country
    return next(
        path for path in agreement_files(folder) if parse(path).partner_of(country).code == partner
    )


def _states(chile_dir: Path, encounters: list[Encounter], partner: str) -> list[OutboxState]:
    node = Node.open(chile_dir)
    try:
        items = [node.outbox.get(e.encounter_id, partner) for e in encounters]
        return [item.state if item else OutboxState.FAILED for item in items]
    finally:
        node.database.close()


def _all_done(chile_dir: Path, encounters: list[Encounter], partner: str) -> bool:
    return all(s is OutboxState.DONE for s in _states(chile_dir, encounters, partner))


@pytest.fixture
def corridor(
    tmp_path: Path,
) -> Iterator[tuple[dict[str, Path], dict[str, subprocess.Popen[bytes]]]]:
    folders = create_federation(tmp_path)
    # Start without the Chile-Mexico agreement: it is installed while they run.
    for holder, partner in (("CHL", "MEX"), ("MEX", "CHL")):
        _agreement_file(folders[holder], partner).unlink()
    config = folders["CHL"] / "node.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            "[node]\n", "[node]\nwatch_agreements = false\n", 1
        ),
        encoding="utf-8",
    )
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for country, folder in folders.items():
            processes[country] = start_node_process(folder, tmp_path / f"{country}.log")
        for country, folder in folders.items():
            wait_serving(folder, processes[country])
        yield folders, processes
    finally:
        for process in processes.values():
            stop_process(process)


def test_partner_added_while_running_loads_by_sighup_and_other_items_keep_flowing(
    corridor: tuple[dict[str, Path], dict[str, subprocess.Popen[bytes]]], dataset: DemoDataset
) -> None:
    folders, processes = corridor
    chile_dir, mexico_dir = folders["CHL"], folders["MEX"]
    chile_pid = processes["CHL"].pid
    before = Node.open(chile_dir)
    try:
        eligible = _in_scope(before, dataset.encounters["CHL"])
        first, second = eligible[: len(eligible) // 2], eligible[len(eligible) // 2 :]
        assert first and second
        for encounter in first:
            enrol(before, encounter)
    finally:
        before.database.close()
    eventually(lambda: _all_done(chile_dir, first, "PAN"), timeout=60)

    init_agreement(chile_dir, mexico_dir, terms_file=SHIPPED_TERMS[frozenset({"CHL", "MEX"})])
    after = Node.open(chile_dir)  # as `bx enroll` would: the folder now holds both agreements
    try:
        assert after.partner_codes == ["PAN", "MEX"]
        for encounter in second:
            enrol(after, encounter)
    finally:
        after.database.close()

    # Panama's items flow while Mexico's wait for the reload (pending, not dropped).
    eventually(lambda: _all_done(chile_dir, second, "PAN"), timeout=60)
    waiting = _states(chile_dir, second, "MEX")
    assert set(waiting) == {OutboxState.PENDING}, waiting
    code, shown = _bx("status", "-n", chile_dir, "--timeout", "2")
    assert "differs from disk" in shown and "with MEX is on disk, not loaded" in shown, shown
    # Mexico watches its folder: it has loaded Chile's agreement by itself.
    mexico_state = eventually(
        lambda: (s := read_state(mexico_dir)) and "CHL" in s.agreements and s, timeout=30
    )
    assert mexico_state.last_reload is not None and mexico_state.last_reload.added == ("CHL",)

    code, said = _bx("node", "reload", "-n", chile_dir)
    assert code == 0, said
    assert "added MEX" in said

    eventually(lambda: _all_done(chile_dir, second, "MEX"), timeout=60)
    assert processes["CHL"].poll() is None and processes["CHL"].pid == chile_pid
    state = read_state(chile_dir)
    assert state is not None and state.pid == chile_pid
    assert sorted(state.agreements) == ["MEX", "PAN"]
    code, shown = _bx("status", "-n", chile_dir, "--format", "json", "--timeout", "2")
    assert code == 0, shown
    report = json.loads(
        runner.invoke(app, ["status", "-n", str(chile_dir), "--format", "json"]).stdout
    )
    partners = {p["partner"]: p for p in report["partners"]}
    assert set(partners) == {"PAN", "MEX"}
    assert partners["MEX"]["reachable"] and partners["MEX"]["agreement_matches"]
    assert report["process"]["differences"] == []
    assert report["process"]["partners_loaded"] == ["MEX", "PAN"]


def test_a_broken_agreement_on_disk_is_refused_and_the_node_keeps_serving(
    corridor: tuple[dict[str, Path], dict[str, subprocess.Popen[bytes]]],
) -> None:
    folders, processes = corridor
    chile_dir = folders["CHL"]
    target = _agreement_file(chile_dir, "PAN")
    target.write_text(target.read_text(encoding="utf-8").replace("synthetic = true", "x = 1"))

    code, said = _bx("node", "reload", "-n", chile_dir)

    assert code == 1
    assert "reload refused, still serving the agreements held" in said
    state = read_state(chile_dir)
    assert state is not None and "PAN" in state.agreements
    assert processes["CHL"].poll() is None
    # Chile's folder no longer opens, but its process serves on: Panama reaches it.
    code, shown = _bx("node", "health", "-n", folders["PAN"], "--partners")
    assert code == 0, shown
    assert "CHL's node" in shown


def test_reload_of_a_folder_no_process_serves_says_so(tmp_path: Path) -> None:
    folders = create_federation(tmp_path)

    code, said = _bx("node", "reload", "-n", folders["CHL"])

    assert code == 1
    assert "no node process serves this folder" in said
