"""``bx evaluate``: accuracy report (DET, EER, FPIR/FNIR per gallery size) on synthetic data;
with ``--protection`` template protection, with ``--attack`` template extraction, with
``--surge`` the surge monitor's false surges and detection delay."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from biometric_exchange import SYNTHETIC_NOTICE
from biometric_exchange.cli.common import console, reports_errors
from biometric_exchange.cli.progress import steps
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.synthetic.templates import TemplateModel, parse_effect

DEFAULT_SIZES = "1000,10000,100000,1000000"


def parse_sizes(text: str) -> tuple[int, ...]:
    """ "1000,10000" → (1000, 10000), sorted and deduplicated; InvalidInput otherwise."""
    try:
        sizes = {int(part.replace("_", "")) for part in text.split(",") if part.strip()}
    except ValueError:
        raise InvalidInput(f"--sizes: expected comma-separated integers, got {text!r}") from None
    if not sizes or min(sizes) < 2:
        raise InvalidInput(f"--sizes: expected gallery sizes of at least 2, got {text!r}")
    return tuple(sorted(sizes))


@reports_errors
def evaluate(
    out: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Output folder: report.json and PNGs (not with --attack)",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed")] = 2017,
    sizes: Annotated[
        str, typer.Option(help="Gallery sizes for 1:N, comma-separated")
    ] = DEFAULT_SIZES,
    max_searched: Annotated[
        int | None,
        typer.Option(
            help="Search galleries up to this size; model larger ones only "
            "[default: 1000000, or 10000 with --quick]",
            show_default=False,
        ),
    ] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="Smaller samples: seconds, not a minute")
    ] = False,
    scenario: Annotated[
        str,
        typer.Option(
            help="Demographic differentials: none (strata flat by construction) or nist "
            "(ratios set from NISTIR 8280, cited in the report)"
        ),
    ] = "none",
    replicates: Annotated[
        int | None,
        typer.Option(
            help="Bootstrap replicates behind every interval [default: 1000, 200 with --quick]",
            show_default=False,
        ),
    ] = None,
    effect: Annotated[
        list[str] | None,
        typer.Option(
            help="Group effect NAME:SELECTOR:NOISE:IDENTITY (repeatable), e.g. "
            "minors:minor:1.15:0.75; none by default",
            show_default=False,
        ),
    ] = None,
    protection: Annotated[
        str | None,
        typer.Option(
            help="Measure template protection instead (rotation, biohash, iom, "
            "comma-separated, or all): accuracy, unlinkability, renewability, pre-image "
            "attack; writes protection.json",
            show_default=False,
        ),
    ] = None,
    attack: Annotated[
        str | None,
        typer.Option(
            help="Measure template extraction through step 1 instead: trilateration or "
            "boundary, against a live holder over gRPC (or --baseline)",
            show_default=False,
        ),
    ] = None,
    baseline: Annotated[
        bool,
        typer.Option(
            "--baseline", help="With --attack: the previous behaviour (scores on), in process"
        ),
    ] = False,
    banded: Annotated[
        bool,
        typer.Option(
            "--banded",
            help="With --attack: hits name the agreement's confidence band (step1.confidence)",
        ),
    ] = False,
    victims: Annotated[int, typer.Option(help="With --attack: watchlist entries attacked")] = 3,
    days: Annotated[int, typer.Option(help="With --attack: days of the agreement's quota")] = 30,
    watchlist: Annotated[int, typer.Option(help="With --attack: watchlist entries")] = 1000,
    budget: Annotated[
        int | None,
        typer.Option(help="With --attack: most probes spent on one victim", show_default=False),
    ] = None,
    json_path: Annotated[
        Path | None,
        typer.Option(
            "--json", help="With --attack or --surge: write the report here", show_default=False
        ),
    ] = None,
    surge: Annotated[
        str | None,
        typer.Option(
            help="Measure the surge monitor instead, on a scenario (e.g. demo): false surges "
            "over --runs seeds from --seed, then detection and delay of an injected surge",
            show_default=False,
        ),
    ] = None,
    runs: Annotated[int, typer.Option(help="With --surge: seeds (runs) per condition")] = 100,
    surge_size: Annotated[
        float | None,
        typer.Option(
            help="With --surge: extra arrivals a day [default: the scenario's, else 10]",
            show_default=False,
        ),
    ] = None,
    surge_start: Annotated[
        int | None,
        typer.Option(
            help="With --surge: the surge's first day (0 = the first simulated day) "
            "[default: the scenario's, else 3/5 of its days]",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Measure verification and identification accuracy on seeded synthetic templates."""
    if surge is not None:
        from biometric_exchange.cli.evaluate_surge import run_surge  # noqa: PLC0415

        if out is not None or attack is not None or protection is not None:
            raise InvalidInput("--surge: not with --output, --attack or --protection")
        run_surge(
            surge,
            runs=runs,
            seed=seed,
            size=surge_size,
            start=surge_start,
            json_path=json_path,
            console=console,
        )
        return
    for name, given in (
        ("--surge-size", surge_size is not None),
        ("--surge-start", surge_start is not None),
    ):
        if given:
            raise InvalidInput(f"{name}: only with --surge")
    if attack is not None:
        from biometric_exchange.cli.evaluate_attack import run_attack  # noqa: PLC0415

        if out is not None:
            raise InvalidInput("--output: not used with --attack (write the report with --json)")
        run_attack(
            attack,
            baseline=baseline,
            banded=banded,
            victims=victims,
            days=days,
            watchlist=watchlist,
            seed=seed,
            budget=budget,
            json_path=json_path,
            console=console,
        )
        return
    for name, given in (
        ("--baseline", baseline),
        ("--banded", banded),
        ("--json", json_path is not None),
    ):
        if given:
            raise InvalidInput(f"{name}: only with --attack")
    if out is None:
        raise InvalidInput("--output: required (or --attack)")
    # Deferred: numpy/scipy/matplotlib would slow every other bx command's start.
    from biometric_exchange.evaluation import EvaluationConfig, run_evaluation  # noqa: PLC0415
    from biometric_exchange.evaluation.report import write_report  # noqa: PLC0415
    from biometric_exchange.evaluation.scenario import parse_scenario  # noqa: PLC0415
    from biometric_exchange.evaluation.summary import print_summary  # noqa: PLC0415

    effects = tuple(parse_effect(text) for text in effect or ())
    if protection is not None:
        from biometric_exchange.evaluation.protection import evaluate_protection  # noqa: PLC0415

        console.print(f"[bold yellow]{SYNTHETIC_NOTICE}[/]")
        model = TemplateModel(effects=effects)
        evaluate_protection(protection, out, seed=seed, quick=quick, model=model, console=console)
        return
    config = EvaluationConfig(
        seed=seed,
        sizes=parse_sizes(sizes),
        template_model=TemplateModel(effects=effects),
        scenario=parse_scenario(scenario),
    )
    if quick:
        config = config.quickened()
    config = replace(
        config,
        max_searched=config.max_searched if max_searched is None else max_searched,
        replicates=config.replicates if replicates is None else replicates,
    )
    console.print(f"[bold yellow]{SYNTHETIC_NOTICE}[/]")
    started = time.perf_counter()
    with steps("evaluating") as progress:
        evaluation = run_evaluation(config, progress.update)
        progress.update("writing report.json and figures")
        report = write_report(evaluation, out)
    print_summary(report, console)
    console.print(f"written to {out}/ in {time.perf_counter() - started:.1f} s")
