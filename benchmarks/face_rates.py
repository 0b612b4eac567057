"""Drawn faces through the real face_recognition model: genuine and impostor match rates.

    .venv/bin/python benchmarks/face_rates.py [--identities 200] [--captures 3] [--seed 2017]

Draws the identities (synthetic.faces), encodes every capture with the installed dlib
model (faces.encode_image; nothing downloaded) and prints, at face_recognition's 0.6
tolerance, the share of same-person pairs that match (goal at least 90 %) and of
different-person pairs that match (goal at most 5 %), with 95 % Wilson intervals,
and the wall time. SYNTHETIC DATA ONLY: the faces are drawings.
"""

from __future__ import annotations

import argparse
import time

from biometric_exchange.faces import encode_image
from biometric_exchange.synthetic.face_rates import drawn_face_rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--identities", type=int, default=200)
    parser.add_argument("--captures", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2017)
    args = parser.parse_args()
    start = time.perf_counter()
    rates = drawn_face_rates(
        encode_image, identities=args.identities, captures=args.captures, seed=args.seed
    )
    wall = time.perf_counter() - start
    print(f"{rates.identities} identities x {rates.captures} captures, seed {args.seed}")
    print(f"same person:      {rates.genuine.describe()}")
    print(f"different people: {rates.impostor.describe()}")
    print(f"at tolerance {rates.tolerance}; {wall:.0f} s wall")


if __name__ == "__main__":
    main()
