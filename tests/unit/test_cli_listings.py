"""Every listing of ``bx`` in every ``--format``: json parses with ``json.loads``, jsonl
line by line, csv with a header; ``--version``; ``-o -`` writes stdout; exit codes."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from biometric_exchange import __version__
from biometric_exchange.cli.main import app
from biometric_exchange.domain import Alert, AlertKind, AlertQueue, Severity
from biometric_exchange.node.runtime import Node
from biometric_exchange.store.alerts import new_alert_id
from biometric_exchange.store.audit import AuditEvent, AuditOutcome
from tests.unit.test_cli_style import LISTINGS

runner = CliRunner()
OPERATOR = {"BX_OPERATOR": "viewer-007"}
REFERENCES = ("HR-7F3A9C2B11D04E58A", "HR-0B1C5D6E7F8091A2B")
"""Hit references as long as real ones, so that a narrow table would have to break them."""


def _bx(*args: object) -> Result:
    return runner.invoke(app, [str(arg) for arg in args], env=OPERATOR)


def _alert(reference: str) -> Alert:
    return Alert(
        alert_id=new_alert_id(),
        kind=AlertKind.WATCHLIST_HIT,
        severity=Severity.HIGH,
        created_at=dt.datetime.now(dt.UTC),
        summary=f"hit on PAN watchlist: reference {reference}",
        subject_key=f"PAN:{reference}",
        queue=AlertQueue.ENFORCEMENT,
        partner="PAN",
        hit_reference=reference,
        evidence=(
            {"key": f"ref:{reference}", "rule": "WATCHLIST_HIT", "hit_reference": reference},
        ),
    )


@pytest.fixture
def chile(nodes: dict[str, Node]) -> tuple[Path, list[str]]:
    """Chile's folder with two alerts and an audit entry; the alerts' ids."""
    node = nodes["CHL"]
    ids = [node.alerts.raise_alert(_alert(ref)).alert_id for ref in REFERENCES]
    for number in range(3):
        node.audit.record(
            AuditEvent.IDENTIFY_SENT, AuditOutcome.ACCEPTED, peer="PAN", message_id=f"m-{number}"
        )
    node.database.close()
    return node.node_dir, ids


def _listing_args(node_dir: Path, alert_id: str) -> dict[str, list[object]]:
    n = ["-n", node_dir]
    return {
        "bx agreement show": ["agreement", "show", *n],
        "bx alerts list": ["alerts", "list", *n],
        "bx alerts show": ["alerts", "show", alert_id, *n],
        "bx audit list": ["audit", "list", *n],
        "bx details list": ["details", "list", *n],
        "bx node health": ["node", "health", *n],
        "bx officers list": ["officers", "list", *n],
        "bx requests list": ["requests", "list", *n],
        "bx status": ["status", *n, "--timeout", "0.2"],
        "bx watchlist find": ["watchlist", "find", *n, "--document", "SYN-NONE"],
    }


def test_every_listing_writes_json_jsonl_and_csv(chile: tuple[Path, list[str]]) -> None:
    node_dir, ids = chile
    commands = _listing_args(node_dir, ids[0])
    assert set(commands) == LISTINGS, "a listing without a test here"
    for name, args in commands.items():
        # status and node health exit 1 for a node that is not serving, output intact.
        expected = 1 if name in ("bx status", "bx node health") else 0
        as_json = _bx(*args, "--format", "json")
        assert as_json.exit_code == expected, (name, as_json.stderr)
        document = json.loads(as_json.stdout)
        assert isinstance(document, list | dict), name
        lines = _bx(*args, "--format", "jsonl").stdout.splitlines()
        parsed = [json.loads(line) for line in lines]
        if isinstance(document, list):
            assert parsed == document, name
        else:
            assert parsed == [document], name
        table = list(csv.reader(io.StringIO(_bx(*args, "--format", "csv").stdout)))
        assert table and table[0], f"{name}: csv without a header"
        assert all(len(row) == len(table[0]) for row in table), name


def test_alert_listing_as_json_carries_the_alerts(chile: tuple[Path, list[str]]) -> None:
    node_dir, ids = chile
    listed = json.loads(_bx("alerts", "list", "-n", node_dir, "--format", "json").stdout)
    assert [row["alert_id"] for row in listed] == ids
    assert {row["hit_reference"] for row in listed} == set(REFERENCES)
    assert all(row["sla"].startswith("due in") for row in listed)
    shown = json.loads(_bx("alerts", "show", ids[1], "-n", node_dir, "--format", "json").stdout)
    assert shown["alert_id"] == ids[1] and shown["evidence_total"] == 1
    assert shown["evidence"][0]["hit_reference"] == REFERENCES[1] and shown["history"] == []


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"bx (biometric-exchange) {__version__}"


def test_dash_o_dash_writes_stdout_the_same_bytes(
    chile: tuple[Path, list[str]], tmp_path: Path
) -> None:
    node_dir, _ = chile
    for command in (["audit", "export"], ["alerts", "export"]):
        to_file = _bx(*command, "-n", node_dir, "-o", tmp_path / "out.jsonl")
        assert to_file.exit_code == 0, to_file.stderr
        to_stdout = _bx(*command, "-n", node_dir, "-o", "-")
        assert to_stdout.exit_code == 0, to_stdout.stderr
        assert to_stdout.stdout == (tmp_path / "out.jsonl").read_text(encoding="utf-8")
        assert "to stdout" in to_stdout.stderr
        assert not Path("-").exists()


def test_usage_errors_exit_2_and_failed_checks_exit_1(chile: tuple[Path, list[str]]) -> None:
    node_dir, _ = chile
    assert _bx("alerts", "list", "-n", node_dir, "--format", "xml").exit_code == 2
    assert _bx("alerts", "list", "--node").exit_code == 2
    assert _bx("status", "-n", node_dir.parent / "nowhere").exit_code == 2
    assert _bx("status", "-n", node_dir, "--timeout", "0.2").exit_code == 1


def _run_bx(*args: object, columns: int) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "biometric_exchange.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env={"COLUMNS": str(columns), "PATH": "/usr/bin:/bin"},
        check=True,
    )
    return result.stdout


def test_piped_tables_follow_columns(chile: tuple[Path, list[str]]) -> None:
    node_dir, ids = chile
    for columns in (60, 120):
        shown = _run_bx("alerts", "list", "-n", node_dir, "--operator", "v-1", columns=columns)
        widths = [len(line) for line in shown.splitlines()]
        assert max(widths) <= columns
        assert max(widths) > 60 if columns == 120 else True
        # An id is never broken across lines, however narrow the table.
        assert set(re.findall(r"ALR-[0-9A-F]{12}", shown)) == set(ids)
        one = _run_bx(
            "alerts", "show", ids[0][:-3], "-n", node_dir, "--operator", "v-1", columns=columns
        )
        assert max(len(line) for line in one.splitlines()) <= columns
        for whole in (ids[0], REFERENCES[0], f"ref:{REFERENCES[0]}"):
            assert whole in one, (columns, whole)


def _export(node_dir: Path, path: Path) -> list[str]:
    assert _bx("audit", "export", "-n", node_dir, "-o", path).exit_code == 0
    return path.read_text(encoding="utf-8").splitlines()


def _verify_file(path: Path) -> Result:
    return _bx("audit", "verify", "--file", path)


def test_audit_verify_file_accepts_an_untouched_export(
    chile: tuple[Path, list[str]], tmp_path: Path
) -> None:
    node_dir, _ = chile
    lines = _export(node_dir, tmp_path / "audit.jsonl")
    assert len(lines) >= 3
    result = _verify_file(tmp_path / "audit.jsonl")
    assert result.exit_code == 0, result.stderr
    said = " ".join(result.stdout.split())
    assert f"intact: {len(lines)} entries" in said
    last = json.loads(lines[-1])
    assert f"last entry: seq {last['seq']}, hash {last['entry_hash']}" in said
    on_node = " ".join(_bx("audit", "verify", "-n", node_dir).stdout.split())
    assert f"last entry: seq {last['seq']}, hash {last['entry_hash']}" in on_node


def _tampered(lines: list[str], path: Path) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("how", ["edit", "remove", "swap", "garble"])
def test_audit_verify_file_names_the_first_broken_line(
    chile: tuple[Path, list[str]], tmp_path: Path, how: str
) -> None:
    node_dir, _ = chile
    lines = _export(node_dir, tmp_path / "audit.jsonl")
    entry = json.loads(lines[1])
    if how == "edit":
        entry["outcome"] = "rejected"
        lines[1] = json.dumps(entry)
    elif how == "remove":
        del lines[1]
    elif how == "swap":
        lines[1], lines[2] = lines[2], lines[1]
    else:
        lines[1] = lines[1][:-5]
    result = _verify_file(_tampered(lines, tmp_path / "tampered.jsonl"))
    assert result.exit_code == 1, result.stdout
    assert result.stdout == ""
    assert "line 2:" in " ".join(result.stderr.split())


def test_audit_verify_needs_a_node_or_a_file(tmp_path: Path) -> None:
    assert _bx("audit", "verify").exit_code == 2
    missing = _verify_file(tmp_path / "absent.jsonl")
    assert missing.exit_code == 2 and "cannot read" in missing.stderr
