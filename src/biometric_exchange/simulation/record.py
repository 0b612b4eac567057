"""What a run leaves behind, read from the nodes once the days are over.

Everything the metrics need, as plain data: each node's alerts, audit log,
step-2 requests both ways, the entries behind the hit references it issued,
and what the runner observed while running (when each encounter was enrolled,
its probe references, the simulated day each piece of alert evidence
appeared, the step-2 follow-ups, the timings).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from biometric_exchange.domain import Alert
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.transport import Tally
from biometric_exchange.simulation.draws import Calendar
from biometric_exchange.simulation.followups import FollowUp
from biometric_exchange.simulation.topology import Topology
from biometric_exchange.simulation.wire import Wire
from biometric_exchange.store.audit import AuditEntry
from biometric_exchange.store.details import (
    ReceivedRequest,
    ReceivedRequests,
    SentRequest,
    SentRequests,
)
from biometric_exchange.store.outbox import OutboxState


@dataclass
class RunLog:
    """Observations made while the days ran."""

    enrolled_at: dict[str, dt.datetime] = field(default_factory=dict)
    """Encounter id → wall-clock time its enrolment committed."""
    probe_refs: dict[tuple[str, str], str] = field(default_factory=dict)
    """(sending country, probe ref) → encounter id."""
    evidence_day: dict[tuple[str, str, str], int] = field(default_factory=dict)
    """(country, alert id, evidence key) → the simulated day it was first seen."""
    follow_ups: list[FollowUp] = field(default_factory=list)
    seen_hits: set[str] = field(default_factory=set)
    seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    """Wall-clock seconds per phase."""
    day_seconds: list[float] = field(default_factory=list)
    sent_per_day: dict[str, list[int]] = field(default_factory=dict)
    """Probes each node sent (outbox items done) on each simulated day."""
    sent_per_link_day: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    """The same per (node, partner) link."""


@dataclass(frozen=True)
class NodeRecord:
    country: str
    alerts: list[Alert]
    audit: list[AuditEntry]
    sent_requests: list[SentRequest]
    received_requests: list[ReceivedRequest]
    issued_references: dict[str, str]
    """Hit reference this node issued (named by an alert or seen crossing) → its
    watchlist entry."""
    outbox: dict[tuple[str, str], str]
    """(encounter id, partner) → the outbox item's final state."""
    not_sent: dict[tuple[str, str], str]
    """(encounter id, partner) → why the agreement kept it from that partner."""


@dataclass(frozen=True)
class RunRecord:
    mode: str
    calendar: Calendar
    nodes: dict[str, NodeRecord]
    log: RunLog
    tally: Tally
    workers_metered: bool
    wire: Wire
    """What crossed, opened as each recipient would (``workers_metered``: all of it)."""


def snapshot_evidence(topology: Topology, day: int, log: RunLog) -> None:
    """Note the simulated day on which each piece of alert evidence first appeared."""
    for country, node in topology.nodes.items():
        for alert in node.alerts.list():
            for item in alert.evidence:
                log.evidence_day.setdefault((country, alert.alert_id, str(item.get("key"))), day)


def outbox_states(node: Node) -> dict[tuple[str, str], str]:
    """Read-only look at the outbox: where each encounter's exchange ended."""
    rows = node.database.connection.execute(
        "SELECT encounter_id, partner, state FROM outbox"
    ).fetchall()
    return {(str(r[0]), str(r[1])): str(r[2]) for r in rows}


def not_sent_reasons(node: Node) -> dict[tuple[str, str], str]:
    """Read-only look at the outbox: why each item kept from a partner was not sent."""
    rows = node.database.connection.execute(
        "SELECT encounter_id, partner, last_error FROM outbox WHERE state = ?",
        (OutboxState.OUT_OF_SCOPE.value,),
    ).fetchall()
    return {(str(r[0]), str(r[1])): str(r[2] or "") for r in rows}


def note_sent(topology: Topology, log: RunLog) -> None:
    """Record how many probes each node, and each link, has sent so far (one figure per
    day)."""
    for country, node in topology.nodes.items():
        done = node.database.connection.execute(
            "SELECT count(*) FROM outbox WHERE state = 'done'"
        ).fetchone()[0]
        days = log.sent_per_day.setdefault(country, [])
        days.append(int(done) - sum(days))
        by_partner = dict(
            node.database.connection.execute(
                "SELECT partner, count(*) FROM outbox WHERE state = 'done' GROUP BY partner"
            ).fetchall()
        )
        for partner in node.partner_codes:
            link_days = log.sent_per_link_day.setdefault((country, partner), [])
            link_days.append(int(by_partner.get(partner, 0)) - sum(link_days))


def collect(topology: Topology, calendar: Calendar, log: RunLog) -> RunRecord:
    """Read every node's records once the run is over."""
    nodes: dict[str, NodeRecord] = {}
    references = topology.wire.hit_references()
    alerts = {country: node.alerts.list() for country, node in topology.nodes.items()}
    for country_alerts in alerts.values():
        references.update(a.hit_reference for a in country_alerts if a.hit_reference)
    for country, node in topology.nodes.items():
        issued = {}
        for reference in sorted(references):
            found = node.hit_references.get(reference)
            if found is not None:
                issued[reference] = found.entry_id
        nodes[country] = NodeRecord(
            country=country,
            alerts=alerts[country],
            audit=node.audit.entries(),
            sent_requests=SentRequests(node.database, node.records.data_keys).list(),
            received_requests=ReceivedRequests(node.database).queue(),
            issued_references=issued,
            outbox=outbox_states(node),
            not_sent=not_sent_reasons(node),
        )
    return RunRecord(
        topology.mode, calendar, nodes, log, topology.tally, topology.workers_metered, topology.wire
    )
