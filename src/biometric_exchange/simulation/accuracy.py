"""Person-level alerts against the truth: precision, recall and why a case was missed.

Units, per alert kind:

* ``WATCHLIST_HIT`` (and ``PROTECTION`` on the enrolling side): an (encounter,
  watchlist entry) pair; right when the encounter is the listed person. The
  truth: every encounter of a person with an entry in force, on either
  country's watchlist.
* ``SUBJECT_ENCOUNTERED_BY_PARTNER`` (and ``PROTECTION`` on the holder's
  side): the same pairs for entries of the partner, seen from the holder.
* ``IDENTITY_CONFLICT``: a pair of encounters; right when both are one face.
  The truth: each fraud traveller whose two identities were both met by one
  node (a fraud across the border cannot show: step 1 carries no biographic
  data).
* ``MOVEMENT``: a pair of encounters at two nodes; right when one face.
  The truth: each person met by two nodes within the movement window.

Recall is given against every case and against the cases the agreement lets
the exchange see (``eligible``); each miss gets a reason. Precision and both
recalls carry 95 % Wilson score intervals (``scipy.stats.binomtest``), and
false positives are split by cause: two faces the world made alike
(``relative``, ``twin``, ``look-alike``, see ``resemblance``) or ``unrelated``. ``Scorer.by_link``
gives the same per link (sender, holder), each under its own agreement: a
minor met by Panama is eligible for Chile but not for Mexico.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from scipy import stats

from biometric_exchange.domain import AlertKind
from biometric_exchange.simulation.detections import Detection
from biometric_exchange.simulation.truth import EncounterFacts, EntryFacts, GroundTruth

HIT = AlertKind.WATCHLIST_HIT.value
HOLDER = AlertKind.SUBJECT_ENCOUNTERED_BY_PARTNER.value
PROTECTION = AlertKind.PROTECTION.value
CONFLICT = AlertKind.IDENTITY_CONFLICT.value
MOVEMENT = AlertKind.MOVEMENT.value
PERSON_KINDS = (HIT, HOLDER, PROTECTION, CONFLICT, MOVEMENT)
CAUGHT = "caught"
BIOMETRIC_MISS = "biometric miss (distance at or above the threshold)"
NOT_CHECKED = "not checked (nationality in the Americas)"
ACROSS_BORDER = "identities met at different nodes (step 1 carries no identity)"
UNRELATED = "unrelated"


@dataclass
class KindScore:
    """Predicted units (right or wrong) and truth units (caught or why not) of one kind."""

    alerts: set[str] = field(default_factory=set)
    right: int = 0
    wrong: int = 0
    truth: Counter[str] = field(default_factory=Counter)
    eligible: int = 0
    eligible_caught: int = 0
    severities: Counter[str] = field(default_factory=Counter)
    wrong_by_cause: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        predicted = self.right + self.wrong
        cases = sum(self.truth.values())
        return {
            "alerts": len(self.alerts),
            "evidence": predicted,
            "true_positives": self.right,
            "false_positives": self.wrong,
            "false_positives_by_cause": dict(sorted(self.wrong_by_cause.items())),
            "precision": ratio(self.right, predicted),
            "precision_ci95": wilson(self.right, predicted),
            "cases": cases,
            "caught": self.truth[CAUGHT],
            "recall": ratio(self.truth[CAUGHT], cases),
            "recall_ci95": wilson(self.truth[CAUGHT], cases),
            "eligible_cases": self.eligible,
            "recall_eligible": ratio(self.eligible_caught, self.eligible),
            "recall_eligible_ci95": wilson(self.eligible_caught, self.eligible),
            "missed_by_reason": {k: v for k, v in sorted(self.truth.items()) if k != CAUGHT},
            "alerts_by_severity": dict(sorted(self.severities.items())),
        }


def ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 6) if denominator else None


def wilson(successes: int, trials: int) -> list[float] | None:
    """The 95 % Wilson score interval of ``successes / trials`` (None without trials)."""
    if not trials:
        return None
    interval = stats.binomtest(successes, trials).proportion_ci(0.95, method="wilson")
    return [round(float(interval.low), 6), round(float(interval.high), 6)]


def _score(score: KindScore, *, caught: bool, refusal: str | None, miss: str | None) -> None:
    """One truth case: caught or not; ``refusal``: why the agreement keeps it from the
    exchange (None: eligible); ``miss``: why an eligible case was not caught."""
    score.truth[CAUGHT if caught else (refusal or miss or "other")] += 1
    if refusal is None:
        score.eligible += 1
        score.eligible_caught += int(caught)


Link = tuple[str, str]
"""(sender, holder): the node that met the traveller and the partner it asked."""
LINK_SIDES = (REQUESTER, HOLDER_SIDE, MOVEMENT_SIDE) = ("requester", "holder", "movement")
"""Per link: the sender's hits on the holder's watchlist, the holder's side of them,
and the holder's movements (the sender's probe matching one of the holder's encounters)."""


class Scorer:
    def __init__(self, truth: GroundTruth, found: list[Detection]) -> None:
        self.truth = truth
        self.found = found
        self.scores: dict[str, KindScore] = defaultdict(KindScore)
        self.links: dict[Link, dict[str, KindScore]] = defaultdict(
            lambda: {side: KindScore() for side in LINK_SIDES}
        )
        """Per (sender, holder) link, the cases its agreement governs."""
        self._pairs: set[tuple[str, str, str, str]] = set()
        """(node, side, encounter, entry) of every watchlist detection."""

    def run(self) -> dict[str, dict[str, Any]]:
        self._predicted()
        self._watchlist_truth()
        self._conflict_truth()
        self._movement_truth()
        return {kind: self.scores[kind].as_dict() for kind in PERSON_KINDS}

    def by_link(self) -> dict[str, dict[str, dict[str, Any]]]:
        """After ``run``: each link's cases and evidence, ``"PAN>MEX"`` → side → score."""
        countries = self.truth.world.scenario.nodes.countries
        return {
            link_name(sender, holder): {
                side: score.as_dict() for side, score in self.links[(sender, holder)].items()
            }
            for sender in countries
            for holder in countries
            if sender != holder
        }

    def is_right(self, found: Detection) -> bool:
        enc = self.truth.encounters
        faces = {enc[e].face for e in found.encounters if e in enc}
        if found.kind in (HIT, HOLDER, PROTECTION):
            entry = self.truth.entries.get(found.entry or "")
            return len(faces) == 1 and entry is not None and entry.face in faces
        return len(found.encounters) == 2 and len(faces) == 1

    def cause(self, found: Detection) -> str:
        """Why a wrong detection matched: the resemblance of its two faces, if any."""
        enc = self.truth.encounters
        faces = [enc[e].face for e in found.encounters if e in enc]
        if found.kind in (HIT, HOLDER, PROTECTION):
            entry = self.truth.entries.get(found.entry or "")
            faces = faces[:1] + ([entry.face] if entry is not None else [])
        if len(faces) == 2 and faces[0] != faces[1]:
            return self.truth.world.resemblance.kind_of(faces[0], faces[1]) or UNRELATED
        return UNRELATED

    def _predicted(self) -> None:
        for found in self.found:
            if found.kind not in PERSON_KINDS:
                continue
            score = self.scores[found.kind]
            if found.alert_id not in score.alerts:
                score.alerts.add(found.alert_id)
                score.severities[found.severity] += 1
            right = self.is_right(found)
            if right:
                score.right += 1
            else:
                score.wrong += 1
                score.wrong_by_cause[self.cause(found)] += 1
            link_side = _link_side(found)
            if link_side is not None:
                link, side = link_side
                tally = self.links[link][side]
                if found.alert_id not in tally.alerts:
                    tally.alerts.add(found.alert_id)
                    tally.severities[found.severity] += 1
                tally.right += int(right)
                tally.wrong += int(not right)
            if found.entry and found.encounters:
                self._pairs.add((found.node, found.side, found.encounters[0], found.entry))

    def _watchlist_truth(self) -> None:
        truth, rules = self.truth, self.truth.rules
        for enc in truth.encounters.values():
            for owner in truth.world.scenario.nodes.countries:
                for entry in truth.listed(enc.face, owner):
                    protection = truth.protection_route(enc, entry)
                    if owner == enc.country:
                        reason = None if rules.person_rules_apply(enc) else NOT_CHECKED
                        caught = (enc.country, "local", enc.encounter_id, entry.entry_id)
                        self._one(PROTECTION if protection else HIT, caught, reason, enc, entry)
                        continue
                    agreement = rules.between(enc.country, owner)
                    reason = agreement.refusal(enc) or agreement.withheld(entry)
                    shown = truth.protection_route(
                        enc, entry, category_known=agreement.discloses_category
                    )
                    link = (enc.country, owner)
                    sent = (enc.country, "requester", enc.encounter_id, entry.entry_id)
                    self._one(
                        PROTECTION if shown else HIT,
                        sent,
                        reason,
                        enc,
                        entry,
                        link_side=(link, REQUESTER),
                    )
                    held = (owner, "holder", enc.encounter_id, entry.entry_id)
                    kind = PROTECTION if protection else HOLDER
                    self._one(kind, held, reason, enc, entry, link_side=(link, HOLDER_SIDE))

    def _one(
        self,
        kind: str,
        key: tuple[str, str, str, str],
        refusal: str | None,
        enc: EncounterFacts,
        entry: EntryFacts,
        *,
        link_side: tuple[Link, str] | None = None,
    ) -> None:
        caught = key in self._pairs
        distance = self.truth.distance(enc.encounter_id, entry.entry_id)
        miss = BIOMETRIC_MISS if distance >= self.truth.threshold else None
        _score(self.scores[kind], caught=caught, refusal=refusal, miss=miss)
        if link_side is not None:
            link, side = link_side
            _score(self.links[link][side], caught=caught, refusal=refusal, miss=miss)

    def _miss(self, a: EncounterFacts, b: EncounterFacts) -> str | None:
        distance = self.truth.capture_distance(a.encounter_id, b.encounter_id)
        return BIOMETRIC_MISS if distance >= self.truth.threshold else None

    def _linked_faces(self, kind: str) -> set[tuple[str, str]]:
        return {
            (min(found.encounters), max(found.encounters))
            for found in self.found
            if found.kind == kind and len(found.encounters) == 2
        }

    def _conflict_truth(self) -> None:
        truth, rules = self.truth, self.truth.rules
        linked = self._linked_faces(CONFLICT)
        score = self.scores[CONFLICT]
        for encounters in truth.frauds.values():
            by_node: dict[str, list[EncounterFacts]] = defaultdict(list)
            for enc in encounters:
                by_node[enc.country].append(enc)
            same_node = [
                (a, b)
                for group in by_node.values()
                for a, b in combinations(sorted(group, key=truth.processing_order), 2)
                if a.alias != b.alias
            ]
            if not same_node:
                if {e.alias for e in encounters} == {True, False}:
                    _score(score, caught=False, refusal=ACROSS_BORDER, miss=None)
                continue
            caught = any(_pair(a, b) in linked for a, b in same_node)
            checked = [(a, b) for a, b in same_node if rules.person_rules_apply(b)]
            misses = {self._miss(a, b) for a, b in checked}
            _score(
                score,
                caught=caught,
                refusal=None if checked else NOT_CHECKED,
                miss=BIOMETRIC_MISS if misses == {BIOMETRIC_MISS} else None,
            )

    def _movement_truth(self) -> None:
        truth, rules = self.truth, self.truth.rules
        linked = self._linked_faces(MOVEMENT)
        by_face: dict[int, list[EncounterFacts]] = defaultdict(list)
        for enc in truth.encounters.values():
            by_face[enc.face].append(enc)
        window = dt.timedelta(days=rules.movement_days)
        score = self.scores[MOVEMENT]
        for encounters in by_face.values():
            ordered = sorted(encounters, key=truth.processing_order)
            for a, b in combinations(ordered, 2):
                if a.country == b.country or abs(b.time - a.time) > window:
                    continue
                caught, refusal = _pair(a, b) in linked, rules.refusal(b, a.country)
                miss = self._miss(a, b)
                for tally in (score, self.links[(b.country, a.country)][MOVEMENT_SIDE]):
                    _score(tally, caught=caught, refusal=refusal, miss=miss)


def link_name(sender: str, holder: str) -> str:
    """``"PAN>MEX"``: Panama's encounters checked against Mexico's watchlist."""
    return f"{sender}>{holder}"


def _link_side(found: Detection) -> tuple[Link, str] | None:
    """The link and side a detection counts for, if it came through a link."""
    if found.via is None:
        return None
    if found.side == "requester":
        return (found.node, found.via), REQUESTER
    if found.side == "holder":
        return (found.via, found.node), HOLDER_SIDE
    if found.kind == MOVEMENT:
        return (found.via, found.node), MOVEMENT_SIDE
    return None


def _pair(a: EncounterFacts, b: EncounterFacts) -> tuple[str, str]:
    first, second = sorted((a.encounter_id, b.encounter_id))
    return first, second


def missed_people(truth: GroundTruth, found: list[Detection]) -> tuple[int, int]:
    """(watchlisted people never alerted on, watchlisted people the exchange could see):
    a person counts when one of their encounters could have hit one of their entries in
    force (the agreement allowing it); they are missed when no watchlist alert on either
    side named them with one of their entries."""
    scorer = Scorer(truth, found)
    caught = {
        truth.encounters[d.encounters[0]].face
        for d in found
        if d.kind in (HIT, HOLDER, PROTECTION) and d.encounters and scorer.is_right(d)
    }
    rules, countries = truth.rules, truth.world.scenario.nodes.countries
    visible: set[int] = set()
    for enc in truth.encounters.values():
        for owner in countries:
            if not truth.listed(enc.face, owner):
                continue
            local = owner == enc.country
            if (local and rules.person_rules_apply(enc)) or (
                not local and not rules.refusal(enc, owner)
            ):
                visible.add(enc.face)
    return len(visible - caught), len(visible)
