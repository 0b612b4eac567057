"""Bounded work per encounter for IDENTITY_CONFLICT: one synthetic traveller met 1,000
times under 100 identities (one face, every capture within the threshold of every
other), enrolled at Panama and worked by its exchange worker, in-process, with Chile
answering step 1 through its real handlers. Counted, never timed: raise calls (a
counting subclass of the real store), evidence writes (SQLite's own statement trace)
and rows in the database.

Chile's extraction guard caps hits per entry and day (4 by default); the face is on no
watchlist, so no probe hits and the cap never applies here; what is measured is
Panama's own conflict linking.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from biometric_exchange.alerts.evidence_columns import PERSONAL_KEYS
from biometric_exchange.alerts.linking import identity_differences
from biometric_exchange.domain import Alert, AlertKind, Encounter, Evidence
from biometric_exchange.node.enrolment import enrol_many
from biometric_exchange.node.runtime import Node
from biometric_exchange.store.alerts import AlertFilter, AlertStore, Raised
from biometric_exchange.store.outbox import OutboxState
from biometric_exchange.synthetic import DemoDataset
from biometric_exchange.synthetic.aliases import one_face_many_identities
from tests.wiring import drain, worker

pytestmark = pytest.mark.integration

ENCOUNTERS = 1000
IDENTITIES = 100
SEED = 129


class CountingAlerts(AlertStore):
    """The real alert store, counting its ``raise_alert`` calls."""

    def __init__(self, node: Node) -> None:
        super().__init__(node.database, max_evidence=node.alerts.max_evidence)
        self.raise_calls = 0

    def raise_alert(self, alert: Alert, *, occurrence: str | None = None) -> Raised:
        self.raise_calls += 1
        return super().raise_alert(alert, occurrence=occurrence)


class Writes:
    """Statements one connection runs: all of them, and those writing alert evidence
    or face groups."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.evidence = 0
        self.groups = 0
        self.statements = 0
        connection.set_trace_callback(self._seen)

    def counts(self) -> tuple[int, int, int]:
        return self.evidence, self.groups, self.statements

    def _seen(self, statement: str) -> None:
        self.statements += 1
        if statement.startswith(("INSERT", "UPDATE")):
            self.evidence += "alert_evidence" in statement
            self.groups += "face_groups" in statement


def traveller(node: Node, encounters: int, identities: int) -> list[Encounter]:
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=2)
    return one_face_many_identities(
        node.country,
        encounters=encounters,
        identities=identities,
        seed=SEED,
        start=start,
        threshold=node.config.matching.threshold,
    )


def work(sender: Node, holder: Node, encounters: list[Encounter]) -> None:
    """Enrol ``encounters`` and run the exchange worker until nothing is due."""
    enrol_many(sender, encounters)
    drain(worker(sender, holder), sender)
    states = sender.database.connection.execute("SELECT DISTINCT state FROM outbox").fetchall()
    assert {row[0] for row in states} == {OutboxState.DONE.value}


def paged(alerts: AlertStore, alert_id: str, *, size: int = 7) -> list[Evidence]:
    items: list[Evidence] = []
    while page := alerts.evidence(alert_id, offset=len(items), limit=size):
        items.extend(page)
    return items


def personal_values(encounters: list[Encounter]) -> set[str]:
    return {
        value
        for e in encounters
        for value in (
            e.person.given_name,
            e.person.family_name,
            e.person.document_number,
            e.person.birth_date.isoformat(),
        )
    }


def the_conflict(node: Node) -> Alert:
    (alert,) = node.alerts.list(AlertFilter(kind=AlertKind.IDENTITY_CONFLICT, open_only=True))
    return alert


def test_one_face_under_many_identities_costs_linear_work(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    pan, chl = nodes["PAN"], nodes["CHL"]
    counting = CountingAlerts(pan)
    pan.alerts = counting
    writes = Writes(pan.database.connection)
    encounters = traveller(pan, ENCOUNTERS, IDENTITIES)
    half = ENCOUNTERS // 2

    work(pan, chl, encounters[:half])
    first = (counting.raise_calls, *writes.counts())
    work(pan, chl, encounters[half:])
    totals = (counting.raise_calls, *writes.counts())
    second = tuple(now - then for now, then in zip(totals, first, strict=True))

    conflict = the_conflict(pan)
    anchor = encounters[0]
    assert conflict.subject_key == f"conflict:{anchor.encounter_id}"
    conflicting = [e for e in encounters if identity_differences(e.person, anchor.person)]
    assert len(conflicting) == ENCOUNTERS - ENCOUNTERS // IDENTITIES

    # work: one raise per alias encounter (no watchlist hit), at most two evidence
    # writes and one group write per encounter, in either half; and the second half,
    # linking into a group already 500 strong, runs no more statements than the first
    assert counting.raise_calls == len(conflicting)
    for raises, evidence_writes, group_writes, _ in (first, second):
        assert raises <= half and evidence_writes <= 2 * half and group_writes == half
    assert second[3] <= first[3] * 1.05, (first, second)

    # rows: one per identity that is not the anchor's, every alias occurrence counted
    items = paged(pan.alerts, conflict.alert_id)
    assert len(items) == pan.alerts.evidence_count(conflict.alert_id) == IDENTITIES - 1
    assert [i["key"] for i in items] == [i["key"] for i in conflict.evidence]
    assert sum(i.get("occurrences", 1) for i in items) == len(conflicting)
    assert conflict.evidence_overflow is None
    rows = pan.database.connection.execute(
        "SELECT count(*), max(length(item)) FROM alert_evidence WHERE alert_id = ?",
        (conflict.alert_id,),
    ).fetchone()
    assert rows[0] == IDENTITIES - 1 and rows[1] < 1000, "small rows, none rewritten"

    # nothing personal in any alert's evidence or summary
    text = json.dumps(items) + "".join(
        json.dumps(list(a.evidence)) + a.summary for a in pan.alerts.list()
    )
    assert not {v for v in personal_values(encounters) if v in text}
    assert not {key for item in items for key in item} & PERSONAL_KEYS
    assert chl.alerts.list(kind=AlertKind.EXTRACTION_SUSPECTED) == []


def test_the_cap_keeps_an_alert_bounded_and_counts_the_rest(
    pair_dirs: tuple[Path, Path],
) -> None:
    chl_dir, pan_dir = pair_dirs
    cap, encounters_count, identities = 10, 200, 40
    with (pan_dir / "node.toml").open("a", encoding="utf-8") as config:
        config.write(f"\n[alerts]\nmax_evidence_per_alert = {cap}\n")
    pan, chl = Node.open(pan_dir), Node.open(chl_dir)
    try:
        encounters = traveller(pan, encounters_count, identities)
        work(pan, chl, encounters)
        conflict = the_conflict(pan)
    finally:
        pan.close()
        chl.close()

    anchor = encounters[0]
    kept = conflict.evidence
    assert len(kept) == cap
    by_id = {e.encounter_id: e for e in encounters}
    kept_people = {by_id[item["encounters"][1]].person for item in kept}
    overflowed = [
        e
        for e in encounters
        if e.person not in kept_people and identity_differences(e.person, anchor.person)
    ]
    overflow = conflict.evidence_overflow
    assert overflow is not None
    assert overflow.items == len(overflowed) > 0
    assert overflow.by_rule == {AlertKind.IDENTITY_CONFLICT.value: len(overflowed)}
    expected: Counter[str] = Counter(
        name for e in overflowed for name in identity_differences(e.person, anchor.person)
    )
    assert overflow.by_field == dict(expected)
    conflicting = encounters_count - encounters_count // identities
    assert sum(i.get("occurrences", 1) for i in kept) + overflow.items == conflicting, (
        "every alias encounter is counted once: on its kept item or in the summary"
    )


def test_one_face_on_the_partners_watchlist_hit_by_every_probe_stays_linear(
    pair_dirs: tuple[Path, Path], dataset: DemoDataset
) -> None:
    """The same traveller, now on Chile's watchlist: every one of the 1,000 probes
    hits the one entry (Chile's per-entry hit cap raised for the test, its other
    guards as shipped). Each hit gets its own fresh reference; Panama's alerts grow
    one per encounter, Chile's one alert for its subject keeps its cap of evidence
    and counts the rest."""
    chl_dir, pan_dir = pair_dirs
    with (chl_dir / "node.toml").open("a", encoding="utf-8") as config:
        config.write("\n[extraction]\nmax_hits_per_entry_per_day = 10000\n")
    pan, chl = Node.open(pan_dir), Node.open(chl_dir)
    try:
        encounters = traveller(pan, ENCOUNTERS, IDENTITIES)
        entry = dataclasses.replace(
            dataset.watchlists["CHL"][0], entry_id="CHL-WL-ALIASES", template=encounters[0].template
        )
        chl.records.add_watchlist([entry])
        counting = CountingAlerts(pan)
        pan.alerts = counting

        work(pan, chl, encounters)

        hits = pan.alerts.partner_hits("CHL")
        assert len(hits) == ENCOUNTERS and {a.encounter_id for a in hits} == {
            e.encounter_id for e in encounters
        }
        assert len(pan.alerts.received_references("CHL")) == ENCOUNTERS, "fresh references"
        # one raise per hit plus one per alias encounter's conflict: linear
        assert counting.raise_calls == ENCOUNTERS + ENCOUNTERS - ENCOUNTERS // IDENTITIES
        the_conflict(pan)  # still one conflict alert for the group

        (seen,) = [
            a
            for a in chl.alerts.list(AlertFilter(open_only=True))
            if a.watchlist_entry_id == entry.entry_id
        ]
        kept = chl.alerts.evidence_count(seen.alert_id)
        overflow = seen.evidence_overflow
        assert kept == chl.alerts.max_evidence
        assert overflow is not None
        # each probe brings two items: the hit, then Panama's sighting report
        assert kept + overflow.items == 2 * ENCOUNTERS
        assert sum(overflow.by_rule.values()) == overflow.items
        assert chl.alerts.list(kind=AlertKind.EXTRACTION_SUSPECTED) == []
    finally:
        pan.close()
        chl.close()
