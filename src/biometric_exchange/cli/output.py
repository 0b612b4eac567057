"""``-o/--output FILE``: where a command writes, ``-`` meaning stdout.

Writers that take a path (exports, backups, NIST files) write to a private
temporary file when the output is ``-``; it is then copied to stdout, so the
bytes are the same either way. Messages about the output go to stderr then,
keeping stdout for the data.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from biometric_exchange.cli.common import console, errors

STDOUT = "-"

OutputFile = Annotated[
    Path,
    typer.Option("--output", "-o", help="The file to write; - writes stdout", show_default=False),
]
OptionalOutputFile = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="The file to write; - writes stdout", show_default=False),
]
OutputFolder = Annotated[
    Path,
    typer.Option("--output", "-o", help="The folder to write", show_default=False),
]


def is_stdout(path: Path | None) -> bool:
    """True when ``path`` is ``-``."""
    return path is not None and str(path) == STDOUT


def notes_for(path: Path | None) -> Console:
    """Where to say what was written: stderr when the data itself goes to stdout."""
    return errors if is_stdout(path) else console


def describe(path: Path) -> str:
    """``stdout`` or the path, for messages."""
    return "stdout" if is_stdout(path) else str(path)


@contextmanager
def written(path: Path) -> Iterator[Path]:
    """The path to hand a writer: ``path`` itself, or for ``-`` a temporary file whose
    bytes go to stdout when the writer is done (nothing is written if it fails)."""
    if not is_stdout(path):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="bx-output-") as folder:
        target = Path(folder) / "output"
        yield target
        sys.stdout.flush()
        with target.open("rb") as source:
            shutil.copyfileobj(source, sys.stdout.buffer)
        sys.stdout.buffer.flush()
