"""How an evidence item is shown, for every front end (the CLI and the console):
its columns, and the keys never shown."""

from __future__ import annotations

PERSONAL_KEYS = frozenset(
    {"name", "names", "given_name", "family_name", "birth_date", "document_number"}
)
"""Evidence keys never shown (rules do not write them; this is a safeguard)."""

EVIDENCE_COLUMNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("key", ("key",)),
    ("rule", ("rule",)),
    ("source", ("source", "partner")),
    ("reference", ("hit_reference",)),
    ("distance", ("distance",)),
    ("threshold", ("threshold",)),
    ("agreement", ("agreement_id",)),
    ("purpose", ("purpose",)),
    ("point", ("border_point", "encounter_point")),
    ("time", ("encountered_at",)),
)
"""Each column's name and the evidence keys it shows (the first one present)."""

SHOWN_KEYS = frozenset(key for _, keys in EVIDENCE_COLUMNS for key in keys)
"""Keys with a column of their own; the rest go to ``other``."""
