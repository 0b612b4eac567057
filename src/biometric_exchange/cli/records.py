"""``bx enroll`` and ``bx watchlist``: records into a node."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import RenderableType
from rich.table import Table

from biometric_exchange.cli.common import NodeOption, console, opened_node, reports_errors
from biometric_exchange.cli.face_input import (
    RequireDetectionOption,
    describe_location,
    require_synthetic_image,
)
from biometric_exchange.cli.formats import Format, FormatOption, emit_rows
from biometric_exchange.cli.progress import Counted, steps
from biometric_exchange.domain import TEMPLATE_DIM, TEMPLATE_MODEL, Encounter
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.faces import FaceEncoding, encode_image_details
from biometric_exchange.images import keep_face_image
from biometric_exchange.node.enrolment import enrol
from biometric_exchange.node.presence import is_serving
from biometric_exchange.recordfiles import encounter_from_dict, read_encounter, read_watchlist
from biometric_exchange.store.outbox import OutboxState

watchlist_app = typer.Typer(help="Manage a node's watchlist.")

RecordFile = Annotated[Path, typer.Argument(help="JSON file", show_default=False)]
ImageOption = Annotated[
    Path | None,
    typer.Option(
        "--image",
        help="A synthetic face image (from `bx synth faces draw`): the template is "
        "encoded from it, replacing any template in the JSON file",
        show_default=False,
    ),
]

_PLACEHOLDER_TEMPLATE = {
    "model": TEMPLATE_MODEL,
    "dim": TEMPLATE_DIM,
    "values": [0.0] * TEMPLATE_DIM,
}


def read_encounter_with_image(
    file: Path, image: Path, *, require_detection: bool = False
) -> tuple[Encounter, FaceEncoding, bool]:
    """The encounter of ``file`` with its template encoded from ``image``.

    The JSON may carry a template or not: any template is replaced (the flag
    says whether one was). Every other field is validated as
    ``read_encounter`` does, before the image is encoded; the image must carry
    the synthetic marker of ``bx synth faces draw``.
    """
    try:
        raw: Any = json.loads(file.read_text(encoding="utf-8"))
    except (FileNotFoundError, IsADirectoryError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            f"{file}: cannot read an encounter file ({exc.__class__.__name__})"
        ) from exc
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{file}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(raw, dict):
        raise InvalidInput(f"{file}: expected one JSON object (an encounter)")
    replaced = "template" in raw
    encounter = encounter_from_dict({**raw, "template": _PLACEHOLDER_TEMPLATE}, str(file))
    require_synthetic_image(image)
    encoding = encode_image_details(image, require_detection=require_detection)
    return dataclasses.replace(encounter, template=encoding.template), encoding, replaced


@reports_errors
def enroll(
    file: RecordFile,
    node: NodeOption,
    image: ImageOption = None,
    require_detection: RequireDetectionOption = False,
    wait: Annotated[
        float,
        typer.Option(
            help="Seconds to wait for the running node to process it (none when no node runs)"
        ),
    ] = 15.0,
) -> None:
    """Enrol an encounter (JSON; with --image its template comes from a face image).

    The running node checks it and sends it to the partner.
    """
    if image is None:
        if require_detection:
            raise InvalidInput("--require-detection: applies only with --image")
        encounter = read_encounter(file)
    else:
        encounter, encoding, replaced = read_encounter_with_image(
            file, image, require_detection=require_detection
        )
        note = " (replacing the file's template)" if replaced else ""
        console.print(f"template encoded from {image}{note}", markup=False)
        console.print(describe_location(encoding), markup=False)
    with opened_node(node) as opened:
        enrol(opened, encounter)
        console.print(f"enrolled {encounter.encounter_id} on {opened.config.node.name}")
        if image is not None:  # the console shows it beside the watchlist photo
            keep_face_image(opened.node_dir, "encounters", encounter.encounter_id, image)
        serving = is_serving(opened.node_dir)
        deadline = time.monotonic() + wait
        while serving and time.monotonic() < deadline:
            item = opened.outbox.get(encounter.encounter_id)
            if item is not None and item.state is not OutboxState.PENDING:
                break
            time.sleep(0.2)
        item = opened.outbox.get(encounter.encounter_id)
        state = item.state.value if item else "unknown"
        messages = {
            "done": "checked locally and exchanged with the partner",
            "out_of_scope": "checked locally; not sent (outside the agreement's scope)",
            "pending": (
                f"queued; the node is still working on it (see bx alerts list -n {node})"
                if serving
                else f"queued; no node process serves {node}: start it with bx node run -n {node}"
            ),
            "failed": f"exchange failed: {item.last_error if item else ''}",
        }
        console.print(f"status: {messages.get(state, state)}")
        alerts = [a for a in opened.alerts.list() if a.encounter_id == encounter.encounter_id]
        for alert in alerts:
            console.print(
                f"  alert {alert.alert_id} [{alert.severity.value}] {alert.summary}", markup=False
            )


@watchlist_app.command("import")
@reports_errors
def import_watchlist(file: RecordFile, node: NodeOption) -> None:
    """Add the entries of a JSON Lines file; a bad line rejects the whole file.

    Progress goes to stderr: a bar on a terminal, else a line per tenth of each pass."""
    with steps(f"reading {file}") as progress:
        entries = read_watchlist(file)
        with opened_node(node) as opened:
            counted = Counted(entries, progress, ("checking entries", "sealing and storing"))
            count = opened.records.add_watchlist(counted)
            name = opened.config.node.name
    console.print(f"added {count} watchlist entries to {name}", markup=False)


@watchlist_app.command("find")
@reports_errors
def find_document(
    node: NodeOption,
    document: Annotated[
        str, typer.Option("--document", help="A document number (case and blanks ignored)")
    ],
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Watchlist entries and encounters holding a document number (looked up by its
    keyed hash; the number itself is stored only sealed)."""
    with opened_node(node) as opened:
        holders = opened.records.document_holders(document)
    rows = [{"record": "watchlist", "id": entry_id} for entry_id in holders.watchlist]
    rows += [{"record": "encounter", "id": encounter_id} for encounter_id in holders.encounters]
    emit_rows(fmt, rows, lambda: _holders_table(rows), columns=("record", "id"))


def _holders_table(rows: list[dict[str, str]]) -> RenderableType:
    if not rows:
        return "no record holds that document number"
    table = Table("record", "id", title=f"Document holders ({len(rows)})")
    table.columns[1].no_wrap = True
    for row in rows:
        table.add_row(row["record"], row["id"])
    return table


@watchlist_app.command("attach-image")
@reports_errors
def attach_image(
    entry_id: Annotated[str, typer.Argument(help="A watchlist entry id", show_default=False)],
    image: Annotated[Path, typer.Argument(help="A synthetic face PNG", show_default=False)],
    node: NodeOption,
) -> None:
    """Keep a synthetic face image of a watchlist entry, for the console to show."""
    with opened_node(node) as opened:
        if opened.records.watchlist_category(entry_id) is None:
            raise InvalidInput(f"{entry_id!r}: no such watchlist entry on {opened.name}")
        kept = keep_face_image(opened.node_dir, "watchlist", entry_id, image)
        console.print(f"image of {entry_id} kept as {kept}", markup=False)
