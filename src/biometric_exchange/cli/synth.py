"""``bx synth``: synthetic data for the nodes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from biometric_exchange import SYNTHETIC_NOTICE
from biometric_exchange.cli.common import console, reports_errors
from biometric_exchange.synthetic import build_demo_dataset
from biometric_exchange.synthetic.files import write_dataset

app = typer.Typer(help="Generate synthetic people, templates and watchlists.")


@app.command("demo-data")
@reports_errors
def demo_data(
    out: Annotated[Path, typer.Option(help="Output folder")] = Path("synthetic_data"),
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
    counts = write_dataset(dataset, out)
    console.print(f"[bold yellow]{SYNTHETIC_NOTICE}[/]")
    for kind, count in counts.items():
        console.print(f"  {kind}: {count}")
    console.print(f"written to {out}/")
