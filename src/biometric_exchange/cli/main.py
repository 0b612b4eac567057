"""The ``bx`` command: every operator task of a node.

Each command's module is imported only when that command runs (see ``cli.lazy``),
so ``bx --help`` starts quickly; the one-line help below is what ``bx --help`` lists.
The option style every command follows is in docs/cli.md (and checked by a test).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, ClassVar

import typer

from biometric_exchange.cli.lazy import LazyCommand, LazyGroup

_CLI = "biometric_exchange.cli"


def _lazy(target: str, help: str) -> LazyCommand:
    return LazyCommand(f"{_CLI}.{target}", help)


class BxGroup(LazyGroup):
    """The commands of ``bx``, in the order ``bx --help`` lists them."""

    lazy_commands: ClassVar[Mapping[str, LazyCommand]] = {
        "enroll": _lazy(
            "records:enroll",
            "Enrol an encounter (JSON; with --image its template comes from a face image).",
        ),
        "status": _lazy(
            "status:status",
            "Health, partners, agreements, outbox and open alerts of a node (running or not).",
        ),
        "demo": _lazy(
            "demo:demo",
            "Both nodes on loopback, a short synthetic scenario, the alerts on each node.",
        ),
        "evaluate": _lazy(
            "evaluate:evaluate",
            "Measure verification and identification accuracy on seeded synthetic templates.",
        ),
        "loadtest": _lazy(
            "loadtest:loadtest",
            "Build a pair, load a synthetic watchlist, start the holder and drive Identify.",
        ),
        "simulate": _lazy(
            "simulate:simulate",
            "Run a scenario through the corridor's nodes (Chile and Panama, and Mexico when the\n"
            "scenario names it) and write its report.",
        ),
        "federation": _lazy(
            "federation:app",
            "A federation of RCM and SACM members: folders, router, gRPC run.",
        ),
        "keys": _lazy(
            "keys:app", "A node's keys: create, back up, restore, check, rotate the data key."
        ),
        "bench": _lazy("bench:bench_app", "Benchmarks (FAISS comes with the 'bench' extra)."),
        "agreement": _lazy(
            "agreement:app", "Draft, sign, verify, install and show the bilateral agreement."
        ),
        "node": _lazy("node:app", "Run and probe a node."),
        "synth": _lazy("synth:app", "Generate synthetic people, templates and watchlists."),
        "watchlist": _lazy("records:watchlist_app", "Manage a node's watchlist."),
        "alerts": _lazy(
            "alerts:alerts_app", "Early-warning alerts raised on a node, and their review."
        ),
        "audit": _lazy("audit:audit_app", "The node's hash-chained audit log."),
        "retention": _lazy(
            "audit:retention_app", "Deleting what the agreement no longer lets the node keep."
        ),
        "details": _lazy(
            "details:details_app", "Step 2 as requester: ask the partner for details about a hit."
        ),
        "requests": _lazy(
            "details:requests_app", "Step 2 as holder: the partner's requests for details."
        ),
        "console": _lazy(
            "console:run_console",
            "The operator console: a web page for the alert queue, step 2 and the node.",
        ),
        "officers": _lazy(
            "console:officers_app", "Officer accounts of the operator console (bx console)."
        ),
        "export": _lazy("nist:export_app", "Write a node's records in interchange formats."),
        "import": _lazy("nist:import_app", "Enrol records from interchange formats into a node."),
    }


app = typer.Typer(name="bx", cls=BxGroup, no_args_is_help=True, pretty_exceptions_enable=False)


def _print_version(asked: bool) -> None:
    if asked:
        from biometric_exchange import __version__  # noqa: PLC0415 - only when asked

        typer.echo(f"bx (biometric-exchange) {__version__}")
        raise typer.Exit


@app.callback()
def bx(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit"
        ),
    ] = False,
) -> None:
    """biometric-exchange: bilateral biometric exchange and early warning (synthetic data only).

    Exit codes: 0 done, 1 checked and failed, 2 usage or input error (docs/cli.md)."""
