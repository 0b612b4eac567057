"""``bx export nist`` and ``bx import nist``: a node's records as ANSI/NIST-ITL 1-2011."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from biometric_exchange.cli.common import NodeOption, console, opened_node, reports_errors
from biometric_exchange.cli.output import describe, is_stdout, notes_for, written
from biometric_exchange.domain import TEMPLATE_DIM, Encounter, WatchlistCategory
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.interop.nist import read_transaction
from biometric_exchange.interop.nist.types import record_id
from biometric_exchange.node.interchange import export_record, import_transaction

export_app = typer.Typer(help="Write a node's records in interchange formats.")
import_app = typer.Typer(help="Enrol records from interchange formats into a node.")

FILE_SUFFIX = ".nist"


@export_app.command("nist")
@reports_errors
def export_nist(
    node_dir: NodeOption,
    wanted_id: Annotated[
        str,
        typer.Argument(
            metavar="RECORD_ID",
            help="An encounter or watchlist entry id held by the node",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="File to write; - writes stdout", show_default="RECORD_ID.nist"
        ),
    ] = None,
    image: Annotated[
        Path | None,
        typer.Option(
            "--image",
            help="A synthetic face (from `bx synth faces draw`) to carry in a Type-10 record; "
            "nodes keep templates, not images, so without it the file has no Type-10",
            show_default=False,
        ),
    ] = None,
    destination: Annotated[
        str | None,
        typer.Option(
            "--destination",
            help="1.007 DAI, the receiving agency (a node with several partners must name it)",
            show_default="the partner's, e.g. PAN-BX",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the file if it exists")] = False,
) -> None:
    """Write one encounter or watchlist entry as an ANSI/NIST-ITL transaction (docs/nist.md)."""
    face = _read_image(image) if image is not None else None
    with opened_node(node_dir) as node:
        exported = export_record(node, wanted_id, face_image=face, destination=destination)
    target = output or Path(f"{wanted_id}{FILE_SUFFIX}")
    if not is_stdout(target) and target.exists() and not force:
        raise InvalidInput(f"{target}: already exists; choose another --output or add --force")
    with written(target) as path:
        _write_private(path, exported.data)
    records = "Type-1, Type-2, " + ("Type-10, " if exported.with_face else "") + "Type-99"
    notes_for(target).print(
        f"wrote {describe(target)}: {exported.transaction_type.value} transaction "
        f"{exported.header.control_number} ({records}; {len(exported.data):,} bytes)",
        markup=False,
    )


@import_app.command("nist")
@reports_errors
def import_nist(
    node_dir: NodeOption,
    file: Annotated[Path, typer.Argument(help="An ANSI/NIST-ITL file", show_default=False)],
    watchlist: Annotated[
        WatchlistCategory | None,
        typer.Option(
            "--watchlist",
            help="Add the record as a watchlist entry of this category",
            show_default="as 1.004 TOT says: BX-ENC an encounter, BX-WL a watchlist entry",
        ),
    ] = None,
) -> None:
    """Enrol the record of an ANSI/NIST-ITL transaction, as `bx enroll` or
    `bx watchlist import` would."""
    transaction = read_transaction(file)
    with opened_node(node_dir) as node:
        record = import_transaction(
            node, transaction, watchlist_category=watchlist, source=str(file)
        )
        name = node.config.node.name
    if isinstance(record, Encounter):
        console.print(
            f"enrolled encounter {record.encounter_id} on {name}; "
            "the running node checks it and sends it to the partner",
            markup=False,
        )
    else:
        console.print(
            f"added watchlist entry {record_id(record)} ({record.category.value}) to {name}",
            markup=False,
        )
    face = transaction.face_image
    if face is not None:
        console.print(
            f"face image (Type-10, {face.width}x{face.height} PNG) not stored: "
            "nodes keep templates only"
        )
    if transaction.narrowed_values:
        console.print(
            f"template: {transaction.narrowed_values} of {TEMPLATE_DIM} float64 values "
            "rounded to float32, the form every node stores"
        )


def _read_image(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        raise InvalidInput(f"{path}: cannot read an image ({exc.__class__.__name__})") from None


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` readable by its owner only: it holds a person's record and template."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot write ({exc.strerror})") from None
