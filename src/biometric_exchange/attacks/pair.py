"""The attacked pair's node folders: the shipped terms, or with another daily quota."""

from __future__ import annotations

from pathlib import Path

import tomli_w

from biometric_exchange import agreement
from biometric_exchange.workspace import TERMS_FILE, create_pair, init_agreement


def attack_pair(
    workdir: Path, *, probes_per_day: int | None = None, banded: bool = False
) -> tuple[Path, Path]:
    """Fresh Chile and Panama folders under ``workdir``, keyed and agreed under the
    shipped Chile-Panama terms (their daily probe quota set to ``probes_per_day``,
    step-1 confidence bands on with ``banded``)."""
    chile_dir, panama_dir = create_pair(workdir)
    if probes_per_day is not None or banded:
        terms = agreement.load_terms(TERMS_FILE)
        if probes_per_day is not None:
            terms["quotas"] = {**terms.get("quotas", {}), "probes_per_day": probes_per_day}
        if banded:
            terms["step1"] = {**terms.get("step1", {}), "confidence": "banded"}
        amended = workdir / "terms.toml"
        amended.write_text(tomli_w.dumps({"synthetic": True, "agreement": terms}), "utf-8")
        init_agreement(chile_dir, panama_dir, terms_file=amended)
    return chile_dir, panama_dir
