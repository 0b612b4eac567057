"""Alert evidence at rest: one row per item, in the order the items arrived.

``alert_evidence`` holds each alert's items, unique per (alert, key), with an
insertion sequence. Adding an item inserts its row, or changes nothing when
the alert holds the key already -- unless the caller names an *occurrence*
(say, the encounter that raised the item again): the row then counts one more
occurrence and remembers it as the last. No call rewrites another row, so
adding costs O(new items) whatever the alert holds. Once an alert holds its
cap of rows, further items are counted, not kept: one ``alert_evidence_overflow``
row per alert tallies them by rule and, for identity conflicts, by differing
field. It remembers the last ``RECENT_OVERFLOW`` items it counted (key and
occurrence), so an item raised again soon after (a retry, a monitor's next
run) is not counted twice; one raised again much later may be.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from biometric_exchange.domain import Evidence, EvidenceOverflow
from biometric_exchange.store.dialect import Connection, Row

RECENT_OVERFLOW = 64
"""Items counted beyond the cap whose key and occurrence the tally remembers."""
DEFAULT_MAX_EVIDENCE = 500
"""Evidence items an alert keeps (node.toml ``[alerts] max_evidence_per_alert``)."""
OCCURRENCES = "occurrences"
LAST_OCCURRENCE = "last_occurrence"
"""What a read adds to an item raised more than once (counted by occurrence)."""


@dataclass(frozen=True)
class Added:
    """What adding items to one alert did."""

    stored: int = 0
    repeated: int = 0
    """Known items that counted one more occurrence."""
    overflowed: int = 0
    """Items counted in the overflow row instead of kept (the alert was at its cap)."""

    @property
    def changed(self) -> bool:
        return bool(self.stored or self.repeated or self.overflowed)


def _key(item: Evidence) -> str:
    key = item.get("key")
    return "" if key is None else str(key)


def add_evidence(
    connection: Connection,
    alert_id: str,
    items: Iterable[Evidence],
    *,
    kind: str,
    held: int,
    cap: int,
    occurrence: str | None = None,
) -> Added:
    """Add ``items`` to ``alert_id``, which holds ``held`` rows and keeps at most ``cap``;
    ``kind`` names the rule of items that do not name one."""
    stored = repeated = 0
    overflow: list[tuple[Evidence, str]] = []
    for item in items:
        key = _key(item)
        if held + stored < cap:
            inserted = connection.execute(
                "INSERT INTO alert_evidence "
                "(alert_id, key, item, hit_reference, last_occurrence) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (alert_id, key) DO NOTHING",
                (
                    alert_id,
                    key,
                    json.dumps(item, sort_keys=True),
                    _reference(item),
                    occurrence,
                ),
            ).rowcount
            if inserted:
                stored += 1
                continue
        elif not _holds(connection, alert_id, key):
            overflow.append((item, f"{key}|{occurrence or ''}"))
            continue
        if occurrence is not None:
            repeated += connection.execute(
                "UPDATE alert_evidence SET occurrences = occurrences + 1, last_occurrence = ? "
                "WHERE alert_id = ? AND key = ? AND last_occurrence IS DISTINCT FROM ?",
                (occurrence, alert_id, key, occurrence),
            ).rowcount
    counted = _count_overflow(connection, alert_id, overflow, kind) if overflow else 0
    return Added(stored, repeated, counted)


def _reference(item: Evidence) -> str | None:
    reference = item.get("hit_reference")
    return str(reference) if reference else None


def _holds(connection: Connection, alert_id: str, key: str) -> bool:
    return (
        connection.execute(
            "SELECT 1 FROM alert_evidence WHERE alert_id = ? AND key = ?", (alert_id, key)
        ).fetchone()
        is not None
    )


def _count_overflow(
    connection: Connection,
    alert_id: str,
    items: Sequence[tuple[Evidence, str]],
    kind: str,
) -> int:
    """Tally ``items`` (each with its key and occurrence) in the alert's one overflow
    row, skipping those it counted recently; return how many it counted. The row is
    small: a few rules, four fields, ``RECENT_OVERFLOW`` marks."""
    row = connection.execute(
        "SELECT items, by_rule, by_field, recent FROM alert_evidence_overflow WHERE alert_id = ?",
        (alert_id,),
    ).fetchone()
    count = int(row["items"]) if row else 0
    by_rule: Counter[str] = Counter(json.loads(row["by_rule"]) if row else {})
    by_field: Counter[str] = Counter(json.loads(row["by_field"]) if row else {})
    recent: list[str] = list(json.loads(row["recent"])) if row else []
    counted = 0
    for item, mark in items:
        if mark in recent:
            continue
        recent = [*recent, mark][-RECENT_OVERFLOW:]
        counted += 1
        by_rule[str(item.get("rule") or kind)] += 1
        differences = item.get("differences")
        if isinstance(differences, list):
            by_field.update(str(name) for name in differences)
    if counted:
        connection.execute(
            "INSERT INTO alert_evidence_overflow "
            "(alert_id, items, by_rule, by_field, recent) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (alert_id) DO UPDATE SET items = excluded.items, "
            "by_rule = excluded.by_rule, by_field = excluded.by_field, recent = excluded.recent",
            (
                alert_id,
                count + counted,
                json.dumps(dict(by_rule), sort_keys=True),
                json.dumps(dict(by_field), sort_keys=True),
                json.dumps(recent),
            ),
        )
    return counted


def evidence_from_row(row: Row) -> Evidence:
    """An item as stored, plus its occurrences when it was raised more than once."""
    item: Evidence = json.loads(row["item"])
    if row["occurrences"] > 1:
        item[OCCURRENCES] = int(row["occurrences"])
        item[LAST_OCCURRENCE] = row["last_occurrence"]
    return item


_COLUMNS = "alert_id, item, occurrences, last_occurrence"


def evidence_page(
    connection: Connection, alert_id: str, *, offset: int, limit: int
) -> list[Evidence]:
    """Items ``offset`` to ``offset + limit`` of ``alert_id``, in the order they arrived."""
    rows = connection.execute(
        f"SELECT {_COLUMNS} FROM alert_evidence WHERE alert_id = ? "  # noqa: S608
        "ORDER BY seq LIMIT ? OFFSET ?",
        (alert_id, max(0, limit), max(0, offset)),
    ).fetchall()
    return [evidence_from_row(row) for row in rows]


def evidence_of_alerts(
    connection: Connection, alerts_query: str, values: Sequence[object], *, each: int
) -> dict[str, list[Evidence]]:
    """The first ``each`` items of every alert ``alerts_query`` (a SELECT of alert ids
    with ``values``) names, in one query."""
    rows = connection.execute(
        f"SELECT {_COLUMNS} FROM ("  # noqa: S608 - callers pass fixed SQL
        f"SELECT {_COLUMNS}, seq, row_number() OVER (PARTITION BY alert_id ORDER BY seq) AS n "
        f"FROM alert_evidence WHERE alert_id IN ({alerts_query})"
        ") AS numbered WHERE n <= ? ORDER BY alert_id, seq",
        (*values, each),
    ).fetchall()
    found: dict[str, list[Evidence]] = {}
    for row in rows:
        found.setdefault(row["alert_id"], []).append(evidence_from_row(row))
    return found


SELECT_ALERTS = (
    "SELECT a.*, o.items AS overflow_items, o.by_rule AS overflow_by_rule, "
    "o.by_field AS overflow_by_field FROM alerts AS a "
    "LEFT JOIN alert_evidence_overflow AS o USING (alert_id)"
)
"""Alert rows (``alerts AS a``) with their overflow tally, for ``overflow_from_row``."""


def overflow_from_row(row: Row) -> EvidenceOverflow | None:
    """The overflow tally joined to an alert row (None when nothing overflowed)."""
    if "overflow_items" not in row.keys() or row["overflow_items"] is None:  # noqa: SIM118
        return None
    return EvidenceOverflow(
        items=int(row["overflow_items"]),
        by_rule=dict(json.loads(row["overflow_by_rule"])),
        by_field=dict(json.loads(row["overflow_by_field"])),
    )
