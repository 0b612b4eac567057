"""``bx demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from biometric_exchange.cli.common import EXIT_FAILED, console, fail, reports_errors


@reports_errors
def demo(
    workdir: Annotated[Path, typer.Option(help="Scratch folder, recreated")] = Path(".demo"),
    seed: Annotated[int, typer.Option(help="Seed of the synthetic scenario")] = 2017,
) -> None:
    """Both nodes on loopback, a short synthetic scenario, the alerts on each node."""
    from biometric_exchange.cli.demo_run import run_demo  # noqa: PLC0415 - heavy imports

    if not run_demo(workdir, seed=seed, console=console):
        raise fail("a node raised no alert from the exchange", EXIT_FAILED)
