"""Shared CLI pieces: consoles, the options every command names alike, exit codes,
error reporting, opening a node folder.

Exit codes: 0 done; 1 checked and failed (a broken audit chain, a refused reload,
a node not serving); 2 usage or input error (a bad option, an unknown id or code,
a folder that is not a node). Click's own usage errors exit 2 as well.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ParamSpec, TypeVar

import typer
from rich.console import Console

from biometric_exchange import logs
from biometric_exchange.exceptions import (
    AgreementRefusal,
    ConfigError,
    ExchangeError,
    InvalidInput,
)

if TYPE_CHECKING:
    from biometric_exchange.node.link import Link
    from biometric_exchange.node.runtime import Node

EXIT_OK = 0
EXIT_FAILED = 1
"""A check ran and failed: the audit chain is broken, a reload was refused…"""
EXIT_USAGE = 2
"""The command line or its input is wrong: an option, an id, a file, a folder."""

# Rich sizes tables to the terminal (stdin, stdout or stderr), or to COLUMNS when set,
# else 80 columns: piped output follows the terminal it is read on.
console = Console()
errors = Console(stderr=True)

NodeOption = Annotated[
    Path,
    typer.Option("--node", "-n", help="The node's folder, e.g. node_panama", show_default=False),
]
PartnerNodeOption = Annotated[
    Path,
    typer.Option(
        "--partner-node",
        help="The partner's node folder, for commands that set up both nodes",
        show_default=False,
    ),
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
        show_envvar=True,
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


def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    """Print ``error: message`` on stderr; the exit to raise with ``code``."""
    errors.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    return typer.Exit(code)


def exit_code_of(error: ExchangeError) -> int:
    """2 for bad input (arguments, files, configuration, a request the agreement does not
    allow), 1 for a check that failed (a broken chain, a partner's refusal…)."""
    usage = isinstance(error, InvalidInput | ConfigError | AgreementRefusal)
    return EXIT_USAGE if usage else EXIT_FAILED


def reports_errors(function: Callable[P, R]) -> Callable[P, R]:
    """Turn our errors into one clear message and the exit code their kind says."""

    @wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except ExchangeError as exc:
            raise fail(_escape(str(exc)), exit_code_of(exc)) from None

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
