"""The ``bx`` command: every operator task of a node."""

from __future__ import annotations

import typer

from biometric_exchange.cli import (
    agreement,
    alerts,
    audit,
    bench,
    demo,
    details,
    evaluate,
    keys,
    loadtest,
    nist,
    node,
    records,
    simulate,
    status,
    synth,
)

app = typer.Typer(
    name="bx",
    help="biometric-exchange: bilateral biometric exchange and early warning "
    "(synthetic data only).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(keys.app, name="keys")
app.add_typer(bench.bench_app, name="bench")
app.add_typer(agreement.app, name="agreement")
app.add_typer(node.app, name="node")
app.add_typer(synth.app, name="synth")
app.add_typer(records.watchlist_app, name="watchlist")
app.add_typer(alerts.alerts_app, name="alerts")
app.add_typer(audit.audit_app, name="audit")
app.add_typer(audit.retention_app, name="retention")
app.add_typer(details.details_app, name="details")
app.add_typer(details.requests_app, name="requests")
app.add_typer(nist.export_app, name="export")
app.add_typer(nist.import_app, name="import")
app.command("enroll")(records.enroll)
app.command("status")(status.status)
app.command("demo")(demo.demo)
app.command("evaluate")(evaluate.evaluate)
app.command("loadtest")(loadtest.loadtest)
app.command("simulate")(simulate.simulate)
