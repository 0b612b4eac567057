"""What ``bx`` loads to start: its help lists every command without importing one.

Timings belong in ``benchmarks/cli_startup.py``; these tests check which modules a
fresh ``bx`` process imports, which holds however loaded the machine is.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from biometric_exchange.cli.main import app

NODE_AND_NUMERICS = (
    "numpy",
    "scipy",
    "grpc",
    "cryptography",
    "biometric_exchange.node",
    "biometric_exchange.simulation",
)
"""What no help screen needs (building a command's options imports pydantic, in Typer)."""
HEAVY = (*NODE_AND_NUMERICS, "pydantic")
STARTUP_MODULES = [
    "biometric_exchange",
    "biometric_exchange.cli",
    "biometric_exchange.cli.lazy",
    "biometric_exchange.cli.main",
]
"""Our modules ``bx --help`` imports: the package, and the lazy group of commands."""

# ``bx`` as its console script runs it, reporting ``sys.modules`` on stderr at exit.
BX_REPORTING_MODULES = (
    "import atexit, json, sys\n"
    "atexit.register(lambda: print(json.dumps(sorted(sys.modules)), file=sys.stderr))\n"
    "from biometric_exchange.cli.main import app\n"
    "app(prog_name='bx')\n"
)
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def _bx_process(
    *args: str, env: Mapping[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run ``bx ARGS`` in a fresh interpreter; its result and the modules it imported."""
    run = subprocess.run(
        [sys.executable, "-c", BX_REPORTING_MODULES, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )
    lines = run.stderr.splitlines()
    assert lines, "bx reported no modules"
    return run, set(json.loads(lines[-1]))


def _within(modules: Iterable[str], packages: Iterable[str]) -> list[str]:
    """The modules that are one of ``packages`` or inside one."""
    names = tuple(packages)
    inside = tuple(name + "." for name in names)
    return sorted(m for m in modules if m in names or m.startswith(inside))


@pytest.mark.parametrize(
    ("args", "exit_code"),
    [pytest.param(["--help"], 0, id="help"), pytest.param([], 2, id="no-arguments")],
)
def test_bx_help_imports_no_command_module(args: list[str], exit_code: int) -> None:
    run, modules = _bx_process(*args)

    assert run.returncode == exit_code, run.stderr
    assert "Usage: bx [OPTIONS] COMMAND [ARGS]..." in run.stdout
    assert "Early-warning alerts raised on a node, and their review." in run.stdout
    assert _within(modules, HEAVY) == []
    assert _within(modules, ["biometric_exchange"]) == STARTUP_MODULES


def test_completing_a_command_name_imports_no_command_module() -> None:
    run, modules = _bx_process(
        env={"_BX_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "bx al"}
    )

    assert run.returncode == 0, run.stderr
    assert '"alerts":"Early-warning alerts raised on a node, and..."' in run.stdout
    assert _within(modules, NODE_AND_NUMERICS) == []
    assert _within(modules, ["biometric_exchange"]) == STARTUP_MODULES


@pytest.mark.parametrize("command", ["demo", "loadtest", "simulate"])
def test_help_of_a_light_command_leaves_the_node_unloaded(command: str) -> None:
    run, modules = _bx_process(command, "--help")

    assert run.returncode == 0, run.stderr
    assert f"Usage: bx {command} [OPTIONS]" in run.stdout
    assert f"biometric_exchange.cli.{command}" in modules
    assert _within(modules, NODE_AND_NUMERICS) == []


def _help(group: TyperGroup, capsys: pytest.CaptureFixture[str]) -> str:
    assert group.main(["--help"], prog_name="bx", standalone_mode=False) == 0
    return capsys.readouterr().out


def test_help_lists_each_command_as_the_command_describes_itself(
    capsys: pytest.CaptureFixture[str],
) -> None:
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    lazy = _help(group, capsys)

    ctx = typer.Context(group, info_name="bx")
    loaded = {name: group.get_command(ctx, name) for name in group.list_commands(ctx)}
    eager = TyperGroup(
        name="bx",
        commands={name: command for name, command in loaded.items() if command is not None},
        params=group.params,
        help=group.help,
        no_args_is_help=True,
        rich_markup_mode=group.rich_markup_mode,
    )

    assert lazy == _help(eager, capsys)
    assert len(eager.commands) == 22
    assert isinstance(loaded["alerts"], TyperGroup)


def test_a_group_loads_and_lists_its_own_commands() -> None:
    result = CliRunner().invoke(app, ["node", "--help"])

    assert result.exit_code == 0, result.stderr
    listing = " ".join(ANSI_ESCAPE.sub("", result.stdout).split())
    assert "Usage: bx node [OPTIONS] COMMAND [ARGS]..." in listing
    assert "run " in listing and "health " in listing


def test_a_mistyped_command_is_suggested() -> None:
    result = CliRunner().invoke(app, ["alert"])

    assert result.exit_code == 2
    assert "No such command 'alert'. Did you mean 'alerts'?" in result.stderr
