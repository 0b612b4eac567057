"""Opening the scope commitments of a request we sent, for an auditor.

The holder's log keeps, for each Identify it received, the digest of the
request's commitments; ours keeps the same digest and the probe references.
Opening a request recomputes each probe's commitment from the facts and salt
we kept, checks the digest against our log entry (and so against the
holder's, which reconciliation compares), and checks each probe's facts
against the rule it was sent under.
"""

from __future__ import annotations

from dataclasses import dataclass

from biometric_exchange.agreement.commitment import (
    ScopeOpening,
    commitments_digest,
    rule_violation,
)
from biometric_exchange.agreement.terms import Purpose
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.node.runtime import Node
from biometric_exchange.store.audit import AuditEvent, AuditOutcome


@dataclass(frozen=True)
class OpenedProbe:
    probe_ref: str
    opening: ScopeOpening | None
    """None when the opening is gone (purged with the partner's data)."""
    commitment_holds: bool
    violation: str | None


@dataclass(frozen=True)
class OpenedRequest:
    message_id: str
    partner: str
    purpose: str
    digest_holds: bool
    """The recomputed commitments hash to the digest both logs recorded."""
    probes: tuple[OpenedProbe, ...]

    @property
    def compliant(self) -> bool:
        return self.digest_holds and all(
            p.commitment_holds and p.violation is None for p in self.probes
        )


def open_request(node: Node, message_id: str) -> OpenedRequest:
    """Open every commitment of the Identify request ``message_id`` we sent."""
    sent = next(
        (
            e
            for e in node.audit.entries()
            if e.event == AuditEvent.IDENTIFY_SENT.value
            and e.outcome == AuditOutcome.ACCEPTED.value
            and e.message_id == message_id
        ),
        None,
    )
    if sent is None or "probe_refs" not in sent.detail or sent.peer is None:
        raise InvalidInput(f"message id {message_id!r}: no Identify request of ours with probes")
    policy = node.link(sent.peer).policy
    purpose = Purpose(str(sent.detail["purpose"]))
    probes = []
    commitments = []
    for probe_ref in (str(r) for r in sent.detail["probe_refs"]):
        stored = node.scope_openings.get(probe_ref)
        if stored is None:
            probes.append(OpenedProbe(probe_ref, None, False, "opening purged"))
            continue
        opening = ScopeOpening.from_json(stored.facts, stored.salt)
        commitments.append(opening.commitment)
        probes.append(
            OpenedProbe(
                probe_ref,
                opening,
                opening.commitment == stored.commitment,
                rule_violation(policy, opening, purpose),
            )
        )
    digest_holds = commitments_digest(commitments) == sent.detail.get("commitments")
    return OpenedRequest(message_id, sent.peer, purpose.value, digest_holds, tuple(probes))
