"""Simulation runs the node page links to: ``<reports_dir>/<run>/report.md`` and its
plots (``bx simulate`` writes ``runs/<scenario>-<seed>/``). Only those files are
served, by name, from directly inside a run's folder."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SERVED = {".md": "text/plain; charset=utf-8", ".png": "image/png", ".json": "application/json"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
MAX_RUNS = 50


@dataclass(frozen=True)
class Run:
    name: str
    files: tuple[str, ...]


def find_reports(root: Path | None) -> list[Run]:
    """Runs under ``root`` holding a ``report.md``, newest first (none without a root)."""
    if root is None or not root.is_dir():
        return []
    runs = []
    folders = sorted(
        (p for p in root.iterdir() if p.is_dir() and (p / "report.md").is_file()),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for folder in folders[:MAX_RUNS]:
        files = sorted(
            p.name for p in folder.iterdir() if p.suffix in SERVED and _NAME.fullmatch(p.name)
        )
        runs.append(Run(folder.name, tuple(files)))
    return runs


def report_file(root: Path | None, run: str, name: str) -> tuple[Path, str] | None:
    """The file to serve and its media type, or None."""
    if root is None or not (_NAME.fullmatch(run) and _NAME.fullmatch(name)):
        return None
    media = SERVED.get(Path(name).suffix)
    path = (root / run / name).resolve()
    if media is None or not path.is_file() or path.parent.parent != root.resolve():
        return None
    return path, media
