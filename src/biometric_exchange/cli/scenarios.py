"""Where ``bx simulate`` and ``bx evaluate --surge`` find scenarios by name, and the
names shell completion offers."""

from __future__ import annotations

from pathlib import Path

SCENARIOS = Path("simulations")
"""Where scenario names are looked up (from the current folder)."""
SHIPPED = Path(__file__).resolve().parents[3] / "simulations"
"""The scenarios of a source checkout, when run from elsewhere."""


def scenario_folder() -> Path:
    """``simulations/`` here, else the source checkout's."""
    return SCENARIOS if SCENARIOS.is_dir() or not SHIPPED.is_dir() else SHIPPED


def scenario_names(incomplete: str) -> list[str]:
    """Scenario names (``simulations/*.toml``) starting with ``incomplete``."""
    names = sorted(path.stem for path in scenario_folder().glob("*.toml"))
    return [name for name in names if name.startswith(incomplete)]
