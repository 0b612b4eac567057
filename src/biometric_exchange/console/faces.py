"""The synthetic faces of an alert, side by side: its encounter and the watchlist entry
it hit, or the encounters an identity conflict links.

Images are the ones a node keeps beside its records (``images.keep_face_image``:
``bx enroll --image``, ``bx watchlist attach-image``); a file is shown only while it
carries the synthetic marker. A partner's records never have an image here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from biometric_exchange.domain import Alert
from biometric_exchange.images import face_image_path, is_marked_synthetic

ENCOUNTERS, WATCHLIST = "encounters", "watchlist"


@dataclass(frozen=True)
class Face:
    label: str
    kind: str
    record_id: str

    @property
    def url(self) -> str:
        return f"/faces/{self.kind}/{self.record_id}"


def face_file(node_dir: Path, kind: str, record_id: str) -> Path | None:
    """The image to serve, or None (no such file, a bad id, or no synthetic marker)."""
    path = face_image_path(node_dir, kind, record_id)
    if path is None or not path.is_file() or not is_marked_synthetic(path):
        return None
    return path


def _candidates(alert: Alert) -> list[Face]:
    faces = []
    if alert.encounter_id:
        faces.append(Face(f"encounter {alert.encounter_id}", ENCOUNTERS, alert.encounter_id))
    if alert.watchlist_entry_id:
        faces.append(
            Face(f"watchlist entry {alert.watchlist_entry_id}", WATCHLIST, alert.watchlist_entry_id)
        )
    for item in alert.evidence:
        for encounter_id in item.get("encounters") or ():
            if isinstance(encounter_id, str):
                faces.append(Face(f"encounter {encounter_id}", ENCOUNTERS, encounter_id))
    unique: dict[tuple[str, str], Face] = {}
    for face in faces:
        unique.setdefault((face.kind, face.record_id), face)
    return list(unique.values())


def alert_faces(node_dir: Path, alert: Alert, *, limit: int = 4) -> list[Face]:
    """The alert's faces that the node holds a synthetic image of (at most ``limit``)."""
    found = [f for f in _candidates(alert) if face_file(node_dir, f.kind, f.record_id)]
    return found[:limit]
