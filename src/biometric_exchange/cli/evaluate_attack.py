"""``bx evaluate --attack``: template extraction through step 1, as a short report."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from biometric_exchange import SYNTHETIC_NOTICE


def run_attack(
    attack: str,
    *,
    baseline: bool,
    banded: bool,
    victims: int,
    days: int,
    watchlist: int,
    seed: int,
    budget: int | None,
    json_path: Path | None,
    console: Console,
) -> None:
    """Run ``attack`` against the previous behaviour (``baseline``) or a live holder
    over gRPC; print the report, and write it as JSON to ``json_path``."""
    # Deferred: numpy and the node would slow every other bx command's start.
    from biometric_exchange.evaluation.attacks import (  # noqa: PLC0415
        AttackConfig,
        render_markdown,
        run_baseline,
    )

    config = AttackConfig(
        attack=attack,
        victims=victims,
        days=days,
        watchlist=watchlist,
        seed=seed,
        budget=budget,
        banded=banded,
    )
    console.print(f"[bold yellow]{SYNTHETIC_NOTICE}[/]")
    from biometric_exchange.cli.progress import steps  # noqa: PLC0415

    with steps(f"attacking {victims} victim(s) with {attack}"):
        if baseline:
            report = run_baseline(config)
        else:
            from biometric_exchange.attacks import LiveConfig, run_live  # noqa: PLC0415

            report = run_live(LiveConfig(config))
    console.out(render_markdown(report), highlight=False, end="")
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(report.as_dict(), indent=2) + "\n", encoding="utf-8")
        console.print(f"written to {json_path}")
