"""Writing the demo dataset as files an operator feeds to ``bx``.

Layout under the output folder::

    watchlist_CHL.jsonl, watchlist_PAN.jsonl      one entry per line
    encounters_CHL/*.json, encounters_PAN/*.json  one encounter per file
    ground_truth.json                             who should hit what
    README.txt                                    the synthetic-data notice
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from biometric_exchange import SYNTHETIC_NOTICE
from biometric_exchange.recordfiles import encounter_to_dict, watchlist_entry_to_dict
from biometric_exchange.synthetic.dataset import DemoDataset


def write_dataset(dataset: DemoDataset, out: Path) -> dict[str, int]:
    """Write every file; return counts per kind."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "README.txt").write_text(SYNTHETIC_NOTICE + "\n", encoding="utf-8")
    counts: dict[str, int] = {}
    for country, entries in dataset.watchlists.items():
        lines = [json.dumps(watchlist_entry_to_dict(e)) for e in entries]
        (out / f"watchlist_{country}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        counts[f"watchlist_{country}"] = len(entries)
    for country, encounters in dataset.encounters.items():
        folder = out / f"encounters_{country}"
        folder.mkdir(exist_ok=True)
        for encounter in encounters:
            path = folder / f"{encounter.encounter_id}.json"
            path.write_text(json.dumps(encounter_to_dict(encounter), indent=1), encoding="utf-8")
        counts[f"encounters_{country}"] = len(encounters)
    truth = {
        "synthetic": True,
        "notice": SYNTHETIC_NOTICE,
        "cases": [dataclasses.asdict(case) for case in dataset.ground_truth],
    }
    (out / "ground_truth.json").write_text(json.dumps(truth, indent=1), encoding="utf-8")
    return counts
