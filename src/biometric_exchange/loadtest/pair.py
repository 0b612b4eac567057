"""The pair a load run drives: built fresh, its agreement re-signed to fit the run."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from biometric_exchange import agreement
from biometric_exchange.config import AGREEMENT_FILENAME
from biometric_exchange.crypto.keys import load_keys
from biometric_exchange.loadtest.config import LoadConfig
from biometric_exchange.workspace import TERMS_FILE, create_pair, party_for


def amend_pair_agreement(
    first: Path,
    second: Path,
    change: Callable[[dict[str, Any]], None],
    *,
    terms_file: Path = TERMS_FILE,
) -> agreement.AgreementDocument:
    """Draft the agreement again from ``terms_file`` with ``change`` applied to its terms,
    have both parties sign it, and install it in both node folders."""
    terms = copy.deepcopy(agreement.load_terms(terms_file))
    change(terms)
    parties = (party_for(first), party_for(second))
    document = agreement.draft(
        parties,
        today=dt.datetime.now(dt.UTC).date(),
        terms=terms,
        source=f"{terms_file} (amended)",
    )
    for node_dir, party in zip((first, second), parties, strict=True):
        document = document.signed_by(party.code, load_keys(node_dir).signing_key)
    text = agreement.dumps(document)
    for node_dir in (first, second):
        (node_dir / AGREEMENT_FILENAME).write_text(text, encoding="utf-8")
    return document


def prepare_pair(
    config: LoadConfig, workdir: Path, *, store_url: str | None = None
) -> tuple[Path, Path]:
    """A fresh pair whose agreement admits the run: ``batch_size`` probes per request
    and every probe of the run within the day's quota; the holder's store on
    ``store_url`` when given."""
    chile_dir, panama_dir = create_pair(workdir)

    def fit_the_run(terms: dict[str, Any]) -> None:
        step1 = terms.setdefault("step1", {})
        step1["max_probes_per_request"] = max(
            int(step1.get("max_probes_per_request", 64)), config.batch_size
        )
        quotas = terms.setdefault("quotas", {})
        quotas["probes_per_day"] = max(
            int(quotas.get("probes_per_day", 10_000)), 2 * config.probes_needed
        )

    amend_pair_agreement(chile_dir, panama_dir, fit_the_run)
    _replays_allowed(chile_dir)
    _matching_settings(chile_dir, config.holder_matching())
    if store_url is not None:
        _store(chile_dir, store_url)
    return chile_dir, panama_dir


def _store(holder_dir: Path, url: str) -> None:
    """The holder's ``[store]``: its PostgreSQL database (made if a section is missing;
    an existing one, as a test run may write, has its url replaced)."""
    config = holder_dir / "node.toml"
    text = config.read_text(encoding="utf-8")
    if "[store]\n" in text:
        head, _, rest = text.partition("[store]\n")
        kept = "".join(line for line in rest.splitlines(True) if not line.startswith("url ="))
        text = f'{head}[store]\nurl = "{url}"\n{kept}'
    else:
        text += f'\n[store]\nurl = "{url}"\n'
    config.write_text(text, encoding="utf-8")


def _matching_settings(holder_dir: Path, settings: dict[str, int | float]) -> None:
    """The run's ``[matching]`` settings, in the holder's section (made if missing)."""
    if not settings:
        return
    config = holder_dir / "node.toml"
    text = config.read_text(encoding="utf-8")
    lines = "".join(f"{name} = {value}\n" for name, value in settings.items())
    if "[matching]\n" in text:
        text = text.replace("[matching]\n", "[matching]\n" + lines, 1)
    else:
        text += "\n[matching]\n" + lines
    config.write_text(text, encoding="utf-8")


def _replays_allowed(holder_dir: Path) -> None:
    """The run replays its pool of batch probes (each subject many times a day): the
    holder's per-entry hit cap and hold are lifted for it. Every probe is still
    screened (plausibility, near-duplicates): that cost is part of what is measured."""
    config = holder_dir / "node.toml"
    config.write_text(
        config.read_text(encoding="utf-8")
        + "\n[extraction]\nmax_hits_per_entry_per_day = 10000\nstrikes_before_hold = 10000\n",
        encoding="utf-8",
    )
