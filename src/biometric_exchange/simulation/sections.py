"""The sections of report.md, each rendered from metrics.json's numbers."""

from __future__ import annotations

from typing import Any

NONE = "-"
KIND_ORDER = (
    "WATCHLIST_HIT",
    "SUBJECT_ENCOUNTERED_BY_PARTNER",
    "PROTECTION",
    "IDENTITY_CONFLICT",
    "MOVEMENT",
)


def _pct(value: float | None) -> str:
    return NONE if value is None else f"{value:.1%}"


def _pct_ci(value: float | None, interval: list[float] | None) -> str:
    """A rate with its 95 % interval: ``45.5% (30.2-61.7%)``."""
    if value is None or interval is None:
        return _pct(value)
    return f"{value:.1%} ({interval[0]:.1%}\N{EN DASH}{interval[1]:.1%})"


def _causes(kind: dict[str, Any]) -> str:
    causes = kind.get("false_positives_by_cause") or {}
    return "; ".join(f"{cause}: {n}" for cause, n in causes.items()) or NONE


def _rate(value: float | None) -> str:
    if value is None:
        return NONE
    return f"{value:.2e}" if 0 < value < 0.001 else f"{value:.2%}"


def counts(values: dict[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in values.items())


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return [*lines, ""]


def alerts(metrics: dict[str, Any]) -> list[str]:
    rows = []
    for kind in KIND_ORDER:
        k = metrics["alerts"][kind]
        missed = "; ".join(f"{reason}: {n}" for reason, n in k["missed_by_reason"].items()) or NONE
        rows.append(
            [
                kind,
                k["alerts"],
                f"{k['true_positives']} / {k['false_positives']}",
                _pct_ci(k["precision"], k.get("precision_ci95")),
                _causes(k),
                f"{k['caught']} of {k['cases']}",
                _pct_ci(k["recall"], k.get("recall_ci95")),
                _pct_ci(k["recall_eligible"], k.get("recall_eligible_ci95")),
                missed,
            ]
        )
    lines = [
        "## What the exchange caught and missed",
        "",
        "Evidence items are counted against the truth: a hit is right when the encounter is",
        "the listed person; a conflict or movement when both encounters are one person.",
        "*Eligible*: cases the agreement lets the exchange see (scope, protected categories).",
        "Rates carry 95 % Wilson intervals; wrong evidence is split by what made the two",
        "faces alike (relatives, twins, look-alikes of the world's resemblance model).",
        "",
    ]
    lines += _table(
        [
            "alert kind",
            "alerts",
            "evidence right / wrong",
            "precision (95 % CI)",
            "wrong, by cause",
            "cases caught",
            "recall",
            "recall (eligible)",
            "not caught, by reason",
        ],
        rows,
    )
    latency = metrics["latency"]
    rows = [
        [
            kind,
            v["days"]["p50"],
            v["days"]["max"],
            v["seconds"]["p50"],
            v["seconds"]["p95"],
        ]
        for kind, v in latency.items()
    ]
    lines += [
        "Time from encounter to alert: simulated days (the alert's day minus the encounter's),",
        "and processing seconds (the alert's creation minus the enrolment's commit).",
        "",
    ]
    lines += _table(["alert kind", "days p50", "days max", "seconds p50", "seconds p95"], rows)
    return lines


def identification(metrics: dict[str, Any]) -> list[str]:
    ident, det = metrics["identification"], metrics["det"]
    rows = [
        [
            name,
            ident[key]["mated_searches"],
            ident[key]["non_mated_searches"],
            _rate(ident[key]["fnir"]),
            _rate(ident[key]["fpir"]),
        ]
        for name, key in (
            ("local watchlist", "local"),
            ("partner's (step 1)", "step1"),
            ("all", "all"),
        )
    ]
    lines = [
        f"## FPIR and FNIR at the operating threshold ({ident['threshold']})",
        "",
        "Measured on the run's own watchlist searches:",
        "",
    ]
    lines += _table(["searches", "mated", "non-mated", "FNIR", "FPIR"], rows)
    if "fmr" in det:
        lines += [_modelled(det), ""]
    return lines


def _modelled(det: dict[str, Any]) -> str:
    sample = (
        f"Modelled from {det['genuine_pairs']:,} genuine and {det['impostor_pairs']:,} impostor "
        f"pairs of the run's template model: FNMR {_rate(det['fnmr'])} at {det['threshold']}"
    )
    if det["fmr"] > 0:
        return (
            f"{sample}, FMR {det['fmr']:.1e}; FPIR = 1 - (1 - FMR)^N = "
            f"{_rate(det['fpir_modelled'])} for a watchlist of N = {det['gallery_size']:,}."
        )
    floor = 1 / det["impostor_pairs"]
    return (
        f"{sample}; no sampled impostor pair matched (FMR < {floor:.1e}), so FPIR < "
        f"{min(1.0, det['gallery_size'] * floor):.1e} for a watchlist of N = "
        f"{det['gallery_size']:,}: the measured rates above see further into the tail."
    )


def nodes_phrase(metrics: dict[str, Any]) -> str:
    """ "both nodes", or "all 3 nodes"."""
    count = len(metrics["scenario"]["nodes"]["countries"])
    return "both nodes" if count == 2 else f"all {count} nodes"


def workload(metrics: dict[str, Any]) -> list[str]:
    w = metrics["workload"]
    by_node = ", ".join(f"{k} {sum(v)}" for k, v in w["false_alerts_by_node"].items()) or "none"
    return [
        "## Operator workload",
        "",
        f"New alerts per day ({nodes_phrase(metrics)}): {w['mean_new_alerts_per_day']} on average, "
        f"{max(w['new_alerts'], default=0)} at most; false alerts per day: "
        f"{w['mean_false_alerts_per_day']} on average "
        f"({sum(w['false_alerts'])} in all: {by_node}).",
        "",
    ]


def surge(metrics: dict[str, Any]) -> list[str]:
    flagged = metrics["surge"]
    injected = flagged["injected"]
    lines = ["## Flow surges", ""]
    if injected is None:
        lines += ["No surge was injected: every FLOW_SURGE alert is a false surge.", ""]
    else:
        lines += [
            f"Injected: {injected['arrivals']:,} extra {injected['nationality']} arrivals at "
            f"{injected['border_point']} from day {injected['start_day']} "
            f"({injected['start_date']}), "
            f"about {injected['extra_per_day']:g} a day.",
            "",
        ]
    rows = [
        [
            node,
            "yes" if v["detected"] else "no",
            NONE if v["detection_delay_days"] is None else v["detection_delay_days"],
            v["false_surge_alerts"],
            v["false_surge_days"],
            ", ".join(v["false_series"]) or NONE,
        ]
        for node, v in flagged["by_node"].items()
    ]
    lines += _table(
        [
            "node",
            "surge detected",
            "delay (days)",
            "false surge alerts",
            "false surge days",
            "false series",
        ],
        rows,
    )
    return lines


def exchange(metrics: dict[str, Any]) -> list[str]:
    ex = metrics["exchange"]
    rows = [
        [
            node,
            v["probes_sent"],
            v["identify_calls_sent"],
            v["probes_with_hits"],
            v["not_sent_out_of_scope"],
            v["step2_requests_sent"],
            v["aggregate_exchanges"],
            max(v["probes_sent_per_day"], default=0),
        ]
        for node, v in ex["by_node"].items()
    ]
    lines = ["## Exchange volume", ""]
    lines += _table(
        [
            "node",
            "probes sent",
            "Identify calls",
            "probes with hits",
            "not sent (scope)",
            "step-2 requests",
            "aggregate exchanges",
            "busiest day (probes)",
        ],
        rows,
    )
    sizes = [
        [kind, v["calls"], f"{v['bytes_sent']:,}", f"{v['bytes_received']:,}"]
        for kind, v in ex["bytes"].items()
    ]
    note = (
        ""
        if ex["identify_bytes_measured"]
        else " (over gRPC the node processes make the Identify calls; only the calls this "
        "runner made are measured here)"
    )
    several = len(metrics["scenario"]["nodes"]["countries"]) > 2
    quota = (
        "daily probe quotas per link below"
        if several
        else f"daily probe quota {ex['daily_probe_quota']:,}"
    )
    lines += [f"Envelope bytes{note}; {quota}:", ""]
    lines += _table(["call", "calls", "bytes sent", "bytes received"], sizes)
    return lines


NOT_MEASURED = "not measured (over gRPC the node processes make these calls)"


def disclosure(metrics: dict[str, Any]) -> list[str]:
    d = metrics["disclosure"]
    lines = [
        "## Disclosure accounting",
        "",
        "What crossed, read from the messages themselves: each sealed request and reply",
        "opened as its recipient would, each field's class from its `(disclosure)` option in",
        "exchange.proto (biometric, personal, protected, watchlist; none: nothing about a",
        "person). A repeated field counts each element, a map each entry.",
        "",
    ]
    lines += _table(["step", "field", "class", "times crossed"], _field_rows(d["steps"]))
    lines += [
        "About people not listed: the parts of each step about a traveller on no watchlist",
        "of the holder (a probe) or who was not the listed person (a hit, a sighting, a",
        "step-2 request or reply: a false match), and the values of each class they carried",
        "(steps that carried no field about a person left out).",
        "",
    ]
    lines += _table(
        ["step", "parts", "biometric", "personal", "protected", "watchlist"],
        _about_rows(d["steps"]),
    )
    return lines + _disclosure_notes(metrics)


def _field_rows(steps: list[dict[str, Any]]) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for step in steps:
        if not step["measured"]:
            rows.append([step["step"], NOT_MEASURED, NONE, NONE])
            continue
        rows += [[step["step"], f["path"], f["class"], f"{f['times']:,}"] for f in step["fields"]]
    return rows


def _about_rows(steps: list[dict[str, Any]]) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for step in steps:
        about = step["about_people_not_listed"]
        if about["items"] == 0 and all(f["class"] == "none" for f in step["fields"]):
            continue
        if about["items"] is None:
            rows.append([step["step"], NOT_MEASURED, NONE, NONE, NONE, NONE])
            continue
        classes = about["fields"]
        rows.append(
            [
                step["step"],
                f"{about['items']:,}",
                *(
                    f"**{classes[c]:,}**" if c in ("personal", "protected") else f"{classes[c]:,}"
                    for c in ("biometric", "personal", "protected", "watchlist")
                ),
            ]
        )
    return rows


def _step(steps: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    return next((s for s in steps if s["step"] == name and s["measured"]), None)


def _disclosure_notes(metrics: dict[str, Any]) -> list[str]:
    d = metrics["disclosure"]
    p, r, s2, seen = d["step1_probes"], d["step1_replies"], d["step2"], d["sightings"]
    fields = ", ".join(f"{k} x{v}" for k, v in s2["fields_disclosed"].items()) or "none"
    purposes = "; ".join(
        f"{purpose}: {', '.join(f'{k} x{v}' for k, v in counts.items())}"
        for purpose, counts in s2["fields_by_purpose"].items()
    )
    decisions = (
        ", ".join(f"{k} {v}" for k, v in s2["requests_by_holder_decision"].items()) or "none"
    )
    probes = _step(d["steps"], "step 1 request")
    if probes is None:
        about = "what they carried was not measured (over gRPC the node processes send them)"
    else:
        sent = [f["path"].rpartition(".")[2] for f in probes["fields"] if ".probes." in f["path"]]
        c = probes["about_people_not_listed"]["fields"]
        about = (
            f"each carried {', '.join(sent)}; about those people crossed "
            f"{c['biometric']:,} templates (every traveller in scope is asked about, by design), "
            f"**{c['personal']}** personal and **{c['protected']}** protected fields"
        )
    if seen is None:
        sightings = "not measured (over gRPC the node processes report them)"
    else:
        sightings = (
            f"{seen['sightings']} (where and when the sender saw a hit's subject), "
            f"{seen['after_a_hit']} after a hit and {seen['not_after_a_hit']} otherwise; about "
            f"a false match, so a personal disclosure about someone not listed: "
            f"**{seen['about_false_matches']}** ({seen['personal_fields_about_false_matches']} "
            "personal fields)"
        )
    return [
        f"- **Step 1 probes** ({counts(p['by_purpose']) or 'none'}): {p['probes']:,} probes "
        f"about {p['people']:,} people; "
        f"{p['probes_about_people_on_no_watchlist_of_the_holder']:,} concerned people on no "
        f"watchlist of the holder; {about}.",
        f"- **Step 1 replies**: {r['hits']} hits, a watchlist category disclosed with "
        f"{r['categories_disclosed']}; about travellers who were not the listed person: "
        f"**{r['about_travellers_not_listed']}** (each a false match: {_what_leaks(metrics)} "
        "attached to the wrong traveller).",
        f"- **Sightings**: {sightings}.",
        f"- **Step 2**: requests by the holder's decision: {decisions}; refused by the requester "
        f"itself: {s2['refused_by_the_requester_itself']}. Fields disclosed: {fields}"
        + (f" ({purposes})" if purposes else "")
        + f"; watchlist subjects concerned: {s2['watchlist_subjects_concerned']}; disclosures "
        f"attached to travellers who were not the listed person: "
        f"**{s2['disclosures_about_travellers_not_listed']}** (a false match followed up "
        "discloses a listed person's details to the wrong case).",
        f"- **Aggregates**: {d['aggregates']['exchanges']} exchanges of daily counts (5 or more "
        f"only); classes of the fields that crossed: {_classes(d['aggregates'])}.",
        "",
    ]


def _classes(aggregates: dict[str, Any]) -> str:
    found = aggregates["classes_crossed"]
    return ", ".join(found) if found else "none crossed"


def _crossed(crossed: dict[str, Any]) -> str:
    """A link's values per class, e.g. ``1,267 / 4 / 0 (1,263 / 0 / 0)``."""
    by, about = crossed["by_class"], crossed["about_people_not_listed"]
    shown = ("biometric", "personal", "protected")
    text = " / ".join(f"{by[c]:,}" for c in shown)
    text += " (" + " / ".join(f"{about[c]:,}" for c in shown) + ")"
    return text if crossed["all_calls_measured"] else f"{text}, the runner's calls only"


def _arrow(name: str) -> str:
    return name.replace(">", " → ")


def _reasons(counts: dict[str, int]) -> str:
    return "; ".join(f"not sent ({reason}): {n:,}" for reason, n in counts.items()) or NONE


def links(metrics: dict[str, Any]) -> list[str]:
    """Each link under its own agreement: terms, what was sent and refused, the cases."""
    all_links = metrics["links"]
    lines = [
        "## Each link under its own agreement",
        "",
        "A link is one node asking one partner (PAN → MEX: Panama's encounters against",
        "Mexico's watchlist, under the Panama-Mexico agreement). What each agreement let",
        "through and what it refused, as the senders' outboxes and audit logs record it:",
        "",
    ]
    rows = []
    for name, v in all_links.items():
        terms = v["agreement"]
        outcomes = v["step2"]["requests_by_outcome"]
        rows.append(
            [
                _arrow(name),
                terms["terms"],
                terms["purpose"],
                f"{terms['population']}, age {terms['minimum_age']}+",
                terms["disclosure"],
                f"{v['probes_sent']:,} in {v['identify_calls']:,} calls",
                _reasons(v["not_sent_by_reason"]),
                f"{v['hits']} ({v['categories_disclosed']} with category)",
                _crossed(v["crossed"]),
                ", ".join(f"{k} {n}" for k, n in outcomes.items()) or NONE,
                f"{v['busiest_day']:,} / {terms['daily_probe_quota']:,}",
            ]
        )
    lines += _table(
        [
            "link",
            "terms",
            "purpose stated",
            "scope",
            "step-1 disclosure",
            "probes sent",
            "refused by the agreement",
            "hits",
            "biometric / personal / protected crossed (about people not listed)",
            "step-2 requests",
            "busiest day / daily quota",
        ],
        rows,
    )
    lines += [
        "The link's cases against the truth: the sender's encounters of people on the",
        "holder's watchlist (hits as the sender sees them, and the holder's side), and",
        "people met by both within the movement window (the holder's movement alert).",
        "*Eligible* is judged under that link's agreement.",
        "",
    ]
    rows = []
    for name, v in all_links.items():
        for side, label in (
            ("requester", "hit at the sender"),
            ("holder", "subject seen (holder)"),
            ("movement", "movement (holder)"),
        ):
            k = v["cases"][side]
            if not k["cases"] and not k["evidence"]:
                continue
            missed = "; ".join(f"{r}: {n}" for r, n in k["missed_by_reason"].items()) or NONE
            rows.append(
                [
                    _arrow(name),
                    label,
                    f"{k['true_positives']} / {k['false_positives']}",
                    f"{k['caught']} of {k['cases']}",
                    _pct(k["recall"]),
                    f"{k['eligible_cases']}",
                    _pct(k["recall_eligible"]),
                    missed,
                ]
            )
    lines += _table(
        [
            "link",
            "cases",
            "evidence right / wrong",
            "caught",
            "recall",
            "eligible",
            "recall (eligible)",
            "not caught, by reason",
        ],
        rows,
    )
    return lines


def _what_leaks(metrics: dict[str, Any]) -> str:
    """What a false step-1 hit attaches to the wrong traveller."""
    links = metrics.get("links", {}).values()
    if all(v["agreement"]["disclosure"] == "hit_and_category" for v in links):
        return "the holder's category"
    return "a hit reference, with the holder's category where the agreement discloses it,"


def sweep(metrics: dict[str, Any]) -> list[str]:
    rows = [
        [
            r["watchlist_size"],
            r["threshold"],
            r["missed_subjects"],
            r["watchlisted_people_met"],
            r["false_alerts_per_day"],
            _rate(r["fpir"]),
            _rate(r["fnir"]),
        ]
        for r in metrics["sweep"]["rows"]
    ]
    lines = [
        "## Threshold sweep",
        "",
        "The same travellers and watchlisted people at each threshold and watchlist size",
        "(filler entries added per country):",
        "",
    ]
    return lines + _table(
        [
            "watchlist size",
            "threshold",
            "missed people",
            "watchlisted people met",
            "false alerts / day",
            "FPIR",
            "FNIR",
        ],
        rows,
    )
