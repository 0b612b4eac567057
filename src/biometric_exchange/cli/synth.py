"""``bx synth``: synthetic data for the nodes, populations, and the template calibration."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from biometric_exchange import SYNTHETIC_NOTICE
from biometric_exchange.cli.common import console, reports_errors
from biometric_exchange.cli.faces import faces_app
from biometric_exchange.cli.progress import steps
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.synthetic import build_demo_dataset
from biometric_exchange.synthetic.calibration import (
    DLIB_LFW_ACCURACY,
    PERCENTILES,
    TOLERANCE,
    CalibrationReport,
    calibrate,
)
from biometric_exchange.synthetic.files import write_dataset
from biometric_exchange.synthetic.nodefiles import export_node_files
from biometric_exchange.synthetic.population import (
    DEFAULT_START,
    PopulationSpec,
    generate_population,
)
from biometric_exchange.synthetic.templates import MINORS_EFFECT, TemplateModel, parse_effect

app = typer.Typer(help="Generate synthetic people, templates and watchlists.")
app.add_typer(faces_app, name="faces")

MinorsEffect = Annotated[
    bool,
    typer.Option(
        "--minors-effect",
        help="Model the real model's weakness on children (noisier captures, "
        f"latents closer together: noise x{MINORS_EFFECT.noise_multiplier}, "
        f"identity x{MINORS_EFFECT.identity_multiplier})",
    ),
]
Effects = Annotated[
    list[str] | None,
    typer.Option(
        "--effect",
        help="A group the model does worse on, NAME:SELECTOR:NOISE:IDENTITY, e.g. "
        "horn:ERI,ETH,SOM:1.2:0.9 or teens:CHN@minor:1.1:0.8 (repeatable)",
        show_default=False,
    ),
]


def _model(minors_effect: bool, effects: list[str] | None) -> TemplateModel:
    chosen = [MINORS_EFFECT] if minors_effect else []
    chosen += [parse_effect(text) for text in effects or ()]
    return TemplateModel(effects=tuple(chosen))


@app.command("demo-data")
@reports_errors
def demo_data(
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder")] = Path(
        "synthetic_data"
    ),
    seed: Annotated[int, typer.Option(help="Random seed")] = 2017,
    encounters: Annotated[int, typer.Option(help="Encounters per country")] = 12,
    watchlist_size: Annotated[int, typer.Option(help="Watchlist entries per country")] = 20,
) -> None:
    """Watchlists and encounter files for Chile and Panama, with ground truth."""
    start = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    dataset = build_demo_dataset(
        seed,
        encounters_per_country=encounters,
        watchlist_size=watchlist_size,
        start=start - dt.timedelta(days=14),
    )
    counts = write_dataset(dataset, output)
    console.print(f"[bold yellow]{SYNTHETIC_NOTICE}[/]")
    for kind, count in counts.items():
        console.print(f"  {kind}: {count}")
    console.print(f"written to {output}/", markup=False)


@app.command("calibrate")
@reports_errors
def calibrate_command(
    pairs: Annotated[int, typer.Option(help="Genuine and impostor pairs per group")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed")] = 0,
    tolerance: Annotated[float, typer.Option(help="Match tolerance")] = TOLERANCE,
    minors_effect: MinorsEffect = False,
    effect: Effects = None,
) -> None:
    """Genuine/impostor distance statistics and pair accuracy, overall and per group."""
    model = _model(minors_effect, effect)
    report = calibrate(model, pairs=pairs, seed=seed, tolerance=tolerance)
    console.print(
        f"Template model: identity_scale={model.identity_scale}, "
        f"noise_scale={model.noise_scale}, noise_log_sigma={model.noise_log_sigma}, "
        f"effects: {', '.join(e.group.name for e in model.effects) or 'none'}; "
        f"seed {seed}, {pairs:,} genuine + {pairs:,} impostor pairs per group"
    )
    console.print(_distance_table(report))
    console.print(_rate_table(report))
    console.print(
        f"Reference: dlib_face_recognition_resnet_model_v1 reports "
        f"{DLIB_LFW_ACCURACY:.2%} on LFW at 0.6 (balanced pairs)."
    )


def _distance_table(report: CalibrationReport) -> Table:
    table = Table(title="Distances")
    for column in ("group", "pairs", "mean", *(f"p{q}" for q in PERCENTILES)):
        table.add_column(column, justify="left" if column == "group" else "right")
    for group in report.groups:
        for kind, stats in (("genuine", group.genuine), ("impostor", group.impostor)):
            table.add_row(
                f"{group.name} {kind}",
                f"{stats.count:,}",
                f"{stats.mean:.3f}",
                *(f"{value:.3f}" for _, value in stats.percentiles),
            )
    return table


def _rate_table(report: CalibrationReport) -> Table:
    table = Table(title=f"At tolerance {report.tolerance}")
    for column in ("group", "FNMR", "FMR", "pair accuracy"):
        table.add_column(column, justify="left" if column == "group" else "right")
    for group in report.groups:
        table.add_row(
            group.name,
            f"{group.false_non_match_rate:.3%}",
            f"{group.false_match_rate:.3%}",
            f"{group.accuracy:.2%}",
        )
    return table


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(f"--start: expected a date like 2023-01-01, got {text!r}") from exc


@app.command("population")
@reports_errors
def population(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Output folder", show_default=False)
    ],
    size: Annotated[int, typer.Option(help="Identities to generate")] = 100_000,
    seed: Annotated[int, typer.Option(help="Random seed")] = 2017,
    start: Annotated[
        str, typer.Option(help="First day of the year in which journeys start")
    ] = DEFAULT_START.isoformat(),
    minors_effect: MinorsEffect = False,
    effect: Effects = None,
    node_files: Annotated[
        int,
        typer.Option(
            "--node-files",
            help="Also export node-format files (OUTPUT/node_files) with up to this many "
            "encounters per country, ground-truth cases first; 0: none",
        ),
    ] = 0,
) -> None:
    """A synthetic population on the corridor: JSON Lines + .npy, documented in
    OUTPUT/FORMAT.md. Progress goes to stderr."""
    out = output
    spec = PopulationSpec(
        size=size, seed=seed, start=_date(start), model=_model(minors_effect, effect)
    )
    node_dir = out / "node_files"
    if node_files and node_dir.exists() and any(node_dir.iterdir()):
        raise InvalidInput(
            f"{node_dir}: the folder is not empty; remove it or choose another --output"
        )
    console.print(f"[bold yellow]{SYNTHETIC_NOTICE}[/]")
    began = time.perf_counter()
    with steps("identities", size) as progress:
        counts = generate_population(spec, out, progress=lambda done: progress.update(done=done))
    elapsed = time.perf_counter() - began
    if node_files:
        counts |= {
            f"node_files {kind}": n
            for kind, n in export_node_files(out, node_dir, per_country=node_files).items()
        }
    table = Table("records", "count")
    for kind, count in counts.items():
        table.add_row(kind, f"{count:,}")
    console.print(table)
    console.print(f"population written to {out}/ in {elapsed:.1f} s (format: {out}/FORMAT.md)")
