"""Matching engine vs FAISS IndexFlatL2 vs scikit-learn brute force, one process.

    pip install -e '.[bench]'
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/match.py [--quick] [--json PATH]

The code lives in ``biometric_exchange.bench.matching`` (also ``bx bench match``).
"""

from __future__ import annotations

import sys

from biometric_exchange.bench.matching import blas_warning, main

if __name__ == "__main__":
    warning = blas_warning()
    if warning:
        print(warning, file=sys.stderr)
    sys.exit(main())
