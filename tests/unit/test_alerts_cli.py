"""``bx alerts``: listing, showing, the review commands, export and watch, in-process."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import re
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner, Result

from biometric_exchange.alerts.export import CSV_FIELDS, read_jsonl, with_deadline
from biometric_exchange.alerts.review import AlertReview, DismissalReason, sla_due
from biometric_exchange.cli.alerts_watch import watch_alerts
from biometric_exchange.cli.main import app
from biometric_exchange.domain import (
    Alert,
    AlertKind,
    AlertQueue,
    AlertStatus,
    Encounter,
    Severity,
)
from biometric_exchange.node.runtime import Node
from biometric_exchange.store.alerts import new_alert_id
from biometric_exchange.store.audit import AuditEvent
from biometric_exchange.synthetic import DemoDataset

runner = CliRunner()
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
NO_OPERATOR: dict[str, str | None] = {"BX_OPERATOR": None}
VIEWER = "viewer-007"


def _bx(*args: object, env: Mapping[str, str | None] | None = None) -> Result:
    return runner.invoke(app, [str(arg) for arg in args], env={**NO_OPERATOR, **(env or {})})


BOX_DRAWING = re.compile(r"[\u2500-\u257f]")


def _flat(text: str) -> str:
    """Plain text, table borders removed, whitespace collapsed."""
    return " ".join(BOX_DRAWING.sub(" ", ANSI_ESCAPE.sub("", text)).split())


def _ok(result: Result) -> str:
    assert result.exit_code == 0, result.stderr
    return _flat(result.stdout)


def _error(result: Result, *fragments: str) -> str:
    """Exit 2, nothing on stdout, one ``error:`` line naming every fragment."""
    assert result.exit_code == 2, result.stdout
    assert result.stdout == ""
    message = _flat(result.stderr)
    assert message.startswith("error: "), message
    assert message.count("error:") == 1, message
    for fragment in fragments:
        assert fragment in message, message
    return message


def hit(
    encounter: Encounter | None,
    *,
    severity: Severity = Severity.CRITICAL,
    kind: AlertKind = AlertKind.WATCHLIST_HIT,
    queue: AlertQueue = AlertQueue.ENFORCEMENT,
    reference: str = "HR-1",
    created_at: dt.datetime | None = None,
) -> Alert:
    """An alert as the watchlist-hit rule raises it (evidence included)."""
    encounter_id = encounter.encounter_id if encounter else None
    evidence = {
        "key": f"encounter:{encounter_id or reference}",
        "rule": kind.value,
        "source": "PAN",
        "encounter_id": encounter_id,
        "border_point": "CL-ARICA",
        "encountered_at": "2025-03-01T07:55:00+00:00",
        "distance": 0.312,
        "threshold": 0.6,
        "category": "arrest_warrant",
        "partner": "PAN",
        "hit_reference": reference,
        "agreement_id": "AGR-CHL-PAN",
        "purpose": "border_security",
    }
    return Alert(
        alert_id=new_alert_id(),
        kind=kind,
        severity=severity,
        created_at=created_at or dt.datetime.now(dt.UTC),
        summary=f"hit on PAN watchlist: encounter {encounter_id or '-'}, reference {reference}",
        subject_key=f"PAN:{reference}",
        queue=queue,
        partner="PAN",
        encounter_id=encounter_id,
        hit_reference=reference,
        category="arrest_warrant",
        distance=0.312,
        evidence=(evidence,),
    )


@pytest.fixture
def chl(nodes: dict[str, Node]) -> Node:
    return nodes["CHL"]


@pytest.fixture
def node_dir(chl: Node) -> Path:
    return chl.node_dir


@pytest.fixture
def encounters(chl: Node, dataset: DemoDataset) -> dict[str, Encounter]:
    """One enrolled Chilean encounter per nationality: CHN and VEN."""
    chosen = {}
    for code in ("CHN", "VEN"):
        chosen[code] = next(e for e in dataset.encounters["CHL"] if e.person.nationality == code)
    with chl.database.transaction() as connection:
        for encounter in chosen.values():
            chl.records.insert_encounter(connection, encounter)
    return chosen


@pytest.fixture
def raised(chl: Node, encounters: dict[str, Encounter]) -> dict[str, str]:
    """Four alerts: CHN critical, VEN medium, a protection one (no encounter), an old low."""
    alerts = {
        "chn": hit(encounters["CHN"], reference="HR-CHN"),
        "ven": hit(encounters["VEN"], severity=Severity.MEDIUM, reference="HR-VEN"),
        "protection": hit(
            None,
            severity=Severity.HIGH,
            kind=AlertKind.PROTECTION,
            queue=AlertQueue.PROTECTION,
            reference="HR-PRO",
        ),
        "old": hit(
            None,
            severity=Severity.LOW,
            reference="HR-OLD",
            created_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        ),
    }
    return {name: chl.alerts.raise_alert(alert).alert_id for name, alert in alerts.items()}


def _listed(node_dir: Path, *options: object) -> set[str]:
    output = _ok(_bx("alerts", "list", "--operator", VIEWER, "--node", node_dir, *options))
    return set(re.findall(r"ALR-[0-9A-F]{12}", output))


# --- list ----------------------------------------------------------------------------------


def test_list_shows_a_readable_table(node_dir: Path, raised: dict[str, str]) -> None:
    output = _ok(_bx("alerts", "list", "--operator", VIEWER, "--node", node_dir))

    assert f"Alerts on {node_dir.name} (4)" in output
    for column in ("alert", "kind", "severity", "status", "queue", "sla", "partner", "summary"):
        assert column in output
    assert "WATCHLIST_HIT" in output and "PROTECTION" in output
    assert "due in 14 min" in output or "due in 15 min" in output
    assert "overdue by" in output
    assert "reference HR-CHN" in output


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (("--severity", "critical"), {"chn"}),
        (("--severity", "MEDIUM"), {"ven"}),
        (("--kind", "PROTECTION"), {"protection"}),
        (("--queue", "enforcement"), {"chn", "ven", "old"}),
        (("--nationality", "CHN"), {"chn"}),
        (("--nationality", "ven"), {"ven"}),
        (("--nationality", "SOM"), set()),
        (("--since", "2025-01-01"), {"chn", "ven", "protection"}),
        (("--since", "2023-12-31T23:00:00+00:00"), {"chn", "ven", "protection", "old"}),
        (("--status", "NEW", "--queue", "protection"), {"protection"}),
    ],
)
def test_list_filters(
    node_dir: Path,
    raised: dict[str, str],
    options: tuple[str, ...],
    expected: set[str],
) -> None:
    assert _listed(node_dir, *options) == {raised[name] for name in expected}


def test_list_status_and_open_filters_follow_the_review(
    chl: Node, node_dir: Path, raised: dict[str, str]
) -> None:
    review = AlertReview(chl.database, chl.audit)
    review.acknowledge(raised["old"], "alice")
    review.dismiss(raised["old"], "alice", DismissalReason.DUPLICATE)
    review.close(raised["old"], "alice")
    review.acknowledge(raised["ven"], "alice")

    assert _listed(node_dir, "--status", "acknowledged") == {raised["ven"]}
    assert _listed(node_dir, "--status", "CLOSED") == {raised["old"]}
    assert _listed(node_dir, "--open") == {raised[n] for n in ("chn", "ven", "protection")}


def test_list_refuses_bad_filters(node_dir: Path, raised: dict[str, str]) -> None:
    _error(
        _bx("alerts", "list", "--operator", VIEWER, "--node", node_dir, "--since", "last tuesday"),
        "--since",
    )
    _error(
        _bx("alerts", "list", "--operator", VIEWER, "--node", node_dir, "--nationality", "XX1"),
        "nationality",
    )


# --- show ----------------------------------------------------------------------------------


def test_show_prints_alert_evidence_and_history(
    chl: Node, node_dir: Path, raised: dict[str, str]
) -> None:
    alert_id = raised["chn"]
    joined = chl.alerts.raise_alert(hit(None, reference="HR-CHN"))  # same subject, new key
    assert (joined.alert_id, joined.evidence_added) == (alert_id, 1)
    review = AlertReview(chl.database, chl.audit)
    review.acknowledge(alert_id, "alice")
    review.investigate(alert_id, "alice", comment="checking records")

    output = _ok(_bx("alerts", "show", "--operator", VIEWER, alert_id, "--node", node_dir))

    assert f"Alert {alert_id}" in output
    assert "acknowledged by alice" in output
    assert "sla met" in output
    assert "Evidence (2)" in output
    for value in ("encounter:HR-CHN", "AGR-CHL-PAN", "border_security", "0.3120", "0.6000"):
        assert value in output
    assert "History (2)" in output
    assert "NEW ACKNOWLEDGED alice" in output
    assert "ACKNOWLEDGED INVESTIGATING alice - checking records" in output


def test_show_withholds_personal_keys_in_evidence(chl: Node, node_dir: Path) -> None:
    alert = hit(None)
    item = {**alert.evidence[0], "family_name": "Doe-Secret", "note": "seen twice"}
    alert_id = chl.alerts.raise_alert(dataclasses.replace(alert, evidence=(item,))).alert_id

    output = _ok(_bx("alerts", "show", "--operator", VIEWER, alert_id, "--node", node_dir))

    assert "Doe-Secret" not in output
    assert "family_name=(withheld)" in output
    assert "note=seen twice" in output


def test_show_pages_the_evidence_and_sums_up_what_was_not_kept(chl: Node, node_dir: Path) -> None:
    cap = chl.config.alerts.max_evidence_per_alert
    items = tuple(
        {
            "key": f"identity:i{number:04d}",
            "rule": "IDENTITY_CONFLICT",
            "encounters": ["CHL-ENC-0001", f"CHL-ENC-{number + 2:04d}"],
            "differences": ["names", "document_number"] if number % 2 else ["names"],
        }
        for number in range(cap + 21)
    )
    alert = Alert(
        alert_id=new_alert_id(),
        kind=AlertKind.IDENTITY_CONFLICT,
        severity=Severity.HIGH,
        created_at=dt.datetime.now(dt.UTC),
        summary="encounter CHL-ENC-0002 shows the face of encounter CHL-ENC-0001",
        subject_key="conflict:CHL-ENC-0001",
        evidence=items,
    )
    raised = chl.alerts.raise_alert(alert)
    assert (raised.evidence_added, raised.evidence_overflowed) == (cap, 21)

    first = _ok(_bx("alerts", "show", "--operator", VIEWER, alert.alert_id, "--node", node_dir))
    assert f"Evidence ({cap})" in first
    assert f"showing 50 of {cap} evidence items (items 1-50, page 1 of 10; " in first
    assert "next: --evidence-page 2)" in first
    assert (
        f"and 21 more items, counted but not kept (at most {cap} per alert): "
        "IDENTITY_CONFLICT 21; differing fields: document_number 10, names 21"
    ) in first
    assert "identity:i0049" in first and "identity:i0050" not in first

    last = _ok(
        _bx(
            "alerts", "show", "--operator", VIEWER, alert.alert_id, "--node", node_dir,
            "--evidence-page", 5, "--page-size", 120,
        )
    )  # fmt: skip
    assert f"showing 20 of {cap} evidence items (items 481-500, page 5 of 5)" in last
    assert "identity:i0480" in last and "identity:i0479" not in last


def test_show_unknown_alert_is_one_error(node_dir: Path, raised: dict[str, str]) -> None:
    _error(
        _bx("alerts", "show", "--operator", VIEWER, "ALR-000000000000", "--node", node_dir),
        "no such alert",
    )


# --- review commands -----------------------------------------------------------------------


def test_review_commands_end_to_end_to_confirmed(
    chl: Node, node_dir: Path, raised: dict[str, str]
) -> None:
    alert_id = raised["chn"]

    acked = _bx("alerts", "ack", alert_id, "--node", node_dir, "--operator", "alice")
    assert f"alert {alert_id}: NEW -> ACKNOWLEDGED by alice" in _ok(acked)
    alice = {"BX_OPERATOR": "alice"}
    _ok(_bx("alerts", "investigate", alert_id, "--node", node_dir, env=alice))
    _ok(_bx("alerts", "escalate", alert_id, "--node", node_dir, env=alice))
    _error(
        _bx("alerts", "confirm", alert_id, "--node", node_dir, env=alice),
        "four eyes",
        "another officer must confirm",
    )
    confirmed = _bx("alerts", "confirm", alert_id, "--node", node_dir, "--operator", "bob")
    assert "ESCALATED -> CONFIRMED by bob" in _ok(confirmed)
    _ok(_bx("alerts", "close", alert_id, "--node", node_dir, "--operator", "bob"))

    stored = chl.alerts.get(alert_id)
    assert stored is not None and stored.status is AlertStatus.CLOSED
    decisions = [
        (e.officer, e.decision)
        for e in chl.audit.entries()
        if e.event == AuditEvent.ALERT_TRANSITION.value
    ]
    assert decisions == [
        ("alice", "ACKNOWLEDGED"),
        ("alice", "INVESTIGATING"),
        ("alice", "ESCALATED"),
        ("bob", "CONFIRMED"),
        ("bob", "CLOSED"),
    ]


def test_dismiss_command_needs_a_reason_and_a_comment_for_other(
    chl: Node, node_dir: Path, raised: dict[str, str]
) -> None:
    alert_id = raised["ven"]
    alice = {"BX_OPERATOR": "alice"}
    _ok(_bx("alerts", "ack", alert_id, "--node", node_dir, env=alice))

    _error(_bx("alerts", "dismiss", alert_id, "--node", node_dir, env=alice), "reason code")
    _error(
        _bx("alerts", "dismiss", alert_id, "--node", node_dir, "--reason", "other", env=alice),
        "reason 'other' needs a comment",
    )
    unknown = _bx("alerts", "dismiss", alert_id, "--node", node_dir, "--reason", "bored", env=alice)
    assert unknown.exit_code == 2 and "bored" in unknown.stderr
    dismissed = _bx(
        "alerts",
        "dismiss",
        alert_id,
        "--node",
        node_dir,
        "--reason",
        "other",
        "--comment",
        "photo of a photo",
        env=alice,
    )
    assert "ACKNOWLEDGED -> DISMISSED by alice" in _ok(dismissed)

    last = AlertReview(chl.database, chl.audit).history(alert_id)[-1]
    assert (last.reason_code, last.comment) == (DismissalReason.OTHER, "photo of a photo")


@pytest.mark.parametrize(
    "command",
    [
        ["ack"],
        ["investigate"],
        ["escalate"],
        ["confirm"],
        ["dismiss", "--reason", "duplicate"],
        ["close"],
    ],
)
def test_every_acting_command_refuses_without_an_operator(
    chl: Node, node_dir: Path, raised: dict[str, str], command: list[str]
) -> None:
    alert_id = raised["chn"]
    verb, *options = command

    _error(
        _bx("alerts", verb, alert_id, "--node", node_dir, *options, env={"BX_OPERATOR": ""}),
        "--operator",
        "BX_OPERATOR",
    )

    stored = chl.alerts.get(alert_id)
    assert stored is not None and stored.status is AlertStatus.NEW


def test_illegal_transition_from_the_cli_names_the_allowed_states(
    node_dir: Path, raised: dict[str, str]
) -> None:
    _error(
        _bx("alerts", "close", raised["chn"], "--node", node_dir, "--operator", "alice"),
        "is NEW: cannot move to CLOSED (allowed next: ACKNOWLEDGED)",
    )


REVIEW_HELP = [
    "ack NEW -> ACKNOWLEDGED: you take the alert (stops its SLA clock).",
    "investigate ACKNOWLEDGED -> INVESTIGATING.",
    "escalate INVESTIGATING -> ESCALATED.",
    "confirm ACKNOWLEDGED/INVESTIGATING/ESCALATED -> CONFIRMED; "
    "four eyes: not by the acknowledger.",
    "dismiss ACKNOWLEDGED/INVESTIGATING/ESCALATED -> DISMISSED; "
    "--reason ('other' needs --comment).",
    "close CONFIRMED/DISMISSED -> CLOSED (a new hit then opens a new alert).",
]


def test_review_commands_are_listed_with_the_states_they_move_between() -> None:
    listing = _ok(_bx("alerts", "--help", env={"COLUMNS": "200"}))

    positions = [listing.index(line) for line in REVIEW_HELP]
    assert positions == sorted(positions)
    assert listing.index(" show One alert") < positions[0]
    assert positions[-1] < listing.index(" export Every alert")


def test_only_dismiss_takes_a_reason() -> None:
    dismiss = _ok(_bx("alerts", "dismiss", "--help", env={"COLUMNS": "200"}))
    close = _ok(_bx("alerts", "close", "--help", env={"COLUMNS": "200"}))

    assert "--reason <false_match|duplicate|out_of_scope|other> Why the alert is dismissed" in (
        dismiss
    )
    assert "--reason" not in close
    for options in (dismiss, close):
        assert "--node" in options and "--operator" in options and "--comment" in options


# --- export --------------------------------------------------------------------------------


def test_export_jsonl_round_trips(
    chl: Node, node_dir: Path, raised: dict[str, str], tmp_path: Path
) -> None:
    review = AlertReview(chl.database, chl.audit)
    review.acknowledge(raised["chn"], "alice")
    out = tmp_path / "alerts.jsonl"

    output = _ok(
        _bx(
            "alerts",
            "export",
            "--operator",
            VIEWER,
            "--node",
            node_dir,
            "--output",
            out,
            "--format",
            "jsonl",
        )
    )

    assert "exported 4 alerts to" in output
    read = read_jsonl(out)
    assert read == [with_deadline(alert) for alert in chl.alerts.list()]
    acknowledged = next(a for a in read if a.alert_id == raised["chn"])
    assert acknowledged.acknowledged_by == "alice" and acknowledged.due_at is not None
    stored = {alert.alert_id: alert for alert in chl.alerts.list()}
    for alert in read:
        assert alert.due_at == sla_due(stored[alert.alert_id]), alert.status
    assert any(alert.status is AlertStatus.NEW for alert in read)


def test_export_csv_flattens_evidence(
    chl: Node, node_dir: Path, raised: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "alerts.csv"

    _ok(
        _bx(
            "alerts",
            "export",
            "--operator",
            VIEWER,
            "--node",
            node_dir,
            "--output",
            out,
            "--format",
            "csv",
        )
    )

    with out.open(encoding="utf-8", newline="") as source:
        reader = csv.DictReader(source)
        rows = list(reader)
    assert tuple(reader.fieldnames or ()) == CSV_FIELDS
    assert {row["alert_id"] for row in rows} == set(raised.values())
    stored = {alert.alert_id: alert for alert in chl.alerts.list()}
    for row in rows:  # every alert has its deadline, NEW ones included
        assert row["due_at"] == sla_due(stored[row["alert_id"]]).isoformat()
    chn = next(row for row in rows if row["alert_id"] == raised["chn"])
    assert (chn["evidence_count"], chn["evidence_reference"], chn["evidence_purpose"]) == (
        "1",
        "HR-CHN",
        "border_security",
    )
    assert chn["evidence_threshold"] == "0.6"


def test_export_to_an_unwritable_path_is_one_error(
    node_dir: Path, raised: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "missing" / "alerts.jsonl"
    _error(
        _bx("alerts", "export", "--operator", VIEWER, "--node", node_dir, "--output", out),
        "--output: cannot write",
    )


# --- watch ---------------------------------------------------------------------------------


def test_watch_once_shows_alerts_awaiting_acknowledgement(
    chl: Node, node_dir: Path, raised: dict[str, str]
) -> None:
    AlertReview(chl.database, chl.audit).acknowledge(raised["ven"], "alice")

    output = _ok(_bx("alerts", "watch", "--operator", VIEWER, "--node", node_dir, "--once"))

    assert f"Awaiting acknowledgement on {node_dir.name} (3)" in output
    assert raised["chn"] in output and raised["ven"] not in output
    # Most urgent first: the overdue low alert of 2024, then the critical one.
    assert output.index(raised["old"]) < output.index(raised["chn"])


def test_watch_stops_after_seconds(node_dir: Path, raised: dict[str, str]) -> None:
    """``--seconds`` ends the watch (one that did not would run into the test timeout)."""
    result = _bx(
        "alerts",
        "watch",
        "--operator",
        VIEWER,
        "--node",
        node_dir,
        "--seconds",
        "0.3",
        "--interval",
        "0.1",
    )
    assert raised["chn"] in _ok(result)


class _Enough(Exception):
    """Raised by ``_sleeps`` to end a watch that runs until interrupted."""


def _sleeps(count: int) -> Callable[[float], None]:
    """A ``sleep`` for the watch that takes no time and, after ``count`` sleeps, ends it."""
    left = iter(range(count))

    def sleep(_seconds: float) -> None:
        if next(left, None) is None:
            raise _Enough

    return sleep


def _fetches(views: list[list[Alert]]) -> tuple[Callable[[], list[Alert]], list[int]]:
    """A fetch that returns ``views`` one by one (then the last again), counting calls."""
    calls: list[int] = []

    def fetch() -> list[Alert]:
        calls.append(1)
        return views[min(len(calls), len(views)) - 1]

    return fetch, calls


def test_watch_prints_each_new_alert_once() -> None:
    first, second = hit(None, reference="HR-A"), hit(None, reference="HR-B")
    fetch, calls = _fetches([[first], [first], [first, second]])
    out = io.StringIO()

    with pytest.raises(_Enough):
        watch_alerts(fetch, Console(file=out, width=150), title="Awaiting", sleep=_sleeps(4))

    text = out.getvalue()
    assert len(calls) == 5  # the first look, then one poll after each sleep
    assert first.alert_id in text
    assert text.count(f"new alert {second.alert_id} critical WATCHLIST_HIT") == 1


def test_watch_on_a_terminal_renders_a_live_table() -> None:
    first, second = hit(None, reference="HR-A"), hit(None, reference="HR-B")
    fetch, _calls = _fetches([[first], [first, second]])
    out = io.StringIO()

    with pytest.raises(_Enough):
        watch_alerts(
            fetch,
            Console(file=out, width=150, force_terminal=True),
            title="Awaiting",
            sleep=_sleeps(2),
        )

    text = ANSI_ESCAPE.sub("", out.getvalue())
    assert "Awaiting (2)" in text
    assert f"new: {second.alert_id}" in text


@pytest.mark.parametrize("verb", ["list", "export", "watch"])
def test_reading_commands_refuse_without_an_operator(
    node_dir: Path, verb: str, tmp_path: Path
) -> None:
    options = ["--output", str(tmp_path / "x.jsonl")] if verb == "export" else []
    if verb == "watch":
        options = ["--once"]
    _error(_bx("alerts", verb, "--node", node_dir, *options), "--operator")


# --- ids by prefix, relative times, checked filters ----------------------------------------


def test_an_alert_is_named_by_a_unique_prefix(node_dir: Path, raised: dict[str, str]) -> None:
    alert_id = raised["ven"]
    shown = _ok(_bx("alerts", "show", alert_id[:-4], "--operator", VIEWER, "--node", node_dir))
    assert f"Alert {alert_id}" in shown
    acked = _ok(_bx("alerts", "ack", alert_id[:-3], "--operator", "ofc-1", "--node", node_dir))
    assert f"alert {alert_id}: NEW -> ACKNOWLEDGED by ofc-1" in acked


def test_an_ambiguous_or_unknown_prefix_is_a_usage_error(
    node_dir: Path, raised: dict[str, str]
) -> None:
    ambiguous = _error(_bx("alerts", "show", "ALR-", "--operator", VIEWER, "--node", node_dir))
    assert "ambiguous, 4 match" in ambiguous
    for alert_id in raised.values():
        assert alert_id in ambiguous
    unknown = _error(_bx("alerts", "ack", "ALR-ZZZ", "--operator", VIEWER, "--node", node_dir))
    assert "alert 'ALR-ZZZ': no such alert" in unknown


def test_list_takes_relative_times(node_dir: Path, raised: dict[str, str]) -> None:
    recent = {raised[n] for n in ("chn", "ven", "protection")}
    assert _listed(node_dir, "--since", "2h") == recent
    assert _listed(node_dir, "--since", "yesterday") == recent
    assert _listed(node_dir, "--until", "30d") == {raised["old"]}
    assert _listed(node_dir, "--since", "2023-12-31", "--until", "2024-01-02") == {raised["old"]}
    _error(
        _bx(
            "alerts",
            "list",
            "--operator",
            VIEWER,
            "--node",
            node_dir,
            "--since",
            "1h",
            "--until",
            "2h",
        ),
        "--until",
    )


def test_list_refuses_unknown_filter_values(node_dir: Path, raised: dict[str, str]) -> None:
    base = ("alerts", "list", "--operator", VIEWER, "--node", node_dir)
    _error(_bx(*base, "--nationality", "ZZZ"), "--nationality: unknown nationality code ZZZ")
    _error(_bx(*base, "--partner", "ZZZ"), "--partner: 'ZZZ' is not a partner", "PAN")
    for option in ("--status", "--kind", "--severity", "--queue"):
        refused = _bx(*base, option, "bogus")
        assert refused.exit_code == 2 and "bogus" in refused.stderr, option
    assert _listed(node_dir, "--nationality", "chn") == {raised["chn"]}
    assert _listed(node_dir, "--partner", "pan") == set(raised.values())


def test_export_writes_stdout_with_dash(node_dir: Path, raised: dict[str, str]) -> None:
    result = _bx(
        "alerts", "export", "--operator", VIEWER, "-n", node_dir, "-o", "-", "--format", "csv"
    )
    assert result.exit_code == 0, result.stderr
    rows = result.stdout.splitlines()
    assert rows[0].startswith("alert_id,") and len(rows) == 1 + len(raised)
    assert "exported 4 alerts to stdout (csv)" in _flat(result.stderr)


def _completions(*words: object) -> list[str]:
    """What bash completion offers for the last word of ``bx WORDS``."""
    line = " ".join(["bx", *map(str, words)])
    env = {"_BX_COMPLETE": "complete_bash", "COMP_WORDS": line, "COMP_CWORD": str(len(words))}
    result = runner.invoke(app, [], prog_name="bx", env=env)
    assert result.exit_code == 0, result.stderr
    return result.stdout.split()


def test_shell_completion_offers_ids_and_scenarios(node_dir: Path, raised: dict[str, str]) -> None:
    assert set(_completions("alerts", "show", "-n", node_dir, "ALR-")) == set(raised.values())
    one = raised["chn"]
    assert _completions("alerts", "ack", "--node", node_dir, one[:-2]) == [one]
    assert _completions("alerts", "show", "ALR-") == []  # no node named yet: nothing to offer
    assert _completions("simulate", "dar") == ["darien_corridor"]
    assert "demo_blind" in _completions("simulate", "demo")
