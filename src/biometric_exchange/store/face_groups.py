"""Which face group each of our checked encounters belongs to (``IDENTITY_CONFLICT``).

A face group is a cluster of our encounters linked by face, named by its first
encounter (the anchor). Each row keeps one encounter's group and the keyed
hash of its identity (``alerts.linking.identity_digest``, under the node's
lookup key): equal identities match inside this database, and no value can
be recomputed from a guess without the key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from biometric_exchange.store.database import Database


@dataclass(frozen=True)
class Membership:
    group_id: str
    identity: str
    """The keyed hash of the encounter's identity."""


class FaceGroups:
    def __init__(self, database: Database) -> None:
        self._database = database

    def memberships(self, encounter_ids: Sequence[str]) -> dict[str, Membership]:
        """The groups of those of ``encounter_ids`` (a few) that have one."""
        if not encounter_ids:
            return {}
        marks = ", ".join("?" * len(encounter_ids))
        rows = self._database.connection.execute(
            "SELECT encounter_id, group_id, identity FROM face_groups "  # noqa: S608
            f"WHERE encounter_id IN ({marks})",
            list(encounter_ids),
        ).fetchall()
        return {row[0]: Membership(row[1], row[2]) for row in rows}

    def join(self, encounter_id: str, membership: Membership) -> bool:
        """Put ``encounter_id`` in a group; False when it is in one already."""
        with self._database.transaction() as connection:
            return bool(
                connection.execute(
                    "INSERT INTO face_groups (encounter_id, group_id, identity) "
                    "VALUES (?, ?, ?) ON CONFLICT (encounter_id) DO NOTHING",
                    (encounter_id, membership.group_id, membership.identity),
                ).rowcount
            )
