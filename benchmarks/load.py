"""Load benchmark: the ``bx loadtest`` driver as a script.

    .venv/bin/python benchmarks/load.py --watchlist 100000 --calls 3000

Every option of ``bx loadtest --help`` applies. Loopback only, synthetic data only.
"""

from __future__ import annotations

import typer

from biometric_exchange.cli.loadtest import loadtest

if __name__ == "__main__":
    typer.run(loadtest)
