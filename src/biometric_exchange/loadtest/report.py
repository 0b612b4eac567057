"""The verdicts against the reference targets, and the report as plain text."""

from __future__ import annotations

from biometric_exchange.loadtest.config import (
    INSERT_BATCH,
    TARGET_BATCH_OVERHEAD,
    single_targets,
)
from biometric_exchange.loadtest.results import LoadReport, RunStats, Verdict


def verdicts(report: LoadReport) -> tuple[Verdict, ...]:
    """Each target of the reference implementation against the measured figures."""
    single = report.single
    calls_target, p99_target = single_targets(report.config.watchlist)
    audits = [run.audit for run in report.runs if run.audit is not None]
    paced = (
        f", {single.offered_per_s:g} calls/s offered" if single.offered_per_s is not None else ""
    )
    found = [
        Verdict(
            f"single-probe Identify >= {calls_target:.0f} calls/s at {single.clients} "
            f"clients{paced}",
            f"{single.calls_per_s:.1f} calls/s",
            single.calls_per_s >= calls_target,
        ),
        Verdict(
            f"single-probe p99 < {p99_target:.0f} ms{paced}",
            f"p99 {single.latency.p99_ms:.1f} ms",
            single.latency.p99_ms < p99_target,
        ),
        Verdict(
            "zero errors",
            ", ".join(f"{run.name}: {sum(run.errors.values())}" for run in report.runs),
            all(not run.errors for run in report.runs),
        ),
        Verdict(
            "both audit logs account for every call",
            ", ".join(
                f"{run.name}: {'complete' if run.audit.complete else 'INCOMPLETE'}"
                for run in report.runs
                if run.audit is not None
            ),
            bool(audits) and all(audit.complete for audit in audits),
        ),
    ]
    overhead = report.batch_overhead
    if overhead is not None and report.batch is not None:
        found.append(
            Verdict(
                f"batches of {report.batch.probes_per_call} probes cost at most "
                f"{TARGET_BATCH_OVERHEAD:.0%} more than the matching alone",
                f"{overhead:+.0%} (wall time per call, {report.batch.clients} clients, "
                "against the cheapest search alone)",
                overhead <= TARGET_BATCH_OVERHEAD,
            )
        )
    return tuple(found)


def _run_lines(run: RunStats) -> list[str]:
    latency = run.latency
    cpu = run.holder_cpu_per_call_ms
    paced = (
        f" paced at {run.offered_per_s:g} calls/s offered (latency from each call's due time)"
        if run.offered_per_s is not None
        else ""
    )
    lines = [
        f"{run.name}: {run.calls} calls x {run.probes_per_call} probe(s), {run.clients} "
        f"client(s){paced}, {run.elapsed_s:.1f} s: {run.calls_per_s:.1f} calls/s "
        f"({run.probes_per_s:,.0f} probes/s); latency p50 {latency.p50_ms:.1f} / "
        f"p95 {latency.p95_ms:.1f} / p99 {latency.p99_ms:.1f} / max {latency.max_ms:.1f} ms; "
        f"errors {run.errors or 0}; probes hit {run.hits}",
        "  CPU per call: holder "
        + (f"{cpu:.1f} ms" if cpu is not None else "unknown")
        + f", driver {1000.0 * run.driver_cpu_s / max(1, run.calls):.1f} ms; wall time per "
        f"call {run.cost_per_call_ms:.1f} ms; load average {run.load_average[0]:.1f} before, "
        f"{run.load_average[1]:.1f} after",
    ]
    if run.audit is not None:
        audit = run.audit
        lines.append(
            f"  audit: caller identify.sent {audit.caller_sent} / outcomes "
            f"{audit.caller_outcomes} (accepted {audit.caller_answered}) for {audit.calls} "
            f"calls; holder identify.received accepted {audit.holder_accepted}, rejected "
            f"{audit.holder_rejected}, reply_sent {audit.holder_replied}; answered but missing "
            f"at the holder {audit.answered_missing_at_holder}; answered after the caller "
            f"gave up {audit.holder_after_caller_gave_up}; never reached the holder "
            f"{audit.never_reached_holder}: " + ("complete" if audit.complete else "INCOMPLETE")
        )
    return lines


def describe(report: LoadReport) -> list[str]:
    """The report as plain text lines."""
    config = report.config
    blas = config.holder_blas_threads
    lines = [
        f"{report.cpu_count} CPUs; holder BLAS threads "
        + (str(blas) if blas is not None else "inherited")
        + f"; holder [matching] {config.holder_matching() or 'defaults'}"
        + f"; watchlist {config.watchlist} synthetic entries generated in "
        f"{report.generate_s:.1f} s, added (RecordStore.add_watchlist, {INSERT_BATCH} a "
        f"transaction) in {report.insert_s:.1f} s "
        f"({config.watchlist / max(report.insert_s, 1e-9):,.0f} entries/s); holder serving "
        f"after {report.start_s:.1f} s",
    ]
    for run in report.runs:
        lines.extend(_run_lines(run))
    if report.holder_passes is not None:
        searches, passes = report.holder_passes
        lines.append(
            f"holder: {searches} watchlist searches in {passes} passes "
            f"({searches / max(passes, 1):.1f} a pass, warm-up calls included)"
        )
    single = report.matching_single
    lines.append(
        f"matching alone (the holder's kind of gallery, fresh process, {config.watchlist} "
        "entries): 1 probe "
        f"p50 {single.serial_p50_ms:.2f} ms; {single.concurrent_cost_ms:.2f} ms per search "
        f"with {single.concurrent_threads} threads"
    )
    if report.matching_batch is not None:
        batch = report.matching_batch
        lines.append(
            f"matching alone, {batch.probes} probes: p50 {batch.serial_p50_ms:.1f} ms one at a "
            f"time; {batch.concurrent_cost_ms:.1f} ms per search with "
            f"{batch.concurrent_threads} threads; cheapest {batch.best_cost_ms:.1f} ms"
        )
    if report.batch_overhead is not None:
        lines.append(
            "batch overhead (wall time per batch Identify, all clients busy / cheapest search "
            f"alone - 1): {report.batch_overhead:+.0%}"
        )
    if report.serial_batch_overhead is not None:
        lines.append(
            "batch overhead (one call at a time: p50 latency / search p50 - 1): "
            f"{report.serial_batch_overhead:+.0%}"
        )
    for verdict in report.verdicts:
        lines.append(
            f"target {verdict.target}: {verdict.measured} -> {'met' if verdict.met else 'MISSED'}"
        )
    return lines
