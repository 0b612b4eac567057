"""Step 2 in a run: officers follow up a share of partner hits with a details request.

Which hits are followed up depends only on the seed and the encounter (not on
generated references), so both modes ask about the same hits. The holder's
officer decides each pending request as the scenario says, and the requester
asks again at once to learn the decision.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from biometric_exchange.domain import RequestStatus
from biometric_exchange.exceptions import ExchangeError
from biometric_exchange.node.send.details import poll_pending, request_details
from biometric_exchange.node.serve.details import approve, deny
from biometric_exchange.simulation.scenario import Step2Section
from biometric_exchange.simulation.topology import Route, Topology
from biometric_exchange.store.details import SentRequests

JUSTIFICATION = "Synthetic simulation: identity check after a step-1 hit"
DENIAL = "Synthetic simulation: not justified"
REFUSED_LOCALLY = "refused_locally"


@dataclass(frozen=True)
class FollowUp:
    """One step-2 request (or a local refusal) about one partner hit."""

    day: int
    requester: str
    holder: str
    encounter_id: str
    hit_reference: str
    request_id: str | None
    status: str
    """approved, denied, refused (by the holder), refused_locally, pending or failed."""
    purpose: str
    fields: tuple[str, ...]
    disclosed: tuple[str, ...]
    """Names of the fields received (never their values)."""


def chosen(seed: int, encounter_id: str, share: float) -> bool:
    """A deterministic draw of probability ``share`` per (seed, encounter)."""
    digest = hashlib.sha256(f"{seed}:{encounter_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def follow_up(
    topology: Topology, spec: Step2Section, *, seed: int, day: int, seen: set[str]
) -> list[FollowUp]:
    """Follow up the partner hits raised since the last call (``seen``: alert ids done)."""
    done: list[FollowUp] = []
    if spec.share <= 0:
        return done
    for route in topology.routes:
        for alert in route.node.alerts.partner_hits(route.partner):
            if alert.alert_id in seen or alert.hit_reference is None:
                continue
            seen.add(alert.alert_id)
            encounter_id = alert.encounter_id or ""
            if chosen(seed, encounter_id, spec.share):
                done.append(
                    _ask(
                        topology,
                        route,
                        spec,
                        day=day,
                        encounter_id=encounter_id,
                        reference=alert.hit_reference,
                    )
                )
    return done


def _ask(
    topology: Topology,
    link: Route,
    spec: Step2Section,
    *,
    day: int,
    encounter_id: str,
    reference: str,
) -> FollowUp:
    fields = tuple(field.value for field in spec.fields)
    officer = f"{link.country}-SIM-OFFICER"

    def outcome(request_id: str | None, status: str, disclosed: tuple[str, ...] = ()) -> FollowUp:
        return FollowUp(
            day,
            link.country,
            link.partner,
            encounter_id,
            reference,
            request_id,
            status,
            spec.purpose.value,
            fields,
            disclosed,
        )

    try:
        sent = request_details(
            link.link,
            link.transport,
            hit_reference=reference,
            purpose=spec.purpose.value,
            justification=JUSTIFICATION,
            officer_id=officer,
            fields=fields,
        )
    except ExchangeError:
        return outcome(None, REFUSED_LOCALLY)
    if sent.status is RequestStatus.PENDING:
        holder = topology.nodes[link.partner].link(link.country)
        deciding = f"{link.partner}-SIM-OFFICER"
        if spec.decision == "approve":
            approve(holder, sent.request_id, deciding, "synthetic simulation")
        else:
            deny(holder, sent.request_id, deciding, DENIAL)
        poll_pending(link.link, link.transport, due_only=False)
        sent = (
            SentRequests(link.node.database, link.node.records.data_keys).get(sent.request_id)
            or sent
        )
    return outcome(sent.request_id, sent.status.value, tuple(sorted(sent.disclosed)))
