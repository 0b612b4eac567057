"""``--format table|json|jsonl|csv``: one listing, for people or for scripts.

A listing command builds its rows as plain dictionaries (strings, numbers,
booleans, None, lists, nested dictionaries) and a Rich table for people;
``emit_rows`` writes whichever the user chose, on stdout.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from enum import Enum, StrEnum
from typing import Annotated, Any

import typer
from rich.console import RenderableType

from biometric_exchange.cli.common import console


class Format(StrEnum):
    """How a listing is written."""

    TABLE = "table"
    JSON = "json"
    JSONL = "jsonl"
    CSV = "csv"


FORMATS = tuple(f.value for f in Format)
"""The choices every listing's ``--format`` offers, in this order."""

FormatOption = Annotated[
    Format,
    typer.Option(
        "--format",
        case_sensitive=False,
        help="table (for people), or json, jsonl, csv (for scripts; stdout only)",
    ),
]

Row = Mapping[str, Any]


def plain(value: Any) -> Any:
    """``value`` with times as ISO 8601, enums as their values, tuples as lists and
    dataclasses as dictionaries: what JSON and CSV carry."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value


def _json(value: Any, *, indent: int | None = None) -> str:
    return json.dumps(value, indent=indent, ensure_ascii=False, default=str)


def _cell(value: Any) -> str:
    """A CSV cell: empty for None, JSON for lists and objects, text otherwise."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, dict)):
        return _json(value)
    return str(value)


def write_csv(rows: Sequence[Row], columns: Sequence[str] | None = None) -> None:
    """A header line, then one line per row (columns: the first row's keys by default)."""
    names = list(columns) if columns is not None else (list(rows[0]) if rows else [])
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow([_cell(row.get(name)) for name in names])


def emit_rows(
    fmt: Format,
    rows: Sequence[Row],
    table: Callable[[], RenderableType],
    *,
    columns: Sequence[str] | None = None,
) -> None:
    """Write ``rows`` as ``fmt``; ``table`` builds the people's view when it is chosen.

    json is one array, jsonl one object per line, csv a header and one line per row
    (``columns`` fixes the header, so an empty listing still has one).
    """
    if fmt is Format.TABLE:
        console.print(table())
    elif fmt is Format.JSON:
        sys.stdout.write(_json(list(rows), indent=2) + "\n")
    elif fmt is Format.JSONL:
        for row in rows:
            sys.stdout.write(_json(row) + "\n")
    else:
        write_csv(rows, columns)


def emit_document(
    fmt: Format,
    document: Row,
    table: Callable[[], Sequence[RenderableType]],
    *,
    rows: Sequence[Row] | None = None,
) -> None:
    """Write one document (``bx status``, ``bx alerts show``): json indented, jsonl on
    one line; csv writes ``rows`` (the document's main list), else its top-level fields
    as ``field,value`` lines."""
    if fmt is Format.TABLE:
        for part in table():
            console.print(part)
    elif fmt is Format.JSON:
        sys.stdout.write(_json(document, indent=2) + "\n")
    elif fmt is Format.JSONL:
        sys.stdout.write(_json(document) + "\n")
    elif rows is not None:
        write_csv(rows)
    else:
        write_csv([{"field": k, "value": v} for k, v in document.items()], ("field", "value"))
