"""report.md for a bi-regional run: the measured comparison, then who could learn what."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from biometric_exchange import SYNTHETIC_NOTICE


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


ROWS = (
    ("encounters enrolled", "encounters"),
    ("member calls per encounter (all methods)", "member_calls_per_encounter"),
    ("Identify calls per encounter (member side)", "identify_calls_per_encounter"),
    ("messages on the wire per encounter (member and router hops)", "messages_per_encounter"),
    ("bytes per encounter, member side", "member_bytes_per_encounter"),
    ("bytes per encounter on the wire (both hops)", "wire_bytes_per_encounter"),
    ("Identify call, median ms (in-process)", "identify_ms_median"),
    ("Identify call, 95th percentile ms (in-process)", "identify_ms_p95"),
    ("exchange time for the run, s", "seconds"),
    ("hits on a partner's list found", "partner_hits"),
    ("... of the expected (synthetic truth)", "expected_partner_hits"),
    ("recall", "recall"),
    ("hits not in the truth", "unexpected_hits"),
    ("items still pending at the end", "pending_at_end"),
)


def write_report(metrics: dict[str, Any], folder: Path) -> Path:
    fed = metrics["federation"]
    runs = metrics["topologies"]
    names = [t for t in ("mesh", "router") if t in runs]
    conferences = fed["conferences"]
    rcm = ", ".join(c for c in fed["members"] if conferences[c] == "RCM")
    sacm = ", ".join(c for c in fed["members"] if conferences[c] == "SACM")
    lines = [
        f"# {metrics['scenario']}: mesh and router on one world",
        "",
        f"**{SYNTHETIC_NOTICE}**",
        "",
        f"Seed {metrics['seed']}, {metrics['days']} days, {metrics['migrants']:,} travellers, "
        f"threshold {metrics['threshold']}. Members ({len(fed['members'])}): SACM {sacm}; "
        f"RCM {rcm}.",
        "",
        "## The agreements",
        "",
        "| | mesh | router |",
        "|---|---|---|",
        f"| pairs of members | {fed['possible_pairs']} | {fed['possible_pairs']} |",
        f"| pairwise agreements signed (end-to-end keys and terms) | {fed['agreements']} | "
        f"{fed['agreements']} |",
        f"| signatures | {fed['signatures']} | {fed['signatures']} |",
        f"| router memberships (router pins the member's CA, member pins the router's) | 0 | "
        f"{fed['router_memberships']} |",
        f"| pairs without terms (refused) | {len(fed['pairs_without_terms'])} | "
        f"{len(fed['pairs_without_terms'])} |",
        f"| endpoints a member connects to (median) | {fed['partners_per_member_median']} | 1 |",
        "",
        "The terms are negotiated once: a multilateral baseline "
        f"({metrics['baseline']}) and {len(fed['bilateral_overrides'])} bilateral overrides "
        f"({', '.join(fed['bilateral_overrides']) or 'none'}). Every pair with terms still "
        "signs its own document in both topologies: it pins the two parties' envelope keys, "
        "which the router never holds.",
        "",
        "## The exchange",
        "",
        "| | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for label, key in ROWS:
        lines.append(f"| {label} | " + " | ".join(_cell(runs[n][key]) for n in names) + " |")
    same = metrics.get("same_hits")
    lines += [
        "",
        f"Same hits in both topologies: **{'yes' if same else 'no'}**.",
        "",
        "![calls, bytes and latency](exchange.png)",
        "",
        "![hits found against the truth](recall.png)",
        "",
    ]
    if "router" in runs:
        router = runs["router"]
        events = ", ".join(f"{k}: {v:,}" for k, v in sorted(router["router_audit"].items()))
        lines += [
            "## The router's audit chain",
            "",
            f"{router['router_chain_entries']:,} entries, chain verified ({events}). "
            f"Each records only: {', '.join(router['router_audit_fields'])}.",
            f"The router's keys: {', '.join(metrics['router_keys'])} (no signing or "
            "key-agreement key: it can open no envelope and sign none).",
            "",
        ]
    lines += _learning()
    path = folder / "report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _learning() -> list[str]:
    return [
        "## What each party could learn",
        "",
        "| party | mesh | router |",
        "|---|---|---|",
        "| the enrolling member | its own encounters; per partner hit/no-hit, an opaque "
        "reference and (where the terms disclose it) the category | the same |",
        "| a holding member | the probes sent to it (templates, under its agreement), "
        "which of them hit its list, the sender | the same; it cannot tell the sender's "
        "other partners |",
        "| the router | - | for each call: sender, recipient, method, agreement id, message "
        "id and type, time, sizes, the holder's status code; never a template, a hit or "
        "a category (sealed end to end) |",
        "",
        "## What one compromised party exposes",
        "",
        "| compromised | mesh | router |",
        "|---|---|---|",
        "| one member node | its own records and watchlist, the probes partners sent it, "
        "its agreements' terms | the same: the router adds nothing it can read |",
        "| the router | - | the metadata above (who asks whom, how often, how large); "
        "no template, name or result. It can drop or delay calls (a member's outbox "
        "retries), not forge one (envelopes are signed by the member) nor read one "
        "(sealed to the holder's key), nor send a pair without terms through a member "
        "(the holder checks its own agreement) |",
        "",
    ]
