"""Identity conflicts among our own encounters, with work linear in what is new.

Each checked encounter joins a face group: the group of its nearest match that
has one, else a new group anchored on its earliest match (or on itself, with
no match). When its identity differs from the anchor's, the group's one open
``IDENTITY_CONFLICT`` alert gets one evidence item per distinct identity,
keyed by the identity's digest; a repeat of a known identity counts one more
occurrence on that item. Per encounter: one bounded search (``CANDIDATES``
nearest), a fixed number of indexed reads and writes, at most one evidence
row, however large the group. Two groups one encounter matches are not
merged: it joins the nearer.

The search's threshold follows the gallery's size when ``[alerts]
conflict_thresholds`` gives a calibrated table: a 1:N search over tens of
thousands of past encounters meets the impostor tail that a fixed 0.6 lets
through (``threshold_for_size``).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping

from biometric_exchange.alerts.linking import (
    identity_conflict,
    identity_differences,
    identity_digest,
)
from biometric_exchange.domain import Encounter
from biometric_exchange.node.index.encounters import EncounterIndex, EncounterMatch
from biometric_exchange.node.runtime import Node
from biometric_exchange.store.alerts import Raised
from biometric_exchange.store.face_groups import FaceGroups, Membership

CANDIDATES = 5
"""Nearest matches looked at per encounter."""


def threshold_for_size(table: Mapping[int, float], size: int, default: float) -> float:
    """The threshold for a search of ``size`` entries: ``default`` without a table;
    else the table's, interpolated linearly in log size, its end values beyond it."""
    if not table:
        return default
    sizes = sorted(table)
    if size <= sizes[0]:
        return table[sizes[0]]
    if size >= sizes[-1]:
        return table[sizes[-1]]
    upper = bisect.bisect_left(sizes, size)
    low, high = sizes[upper - 1], sizes[upper]
    weight = (math.log(size) - math.log(low)) / (math.log(high) - math.log(low))
    return table[low] + weight * (table[high] - table[low])


def _earliest(matches: list[EncounterMatch]) -> Encounter:
    return min((m.encounter for m in matches), key=lambda e: (e.encountered_at, e.encounter_id))


def link_identity(node: Node, encounters: EncounterIndex, encounter: Encounter) -> Raised | None:
    """Place ``encounter`` in its face group and raise (or join) the group's conflict
    alert if its identity differs from the anchor's. A second call for the same
    encounter changes nothing."""
    groups = FaceGroups(node.database)
    if groups.memberships([encounter.encounter_id]):
        return None
    key = node.records.lookup_key()
    identity = identity_digest(key, encounter.person)
    threshold = threshold_for_size(
        node.config.alerts.conflict_thresholds, len(encounters), node.config.matching.threshold
    )
    matches = [
        m
        for m in encounters.search(encounter.template, threshold=threshold, k=CANDIDATES)
        if m.encounter.encounter_id != encounter.encounter_id
    ]
    if not matches:
        groups.join(encounter.encounter_id, Membership(encounter.encounter_id, identity))
        return None
    seen = {m.encounter.encounter_id: m.encounter for m in matches}
    known = groups.memberships(list(seen))
    grouped = next((m for m in matches if m.encounter.encounter_id in known), None)
    with node.database.transaction():
        if grouped is not None:
            group = known[grouped.encounter.encounter_id].group_id
        else:
            founder = _earliest(matches)
            group = founder.encounter_id
            known[group] = Membership(group, identity_digest(key, founder.person))
            groups.join(group, known[group])
        groups.join(encounter.encounter_id, Membership(group, identity))
        first = known.get(group) or groups.memberships([group]).get(group)
        if first is not None and first.identity == identity:
            return None  # the identity the group was first seen under
        anchor = seen.get(group) or node.records.encounter(group) or matches[0].encounter
        differences = identity_differences(encounter.person, anchor.person)
        if not differences:
            return None
        alert = identity_conflict(
            encounter,
            anchor,
            context=node.local_rule_context(),
            distance=matches[0].distance,
            differences=differences,
            identity=identity,
        )
        return node.alerts.raise_alert(alert, occurrence=encounter.encounter_id)
