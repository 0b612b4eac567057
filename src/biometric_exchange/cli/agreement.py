"""``bx agreement``: draft, sign, verify, install and show the agreement."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Group
from rich.table import Table

from biometric_exchange.agreement import AgreementDocument, Scope, draft, dumps, load, load_terms
from biometric_exchange.agreement.document import parse
from biometric_exchange.agreement.terms import Step1Mode, TemplateProtectionScheme
from biometric_exchange.cli.common import (
    EXIT_FAILED,
    NodeOption,
    PartnerNodeOption,
    console,
    fail,
    opened_node,
    reports_errors,
)
from biometric_exchange.cli.formats import Format, FormatOption, emit_rows
from biometric_exchange.cli.output import OutputFile, describe, notes_for, written
from biometric_exchange.config import load_config
from biometric_exchange.crypto.keys import encode_public, load_keys
from biometric_exchange.exceptions import AgreementMismatch, ConfigError, ExchangeError
from biometric_exchange.workspace import (
    TERMS_FILE,
    agreement_path,
    init_agreement,
    party_for,
    rotate_protection,
    write_agreement,
)

app = typer.Typer(help="Draft, sign, verify, install and show the bilateral agreement.")

AgreementFile = Annotated[Path, typer.Argument(help="Agreement TOML file", show_default=False)]


TermsOption = Annotated[
    Path, typer.Option("--terms", help="Terms file (the Chile-Panama terms by default)")
]


@app.command("init")
@reports_errors
def init(
    node: NodeOption,
    partner_node: PartnerNodeOption,
    scope: Annotated[Scope | None, typer.Option(help="Override the terms' scope")] = None,
    terms: TermsOption = TERMS_FILE,
    protection: Annotated[
        TemplateProtectionScheme | None,
        typer.Option(help="Protect exchanged templates with this scheme (epoch 1)"),
    ] = None,
    step1_mode: Annotated[
        Step1Mode | None,
        typer.Option("--step1-mode", help="Override the terms' step-1 mode (blind: docs/blind.md)"),
    ] = None,
) -> None:
    """Draft from the terms, sign with both nodes' keys, install in both: one-step setup."""
    first, second = node, partner_node
    document = init_agreement(
        first,
        second,
        scope=scope,
        terms_file=terms,
        protection=protection,
        step1_mode=step1_mode,
    )
    console.print(f"agreement {document.id} signed by both parties; hash {document.hash}")
    codes = [party.code for party in document.parties]
    console.print(
        f"installed as {agreement_path(first, codes[1])} and {agreement_path(second, codes[0])}"
    )


@app.command("rotate-protection")
@reports_errors
def rotate_protection_command(node: NodeOption, partner_node: PartnerNodeOption) -> None:
    """Move both nodes to the next template-protection epoch: a new agreement version,
    signed by both and installed in both. Running nodes load it at their next round."""
    document = rotate_protection(node, partner_node)
    protection = document.agreement.template_protection
    console.print(
        f"agreement {document.id} v{document.agreement.version}: template protection "
        f"{protection.scheme.value} now in epoch {protection.epoch}; hash {document.hash}"
    )
    console.print(
        "running nodes load it at their next round (bx node reload to confirm); probes "
        "protected under the old epoch no longer match, and a partner still on it is "
        "refused (FAILED_PRECONDITION)"
    )


@app.command("draft")
@reports_errors
def draft_command(
    node: NodeOption,
    partner_node: PartnerNodeOption,
    output: OutputFile,
    terms: TermsOption = TERMS_FILE,
) -> None:
    """An unsigned draft: the terms file plus both nodes' public keys and endpoints."""
    document = draft(
        (party_for(node), party_for(partner_node)),
        today=dt.datetime.now(dt.UTC).date(),
        terms=load_terms(terms),
        source=str(terms),
    )
    with written(output) as target:
        target.write_text(dumps(document), encoding="utf-8")
    notes_for(output).print(
        f"draft {document.id} written to {describe(output)}; "
        "each party signs it with `bx agreement sign`"
    )


@app.command("sign")
@reports_errors
def sign(file: AgreementFile, node: NodeOption) -> None:
    """Add this node's party signature to the file (its keys must be the pinned ones)."""
    document = parse(file)
    country = load_config(node).node.country
    party = document.party(country)
    keys = load_keys(node)
    if encode_public(keys.signing_public) != party.signing_key:
        raise ConfigError(
            f"{node}/keys/signing.key is not the key the agreement pins for {country}"
        )
    signed = document.signed_by(country, keys.signing_key)
    file.write_text(dumps(signed), encoding="utf-8")
    missing = [p.code for p in signed.parties if p.code not in signed.signatures]
    console.print(
        f"signed by {country}"
        + (f"; still to sign: {', '.join(missing)}" if missing else "; complete")
    )


@app.command("verify")
@reports_errors
def verify(
    file: AgreementFile,
    on: Annotated[str | None, typer.Option(help="Date to check validity on (YYYY-MM-DD)")] = None,
) -> None:
    """Check schema, both signatures and the validity window; exit 1 when not in force."""
    document = load(file)
    day = dt.date.fromisoformat(on) if on else dt.datetime.now(dt.UTC).date()
    console.print(
        f"agreement {document.id}: schema valid, signed by {', '.join(document.signatures)}"
    )
    console.print(f"hash {document.hash}")
    try:
        document.check_in_force(day)
    except AgreementMismatch as exc:
        raise fail(str(exc), code=EXIT_FAILED) from None
    console.print(f"in force on {day}")


@app.command("install")
@reports_errors
def install(file: AgreementFile, node: NodeOption) -> None:
    """Install a signed agreement after verifying it: as agreement.toml for the node's
    first partner, as agreements/<PARTNER>.toml for each further one."""
    document = load(file)
    country = load_config(node).node.country
    partner = document.partner_of(country).code
    target = agreement_path(node, partner)
    previous = target.read_bytes() if target.is_file() else None
    write_agreement(target, file.read_bytes())
    try:
        with opened_node(node):  # checks the node's keys against the pins
            pass
    except ExchangeError:
        if previous is None:
            target.unlink()
        else:
            write_agreement(target, previous)
        raise
    console.print(f"installed agreement {document.id} with {partner} on {node} as {target}")
    console.print("a running node loads it at its next round (bx node reload to confirm)")


@app.command("show")
@reports_errors
def show(node: NodeOption, fmt: FormatOption = Format.TABLE) -> None:
    """The terms of each agreement a node holds, as tables (or one row per term)."""
    with opened_node(node) as opened:
        documents = [link.agreement for link in opened.links()]
    rows = [
        {"agreement": document.id, "version": document.agreement.version, "term": t, "value": v}
        for document in documents
        for t, v in terms_rows(document)
    ]

    def tables() -> Group:
        return Group(*(terms_table(document) for document in documents))

    emit_rows(fmt, rows, tables, columns=("agreement", "version", "term", "value"))


def terms_table(document: AgreementDocument) -> Table:
    """The terms of ``document``, one per line."""
    terms = document.agreement
    table = Table(title=f"Agreement {document.id} v{terms.version} (synthetic)", show_header=False)
    table.add_column("term", style="bold")
    table.add_column("value", overflow="fold")
    for term, value in terms_rows(document):
        table.add_row(term, value)
    return table


def terms_rows(document: AgreementDocument) -> list[tuple[str, str]]:
    """(term, value) pairs of ``document``, in the order a reader wants them."""
    terms = document.agreement
    table = _Rows()
    table.add_row("title", terms.title)
    table.add_row("in force", f"{terms.effective_from} to {terms.effective_until}")
    table.add_row("purposes", ", ".join(terms.purposes))
    table.add_row("scope", f"{terms.scope.population}; minimum age {terms.scope.minimum_age}")
    step1 = terms.step1
    table.add_row(
        "step 1",
        f"{step1.mode}; {step1.disclosure}; up to {step1.max_candidates} candidates per probe, "
        f"{step1.max_probes_per_request} probes per request; references expire after "
        f"{step1.hit_reference_ttl_hours} h",
    )
    step2 = terms.step2
    table.add_row("step 2", f"{step2.approval} approval, service level {step2.sla_hours} h")
    for purpose, fields in step2.fields.items():
        table.add_row(f"  fields for {purpose}", ", ".join(fields))
    protection, quotas = terms.protection, terms.quotas
    table.add_row(
        "protected",
        f"{', '.join(protection.categories)}: only for {', '.join(protection.purposes)}",
    )
    table.add_row(
        "quotas per day",
        f"{quotas.probes_per_day} probes, {quotas.detail_requests_per_day} step-2 requests",
    )
    table.add_row(
        "retention",
        f"exchanged data {terms.retention.exchanged_data_days} days, "
        f"audit {terms.retention.audit_days} days",
    )
    table.add_row("revoked keys", ", ".join(k[:16] + "…" for k in terms.revoked_keys) or "none")
    for party in document.parties:
        table.add_row(
            f"party {party.code}",
            f"{party.node} at {party.endpoint}; CA {party.ca_fingerprint[:16]}…",
        )
    table.add_row("signatures", ", ".join(document.signatures) or "none")
    table.add_row("hash", document.hash)
    return table.rows


class _Rows:
    """Collects (term, value) pairs."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str]] = []

    def add_row(self, term: str, value: str) -> None:
        self.rows.append((term, value))
