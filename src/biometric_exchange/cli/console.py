"""``bx console`` (the operator console, a web page) and ``bx officers`` (who signs in).

Both need the ``console`` extra (Starlette, uvicorn, Jinja2, argon2-cffi); without it
they say how to install it. Passwords come from ``--password-file``,
``BX_OFFICER_PASSWORD`` or a prompt, never from the command line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from biometric_exchange.cli.common import (
    NodeOption,
    OperatorOption,
    configure_logging,
    console,
    opened_node,
    reports_errors,
)
from biometric_exchange.cli.formats import Format, FormatOption, emit_rows, plain
from biometric_exchange.domain import AlertQueue
from biometric_exchange.exceptions import ConfigError, InvalidInput
from biometric_exchange.logs import LOG_FORMAT_ENV, LogFormat
from biometric_exchange.store.officers import Officer, OfficerStore, Role

if TYPE_CHECKING:
    from types import ModuleType

PASSWORD_ENV = "BX_OFFICER_PASSWORD"  # noqa: S105 - the variable's name
EXTRA_HINT = (
    "the console needs the 'console' extra: pip install 'biometric-exchange[console]' "
    "(make venv installs it)"
)

officers_app = typer.Typer(help="Officer accounts of the operator console (bx console).")

OfficerId = Annotated[str, typer.Argument(help="The officer's id, e.g. maria.lopez")]


def _needs_extra(module: str) -> ModuleType:
    import importlib  # noqa: PLC0415

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in {
            "starlette",
            "uvicorn",
            "jinja2",
            "argon2",
            "sse_starlette",
            "multipart",
            "python_multipart",
        }:
            raise ConfigError(EXTRA_HINT) from None
        raise


def _password(password_file: Path | None) -> str:
    if password_file is not None:
        try:
            return password_file.read_text(encoding="utf-8").rstrip("\n")
        except OSError as exc:
            raise InvalidInput(f"--password-file: cannot read {password_file}: {exc}") from exc
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env:
        return from_env
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


@officers_app.command("add")
@reports_errors
def add(
    officer_id: OfficerId,
    node: NodeOption,
    role: Annotated[Role, typer.Option(help="viewer, officer or supervisor")] = Role.OFFICER,
    queue: Annotated[
        list[AlertQueue] | None,
        typer.Option("--queue", help="A queue they review (repeat; default: both)"),
    ] = None,
    password_file: Annotated[
        Path | None,
        typer.Option(help=f"A file holding the password (else {PASSWORD_ENV}, else a prompt)"),
    ] = None,
    operator: OperatorOption = None,
) -> None:
    """Add an officer who signs in to the console (password hashed with Argon2id)."""
    officers = _needs_extra("biometric_exchange.console.officers")
    password = _password(password_file)
    with opened_node(node) as opened:
        added = officers.add_officer(
            opened, officer_id, password, role=role, queues=tuple(queue or AlertQueue), by=operator
        )
    queues = ", ".join(q.value for q in added.queues)
    console.print(
        f"officer {added.officer_id} added: {added.role.value}, queues {queues}", markup=False
    )


@officers_app.command("disable")
@reports_errors
def disable(officer_id: OfficerId, node: NodeOption, operator: OperatorOption = None) -> None:
    """Disable an officer: sign-in refused, open sessions ended at once."""
    officers = _needs_extra("biometric_exchange.console.officers")
    with opened_node(node) as opened:
        changed = officers.set_disabled(opened, officer_id, True, by=operator)
    console.print(f"officer {changed.officer_id} disabled", markup=False)


@officers_app.command("enable")
@reports_errors
def enable(officer_id: OfficerId, node: NodeOption, operator: OperatorOption = None) -> None:
    """Enable a disabled officer again."""
    officers = _needs_extra("biometric_exchange.console.officers")
    with opened_node(node) as opened:
        changed = officers.set_disabled(opened, officer_id, False, by=operator)
    console.print(f"officer {changed.officer_id} enabled", markup=False)


@officers_app.command("list")
@reports_errors
def list_officers(node: NodeOption, fmt: FormatOption = Format.TABLE) -> None:
    """Every officer account: role, queues, state."""
    with opened_node(node) as opened:
        found = OfficerStore(opened.database).list()
        name = opened.name
    rows = [
        {
            "officer_id": officer.officer_id,
            "role": officer.role.value,
            "queues": [q.value for q in officer.queues],
            "state": "disabled" if officer.disabled else "active",
            "created_at": plain(officer.created_at),
        }
        for officer in found
    ]
    emit_rows(fmt, rows, lambda: _officers_table(name, found), columns=OFFICER_COLUMNS)


OFFICER_COLUMNS = ("officer_id", "role", "queues", "state", "created_at")


def _officers_table(name: str, found: list[Officer]) -> Table:
    table = Table(title=f"Officers of {name} ({len(found)})")
    for column in ("officer", "role", "queues", "state", "since"):
        table.add_column(column, no_wrap=column == "officer")
    for officer in found:
        table.add_row(
            officer.officer_id,
            officer.role.value,
            ", ".join(q.value for q in officer.queues),
            "disabled" if officer.disabled else "active",
            f"{officer.created_at:%Y-%m-%d}",
        )
    return table


@reports_errors
def run_console(
    node: NodeOption,
    listen: Annotated[
        str | None,
        typer.Option(help="host:port (default [console] listen, 127.0.0.1:8080)"),
    ] = None,
    tls_cert: Annotated[Path | None, typer.Option(help="PEM certificate for HTTPS")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="PEM private key for HTTPS")] = None,
    node_tls: Annotated[
        bool, typer.Option("--node-tls", help="Serve HTTPS with the node's keys/tls.crt")
    ] = False,
    reports: Annotated[
        Path | None, typer.Option(help="Simulation runs to link (bx simulate's runs/)")
    ] = None,
    log_format: Annotated[
        LogFormat,
        typer.Option("--log-format", envvar=LOG_FORMAT_ENV, help="text, or json"),
    ] = LogFormat.TEXT,
) -> None:
    """The operator console: a web page for the alert queue, step 2 and the node.

    Loopback by default; any other address is refused unless the console serves TLS.
    """
    server = _needs_extra("biometric_exchange.console.server")
    app_module = _needs_extra("biometric_exchange.console.app")
    context = _needs_extra("biometric_exchange.console.context")
    configure_logging(json_format=log_format is LogFormat.JSON)
    with opened_node(node) as opened:
        settings = opened.config.console
        host, port = server.parse_listen(listen or settings.listen)
        tls = server.choose_tls(
            opened.node_dir, settings, cert=tls_cert, key=tls_key, node_tls=node_tls
        )
        server.exposure_check(host, tls)
        reports_dir = reports or (
            opened.node_dir / settings.reports_dir if settings.reports_dir else None
        )
        app = app_module.build_app(
            context.Console.of(opened, secure_cookies=tls is not None, reports_dir=reports_dir)
        )
        if not any(not o.disabled for o in OfficerStore(opened.database).list()):
            console.print(
                f"no officer can sign in yet: bx officers add OFFICER_ID --node {node}",
                markup=False,
            )
        sock = server.bind(host, port)
        console.print(
            f"console of {opened.name} at {server.url_of(sock, tls)} (Ctrl-C stops it)",
            markup=False,
        )
        server.serve(app, sock, tls)
