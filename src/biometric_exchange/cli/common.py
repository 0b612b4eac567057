"""Shared CLI pieces: consoles, error reporting, opening a node folder."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ParamSpec, TypeVar

import typer
from rich.console import Console

from biometric_exchange import logs
from biometric_exchange.exceptions import ExchangeError, InvalidInput

if TYPE_CHECKING:
    from biometric_exchange.node.link import Link
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

PartnerOption = Annotated[
    str | None,
    typer.Option(
        "--partner",
        help="A partner's country code (default: every partner, or the one a reference names)",
        show_default=False,
    ),
]


def partner_links(node: Node, partner: str | None) -> list[Link]:
    """The link to ``partner``, or every link when none is named."""
    if partner is None:
        return node.links()
    code = partner.strip().upper()
    if code not in node.partner_codes:
        raise InvalidInput(
            f"--partner: {partner!r} is not a partner of this node "
            f"(partners: {', '.join(node.partner_codes)})"
        )
    return [node.link(code)]


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


def configure_logging(verbose: bool = False, json_format: bool = False) -> None:
    """Text lines, or one JSON object per line (see ``biometric_exchange.logs``)."""
    logs.configure_logging(verbose, json_format)


@contextmanager
def opened_node(node_dir: Path) -> Iterator[Node]:
    """The node of ``node_dir``, its database closed on the way out."""
    from biometric_exchange.node.runtime import Node  # noqa: PLC0415 - keeps --help quick

    node = Node.open(node_dir)
    try:
        yield node
    finally:
        node.database.close()
