"""Shared CLI pieces: consoles, error reporting, opening a node folder."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer
from rich.console import Console

from biometric_exchange.exceptions import ExchangeError, InvalidInput
from biometric_exchange.node.runtime import Node

TABLE_WIDTH = 150
"""Width used when output is not a terminal (logs, CI), so tables stay readable."""

console = Console()
if not console.is_terminal:
    console = Console(width=TABLE_WIDTH)
errors = Console(stderr=True)

NodeDir = Annotated[
    Path,
    typer.Argument(help="The node's folder, e.g. node_chile", show_default=False),
]
NodeOption = Annotated[
    Path,
    typer.Option("--node", "-n", help="The node's folder, e.g. node_panama", show_default=False),
]

OperatorOption = Annotated[
    str | None,
    typer.Option(
        "--operator",
        envvar="BX_OPERATOR",
        help="The officer acting (or set BX_OPERATOR); recorded in the audit log",
        show_default=False,
    ),
]


def operator_id(value: str | None) -> str:
    """The acting officer's id; every command that acts refuses without one."""
    if value is None or not value.strip():
        raise InvalidInput("--operator: name the officer acting (or set BX_OPERATOR)")
    return value.strip()


P = ParamSpec("P")
R = TypeVar("R")


def fail(message: str, code: int = 2) -> typer.Exit:
    errors.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    return typer.Exit(code)


def reports_errors(function: Callable[P, R]) -> Callable[P, R]:
    """Turn our errors into one clear message and a non-zero exit status."""

    @wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except ExchangeError as exc:
            raise fail(_escape(str(exc))) from None

    return wrapper


def _escape(text: str) -> str:
    return text.replace("[", "\\[")


def configure_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@contextmanager
def opened_node(node_dir: Path) -> Iterator[Node]:
    node = Node.open(node_dir)
    try:
        yield node
    finally:
        node.database.close()
