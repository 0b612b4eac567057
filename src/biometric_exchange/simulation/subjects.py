"""Whom a part of a message that crossed was about, from its references.

A probe ref leads to the sender's encounter (the runner's log of the refs
each enrolment made); a hit reference to the probe it answered (the step-1
reply that carried both) or, for a step-2 request the driver made, to the
encounter it followed up, and to the holder's watchlist entry (the holder's
hit references); a step-2 request id to the hit reference its request named.
A probe concerns someone not listed when the traveller is on no watchlist of
the holder; a hit, a sighting or a step-2 reply when the traveller is not the
listed person (a false match).
"""

from __future__ import annotations

from dataclasses import dataclass

from biometric_exchange.node.ledger import REPLY, REQUEST, Reference
from biometric_exchange.node.rpc import BLIND_REVEAL, IDENTIFY, REQUEST_DETAILS
from biometric_exchange.simulation.record import RunRecord
from biometric_exchange.simulation.truth import GroundTruth

Subject = tuple[str, str, str, str]
"""(caller, holder, "probe" or "hit", reference)."""


@dataclass(frozen=True)
class Verdict:
    subject: Subject
    not_listed: bool
    """Not on the holder's watchlist (a probe), not the listed person (a hit)."""


class Subjects:
    """The joins of one run's references with its ground truth."""

    def __init__(self, record: RunRecord, truth: GroundTruth) -> None:
        self._record, self._truth = record, truth
        self._hit_probe: dict[tuple[str, str, str], str] = {}
        self._request_hit: dict[tuple[str, str, str], str] = {}
        for (rpc, direction, caller, holder, refs), _ in record.wire.about.items():
            named = dict(refs)
            step1_reply = rpc in (IDENTIFY.name, BLIND_REVEAL.name) and direction == REPLY
            if step1_reply and "hit_reference" in named:
                self._hit_probe[(caller, holder, named["hit_reference"])] = named["probe_ref"]
            if (rpc, direction) == (REQUEST_DETAILS.name, REQUEST) and "hit_reference" in named:
                self._request_hit[(caller, holder, named["request_id"])] = named["hit_reference"]
        self._hit_encounter = {
            (f.requester, f.holder, f.hit_reference): f.encounter_id for f in record.log.follow_ups
        }
        for f in record.log.follow_ups:
            if f.request_id:
                self._request_hit.setdefault((f.requester, f.holder, f.request_id), f.hit_reference)

    def hit_answered_probe(self, caller: str, holder: str, hit_reference: str) -> bool:
        """Whether ``hit_reference`` came back to ``caller`` in a step-1 reply of ``holder``."""
        return (caller, holder, hit_reference) in self._hit_probe

    def of(self, caller: str, holder: str, refs: tuple[Reference, ...]) -> Verdict | None:
        """Whom a message part under ``refs`` was about; None when not about a person or
        not joined."""
        named = dict(refs)
        hit = named.get("hit_reference")
        if hit is None and "request_id" in named:
            hit = self._request_hit.get((caller, holder, named["request_id"]))
        if hit is not None:
            return self._hit(caller, holder, hit)
        if "probe_ref" in named:
            face = self._face(caller, named["probe_ref"])
            if face is None:
                return None
            listed = bool(self._truth.listed(face, holder))
            return Verdict((caller, holder, "probe", named["probe_ref"]), not listed)
        return None

    def _hit(self, caller: str, holder: str, hit: str) -> Verdict | None:
        entry_id = self._record.nodes[holder].issued_references.get(hit)
        probe = self._hit_probe.get((caller, holder, hit))
        face = None if probe is None else self._face(caller, probe)
        if face is None:
            encounter = self._truth.encounters.get(
                self._hit_encounter.get((caller, holder, hit), "")
            )
            face = None if encounter is None else encounter.face
        entry = self._truth.entries.get(entry_id or "")
        if face is None or entry is None:
            return None
        return Verdict((caller, holder, "hit", hit), entry.face != face)

    def _face(self, caller: str, probe_ref: str) -> int | None:
        encounter_id = self._record.log.probe_refs.get((caller, probe_ref))
        facts = self._truth.encounters.get(encounter_id or "")
        return None if facts is None else facts.face
