"""One rule for every record entering a node (``domain.check_entry``).

A record must be marked synthetic with a generator, and an encounter must have
been met at one of the node's own border points. Every entry path (enrol,
watchlist import, ANSI/NIST-ITL import, the record store itself) refuses
otherwise, names the record and the field, and stores nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from biometric_exchange.agreement.terms import Approval, QuotaTerms, Step2Terms
from biometric_exchange.cli.main import app
from biometric_exchange.config import DATABASE_PATH
from biometric_exchange.domain import (
    UNMARKED,
    Encounter,
    Provenance,
    RequestStatus,
    WatchlistCategory,
)
from biometric_exchange.exceptions import InvalidInput, RecordRefused
from biometric_exchange.interop.nist import export_transaction, parse_transaction
from biometric_exchange.interop.nist.types import Record
from biometric_exchange.node.enrolment import add_watchlist, enrol
from biometric_exchange.node.interchange import import_transaction
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.send.details import poll_pending, request_details
from biometric_exchange.node.serve.details import approve
from biometric_exchange.node.serve.local import InMemoryPeerTransport
from biometric_exchange.recordfiles import encounter_to_dict, watchlist_entry_to_dict
from biometric_exchange.store.audit import AuditEntry, AuditEvent, AuditOutcome
from biometric_exchange.store.details import ReceivedRequests, SentRequest, SentRequests
from biometric_exchange.synthetic import DemoDataset
from tests.unit.test_details import JUSTIFICATION, _write_agreement
from tests.wiring import ClockAhead, handlers, worker

runner = CliRunner()
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
CREATED = dt.datetime(2026, 11, 20, 10, tzinfo=dt.UTC)


def _bx(*args: object) -> Result:
    return runner.invoke(app, [str(arg) for arg in args])


def _error(result: Result) -> str:
    assert result.exit_code == 2, result.stdout
    return " ".join(ANSI_ESCAPE.sub("", result.stderr).split())


def _stored(node_dir: Path) -> tuple[int, int, int]:
    """(encounters, watchlist entries, outbox items) in the node's database."""
    with closing(sqlite3.connect(node_dir / DATABASE_PATH)) as db:

        def count(table: str) -> int:
            return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

        return count("encounters"), count("watchlist"), count("outbox")


def _nist_file(record: Record, path: Path) -> Path:
    exported = export_transaction(
        record, originator="PAN-BX-node_panama", destination="CHL-BX", created=CREATED
    )
    path.write_bytes(exported.data)
    return path


def _unmarked_encounter(dataset: DemoDataset, country: str) -> Encounter:
    return dataclasses.replace(dataset.encounters[country][0], provenance=UNMARKED)


# ---------------------------------------------------------------- provenance


def test_enrol_refuses_an_unmarked_encounter_and_stores_nothing(
    pair_dirs: tuple[Path, Path], dataset: DemoDataset, tmp_path: Path
) -> None:
    chile = pair_dirs[0]
    record = encounter_to_dict(dataset.encounters["CHL"][0])
    del record["provenance"]
    path = tmp_path / "unmarked.json"
    path.write_text(json.dumps(record), encoding="utf-8")

    message = _error(_bx("enroll", path, "--node", chile, "--wait", "0"))

    assert f"encounter {record['encounter_id']}: provenance: missing" in message
    assert _stored(chile) == (0, 0, 0)


def test_watchlist_import_refuses_an_unmarked_entry_and_stores_nothing(
    pair_dirs: tuple[Path, Path], dataset: DemoDataset, tmp_path: Path
) -> None:
    chile = pair_dirs[0]
    lines = [watchlist_entry_to_dict(e) for e in dataset.watchlists["CHL"][:3]]
    del lines[1]["provenance"]
    path = tmp_path / "watchlist.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")

    message = _error(_bx("watchlist", "import", path, "--node", chile))

    assert f"watchlist entry {lines[1]['entry_id']}: provenance: missing" in message
    assert _stored(chile) == (0, 0, 0)


@pytest.mark.parametrize("as_watchlist", [False, True], ids=["encounter", "watchlist entry"])
def test_nist_import_refuses_an_unmarked_record_and_stores_nothing(
    pair_dirs: tuple[Path, Path], dataset: DemoDataset, tmp_path: Path, as_watchlist: bool
) -> None:
    chile = pair_dirs[0]
    encounter = _unmarked_encounter(dataset, "CHL")
    path = _nist_file(encounter, tmp_path / "unmarked.nist")
    option = ["--watchlist", "arrest_warrant"] if as_watchlist else []

    message = _error(_bx("import", "nist", "-n", chile, path, *option))

    kind = "watchlist entry" if as_watchlist else "encounter"
    assert f"{path}: {kind} {encounter.encounter_id}: 2.910 SYN: missing" in message
    assert _stored(chile) == (0, 0, 0)


def test_a_synthetic_marker_without_a_generator_is_refused(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    chile = nodes["CHL"]
    nameless = Provenance(synthetic=True, generator="  ")
    encounter = dataclasses.replace(dataset.encounters["CHL"][0], provenance=nameless)
    with pytest.raises(RecordRefused, match=r"provenance\.generator: missing"):
        enrol(chile, encounter)
    entry = dataclasses.replace(
        dataset.watchlists["CHL"][0], entry_id="W-NAMELESS", provenance=nameless
    )
    with pytest.raises(RecordRefused, match=r"provenance\.generator: missing"):
        add_watchlist(chile, [entry])
    assert chile.records.count_encounters() == 0
    assert chile.records.watchlist_entry("W-NAMELESS") is None


def test_the_record_store_itself_refuses_an_unmarked_batch_whole(
    pair_dirs: tuple[Path, Path], dataset: DemoDataset
) -> None:
    """Paths that write through the store directly (demo, load and attack runs) too."""
    node = Node.open(pair_dirs[0])
    try:
        good, *_ = dataset.watchlists["CHL"]
        unmarked = dataclasses.replace(
            dataset.watchlists["CHL"][1], entry_id="W-UNMARKED", provenance=UNMARKED
        )
        with pytest.raises(RecordRefused, match="watchlist entry W-UNMARKED: provenance"):
            node.records.add_watchlist([good, unmarked])
        with (
            pytest.raises(RecordRefused, match="provenance: missing"),
            node.database.transaction() as connection,
        ):
            node.records.insert_encounter(connection, _unmarked_encounter(dataset, "CHL"))
    finally:
        node.database.close()
    assert _stored(pair_dirs[0]) == (0, 0, 0)


# ------------------------------------------------------------- border points


def test_enrol_refuses_an_encounter_at_another_countrys_border_point(
    pair_dirs: tuple[Path, Path], dataset: DemoDataset, tmp_path: Path
) -> None:
    panama = pair_dirs[1]
    record = encounter_to_dict(dataset.encounters["PAN"][0])
    record["border_point"] = "CHL-COLCHANE"
    path = tmp_path / "elsewhere.json"
    path.write_text(json.dumps(record), encoding="utf-8")

    message = _error(_bx("enroll", path, "--node", panama, "--wait", "0"))

    assert (
        f"encounter {record['encounter_id']}: border_point: 'CHL-COLCHANE' is not a border "
        "point of PAN" in message
    )
    assert _stored(panama) == (0, 0, 0)


def test_nist_import_refuses_an_encounter_at_another_countrys_border_point(
    pair_dirs: tuple[Path, Path], dataset: DemoDataset, tmp_path: Path
) -> None:
    chile = pair_dirs[0]
    panamanian = dataset.encounters["PAN"][0]
    path = _nist_file(panamanian, tmp_path / "panama.nist")

    message = _error(_bx("import", "nist", "-n", chile, path))

    assert (
        f"encounter {panamanian.encounter_id}: 2.921 BPT: {panamanian.border_point!r} "
        "is not a border point of CHL" in message
    )
    assert _stored(chile) == (0, 0, 0)


def test_a_foreign_encounter_may_enter_as_a_watchlist_entry(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    """A watchlist entry has no border point: the partner's subject may be listed."""
    chile = nodes["CHL"]
    panamanian = dataset.encounters["PAN"][0]
    transaction = parse_transaction(
        export_transaction(
            panamanian, originator="PAN-BX-node_panama", destination="CHL-BX", created=CREATED
        ).data,
        "panama.nist",
    )
    with pytest.raises(InvalidInput, match=r"2\.921 BPT"):
        import_transaction(chile, transaction, source="panama.nist")
    import_transaction(
        chile, transaction, watchlist_category=WatchlistCategory.MISSING_PERSON, source="p.nist"
    )
    entry = chile.records.watchlist_entry(panamanian.encounter_id)
    assert entry is not None and entry.category is WatchlistCategory.MISSING_PERSON
    assert chile.records.encounter(panamanian.encounter_id) is None


# ------------------------------------------------------ step 2: disclosed once


@dataclass
class Step2:
    chl: Node
    pan: Node
    clock: ClockAhead
    transport: InMemoryPeerTransport
    reference: str

    def ask(self) -> SentRequest:
        return request_details(
            self.pan.link("CHL"),
            self.transport,
            hit_reference=self.reference,
            purpose="missing_persons",
            justification=JUSTIFICATION,
            officer_id="PAN-OFFICER-12",
            fields=["names", "birth_date"],
        )

    def ask_again(self, request_id: str) -> SentRequest:
        """A requester that asks again about a decided request (poll asks pending ones)."""
        with self.pan.database.transaction() as connection:
            connection.execute(
                "UPDATE details_sent SET status = 'pending' WHERE request_id = ?", (request_id,)
            )
        assert poll_pending(self.pan.link("CHL"), self.transport, due_only=False) == 1
        sent = SentRequests(self.pan.database, self.pan.records.data_keys).get(request_id)
        assert sent is not None
        return sent

    def replies(self) -> list[AuditEntry]:
        return [
            e
            for e in self.chl.audit.entries()
            if e.event == AuditEvent.DETAILS_REPLY_SENT and e.outcome == AuditOutcome.ACCEPTED
        ]


@pytest.fixture
def step2(pair_dirs: tuple[Path, Path], dataset: DemoDataset) -> Iterator[Step2]:
    """PAN holds a real hit reference from CHL; both nodes on one clock a test moves on."""
    _write_agreement(pair_dirs, Step2Terms(approval=Approval.MANUAL), QuotaTerms())
    clock = ClockAhead()
    chl, pan = Node.open(pair_dirs[0], clock=clock), Node.open(pair_dirs[1], clock=clock)
    chl.records.add_watchlist(dataset.watchlists["CHL"])
    for encounter in dataset.encounters["PAN"]:
        enrol(pan, encounter)
    transport = InMemoryPeerTransport(handlers(chl, "PAN"))
    worker(pan, chl, transport=transport).run_once()
    reference = next(a.hit_reference for a in pan.alerts.partner_hits("CHL") if a.hit_reference)
    yield Step2(chl, pan, clock, transport, reference)
    chl.database.close()
    pan.database.close()


def test_an_approved_request_discloses_its_fields_once(step2: Step2) -> None:
    sent = step2.ask()
    approve(step2.chl.link("PAN"), sent.request_id, "CHL-OFFICER-3")

    assert poll_pending(step2.pan.link("CHL"), step2.transport, due_only=False) == 1
    first = SentRequests(step2.pan.database, step2.pan.records.data_keys).get(sent.request_id)
    assert first is not None and first.status is RequestStatus.APPROVED
    assert set(first.disclosed) == {"given_name", "family_name", "birth_date"}
    held = ReceivedRequests(step2.chl.database).get("PAN", sent.request_id)
    assert held is not None and held.delivered_at is not None
    assert step2.replies()[-1].detail["fields"] == ["birth_date", "family_name", "given_name"]


def test_repeats_of_a_delivered_request_get_the_decision_without_fields(step2: Step2) -> None:
    sent = step2.ask()
    approve(step2.chl.link("PAN"), sent.request_id, "CHL-OFFICER-3")
    poll_pending(step2.pan.link("CHL"), step2.transport, due_only=False)
    held = ReceivedRequests(step2.chl.database).get("PAN", sent.request_id)
    assert held is not None and held.delivered_at is not None
    disclosed = SentRequests(step2.pan.database, step2.pan.records.data_keys).get(sent.request_id)
    assert disclosed is not None and disclosed.disclosed

    for _ in range(2):
        step2.clock.advance(60)
        again = step2.ask_again(sent.request_id)
        assert again.status is RequestStatus.APPROVED
        assert again.reason is not None
        assert again.reason.startswith(f"fields delivered at {held.delivered_at:%Y-%m-%d %H:%M:%S}")
        assert again.disclosed == disclosed.disclosed, "the requester keeps what it got once"
        reply = step2.replies()[-1]
        assert reply.detail["fields"] == [] and reply.detail["withheld"] == again.reason
    still = ReceivedRequests(step2.chl.database).get("PAN", sent.request_id)
    assert still is not None and still.delivered_at == held.delivered_at


def test_nothing_is_disclosed_after_the_hit_reference_expired(step2: Step2) -> None:
    sent = step2.ask()
    ttl = step2.chl.link("PAN").terms.step1.hit_reference_ttl_hours
    step2.clock.advance((ttl + 1) * 3600)
    approve(step2.chl.link("PAN"), sent.request_id, "CHL-OFFICER-3")

    answered = step2.ask_again(sent.request_id)

    assert answered.status is RequestStatus.APPROVED and not answered.disclosed
    assert answered.reason is not None and answered.reason.startswith("hit reference expired at")
    held = ReceivedRequests(step2.chl.database).get("PAN", sent.request_id)
    assert held is not None and held.delivered_at is None
    reply = step2.replies()[-1]
    assert reply.detail["fields"] == [] and "expired" in reply.detail["withheld"]
