"""One option style across ``bx``: walks every command and sub-command of the Typer app
and checks the names of the options that mean the same thing (docs/cli.md)."""

from __future__ import annotations

from collections.abc import Iterator
from enum import Enum

import pytest
from typer import Context
from typer._click.core import Command, Parameter
from typer.core import TyperArgument as Argument
from typer.core import TyperGroup as Group
from typer.core import TyperOption as Option
from typer.main import get_command

from biometric_exchange.cli.formats import FORMATS
from biometric_exchange.cli.main import app

LISTINGS = {
    "bx agreement show",
    "bx alerts list",
    "bx alerts show",
    "bx audit list",
    "bx details list",
    "bx node health",
    "bx officers list",
    "bx requests list",
    "bx status",
    "bx watchlist find",
}
"""Commands that print rows or one record: each takes --format with the same choices."""

LISTING_NAMES = {"list", "show", "find", "status", "health"}
"""A command with one of these names is a listing (so a new one cannot slip by)."""

FOLDER_WORDS = ("node", "folder", "dir")


def _commands() -> Iterator[tuple[str, Command]]:
    """(``bx group command``, command) for every leaf command, lazy ones loaded."""
    root = get_command(app)

    def walk(path: str, command: Command, parent: Context | None) -> Iterator[tuple[str, Command]]:
        context = Context(command, info_name=path.rsplit(maxsplit=1)[-1], parent=parent)
        if isinstance(command, Group):
            for name in command.list_commands(context):
                child = command.get_command(context, name)
                assert child is not None, f"{path} {name}"
                yield from walk(f"{path} {name}", child, context)
        else:
            yield path, command

    yield from walk("bx", root, None)


COMMANDS = dict(_commands())


def _options(command: Command) -> list[Option]:
    return [p for p in command.params if isinstance(p, Option)]


def _named(command: Command, name: str) -> Parameter | None:
    return next((p for p in command.params if name in getattr(p, "opts", ())), None)


def _choices(option: Option) -> tuple[str, ...] | None:
    """The values an option's enum type allows (None when it is not an enum)."""
    kind = option.type_descriptor.annotation
    if isinstance(kind, type) and issubclass(kind, Enum):
        return tuple(str(member.value) for member in kind)
    return None


def test_the_walk_finds_every_group_and_command() -> None:
    assert len(COMMANDS) >= 55
    for expected in (*LISTINGS, "bx alerts ack", "bx audit verify", "bx synth faces draw"):
        assert expected in COMMANDS


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_the_node_folder_is_always_dash_n_node(path: str) -> None:
    command = COMMANDS[path]
    for param in command.params:
        text = f"{param.name} {getattr(param, 'help', '') or ''}".lower()
        if isinstance(param, Argument):
            assert not ("node" in text and any(w in text for w in FOLDER_WORDS[1:])), (
                f"{path}: the node folder is positional ({param.name}); use -n/--node"
            )
        if param.name in ("node", "node_dir"):
            assert isinstance(param, Option), path
            assert sorted(param.opts) == ["--node", "-n"], f"{path}: {param.opts}"
    for option in _options(command):
        if "--node" in option.opts:
            assert "-n" in option.opts, path
        if "-n" in option.opts:
            assert "--node" in option.opts, path


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_outputs_are_dash_o_output(path: str) -> None:
    for option in _options(COMMANDS[path]):
        assert "--out" not in option.opts, f"{path}: --out is spelt --output/-o"
        if "--output" in option.opts or "-o" in option.opts:
            assert sorted(option.opts) == ["--output", "-o"], f"{path}: {option.opts}"


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_the_officer_is_always_operator_from_bx_operator(path: str) -> None:
    for option in _options(COMMANDS[path]):
        if option.name in ("operator", "officer") or "--officer" in option.opts:
            assert option.opts == ["--operator"], f"{path}: {option.opts}"
            assert option.envvar == "BX_OPERATOR", path


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_listing_takes_the_same_format_choices(path: str) -> None:
    command = COMMANDS[path]
    listing = path in LISTINGS or path.rsplit(maxsplit=1)[-1] in LISTING_NAMES
    assert listing == (path in LISTINGS), f"{path}: a listing; add it to LISTINGS"
    option = _named(command, "--format")
    if listing:
        assert isinstance(option, Option), f"{path}: a listing without --format"
        assert _choices(option) == FORMATS, path
        assert str(option.default) == "table", path
    elif option is not None:
        # An export writes a file format: a subset of the same names.
        assert isinstance(option, Option)
        choices = _choices(option)
        assert choices is not None and set(choices) <= set(FORMATS), f"{path}: {choices}"
    as_json = _named(command, "--json")
    assert not (isinstance(as_json, Option) and as_json.is_flag), (
        f"{path}: a --json flag; use --format json"
    )


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_partner_means_a_partner_country_code(path: str) -> None:
    option = _named(COMMANDS[path], "--partner")
    if option is not None:
        assert isinstance(option, Option)
        assert not option.is_flag, f"{path}: --partner is a country code, not a flag"
        assert option.opts == ["--partner"], path
