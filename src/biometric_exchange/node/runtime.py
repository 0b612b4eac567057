"""A node opened from its folder: configuration, keys, agreement, store."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from biometric_exchange.agreement import AgreementDocument, Party
from biometric_exchange.agreement import load as load_agreement
from biometric_exchange.agreement.policy import Policy
from biometric_exchange.agreement.terms import Purpose
from biometric_exchange.alerts.rules import RuleContext
from biometric_exchange.config import (
    AGREEMENT_FILENAME,
    AGREEMENTS_DIRNAME,
    DATABASE_PATH,
    NodeConfig,
    load_config,
)
from biometric_exchange.crypto import pki
from biometric_exchange.crypto.envelope import EnvelopeContext
from biometric_exchange.crypto.keyring import DataKeyring
from biometric_exchange.crypto.keys import NodeKeys, encode_public, keys_dir, load_keys
from biometric_exchange.exceptions import ConfigError, PeerNotAuthorized
from biometric_exchange.node.watchlist_index import WatchlistIndex
from biometric_exchange.store.alerts import AlertStore
from biometric_exchange.store.audit import AuditLog
from biometric_exchange.store.database import Database
from biometric_exchange.store.hits import HitReferences
from biometric_exchange.store.outbox import Outbox
from biometric_exchange.store.quotas import Quotas
from biometric_exchange.store.records import RecordStore
from biometric_exchange.store.replay import SqliteReplayGuard

Clock = Callable[[], int]
"""Milliseconds since the Unix epoch."""


def system_clock() -> int:
    return time.time_ns() // 1_000_000


def _check_own_pins(keys: NodeKeys, party: Party, node_dir: Path) -> None:
    ca = pki.load_certificate(keys.ca_certificate_pem)
    if pki.fingerprint(ca) != party.ca_fingerprint:
        raise ConfigError(
            f"{node_dir}: keys/ca.crt is not the CA the agreement pins for {party.code}"
        )
    if encode_public(keys.signing_public) != party.signing_key:
        raise ConfigError(
            f"{node_dir}: keys/signing.key is not the key the agreement pins for {party.code}"
        )
    if encode_public(keys.kex_public) != party.kex_key:
        raise ConfigError(
            f"{node_dir}: keys/kex.key is not the key the agreement pins for {party.code}"
        )
    tls = pki.load_certificate(keys.tls_certificate_pem)
    if not pki.is_issued_by(tls, ca):
        raise ConfigError(f"{node_dir}: keys/tls.crt was not issued by keys/ca.crt")


def agreement_files(node_dir: Path) -> list[Path]:
    """The agreements a node holds: ``agreement.toml`` and ``agreements/*.toml``."""
    first = node_dir / AGREEMENT_FILENAME
    more = sorted((node_dir / AGREEMENTS_DIRNAME).glob("*.toml"))
    return ([first] if first.is_file() else []) + more


def load_agreements(node_dir: Path, country: str) -> dict[str, AgreementDocument]:
    """Every agreement of the node, by partner code: one per partner, each naming us."""
    paths = agreement_files(node_dir)
    if not paths:
        raise ConfigError(
            f"{node_dir}: no agreement ({AGREEMENT_FILENAME} or {AGREEMENTS_DIRNAME}/*.toml)"
        )
    by_partner: dict[str, AgreementDocument] = {}
    for path in paths:
        document = load_agreement(path)
        if country not in {party.code for party in document.parties}:
            raise ConfigError(f"{path}: {country} is not a party to agreement {document.id}")
        partner = document.partner_of(country).code
        if partner in by_partner:
            raise ConfigError(
                f"{path}: a second agreement with {partner} "
                f"(already {by_partner[partner].id}); keep one per partner"
            )
        by_partner[partner] = document
    return by_partner


@dataclass
class Node:
    """Everything one country's node needs, opened once per process.

    A node may hold agreements with several partners. ``agreement`` and
    ``policy`` are those of the partner this view is bound to (the first
    partner for a freshly opened node); ``links()`` gives one view per
    partner. Views share the database and every store.
    """

    node_dir: Path
    config: NodeConfig
    keys: NodeKeys
    agreement: AgreementDocument
    database: Database
    records: RecordStore
    alerts: AlertStore
    audit: AuditLog
    outbox: Outbox
    hit_references: HitReferences
    replay_guard: SqliteReplayGuard
    quotas: Quotas
    policy: Policy
    clock: Clock
    policies: Mapping[str, Policy] = dataclasses.field(default_factory=dict)
    """Every agreement's policy, by partner code (``policy`` is one of them)."""

    @property
    def country(self) -> str:
        return self.config.node.country

    @property
    def partner_codes(self) -> list[str]:
        return list(self.policies) or [self.partner.code]

    @property
    def partner(self) -> Party:
        return self.agreement.partner_of(self.country)

    def links(self) -> list[Node]:
        """This node bound to each partner it holds an agreement with (file order)."""
        return [self.link(code) for code in self.partner_codes]

    def link(self, partner: str) -> Node:
        """This node bound to ``partner``'s agreement; refused when we hold none with them."""
        if partner == self.partner.code:
            return self
        policy = self.policies.get(partner)
        if policy is None:
            raise PeerNotAuthorized(f"no agreement with {partner}")
        return dataclasses.replace(self, agreement=policy.document, policy=policy)

    def purpose_for(self, partner: str) -> Purpose:
        """The purpose we state to ``partner`` (node.toml, per partner where set)."""
        return self.config.exchange.purpose_for(partner)

    def envelope_context(self) -> EnvelopeContext:
        partner = self.partner
        return EnvelopeContext(
            agreement_id=self.agreement.id,
            agreement_hash=self.policy.agreement_hash,
            own_party=self.country,
            partner_party=partner.code,
            own_signing_key=self.keys.signing_key,
            own_kex_key=self.keys.kex_key,
            partner_signing_public=partner.signing_public,
            partner_kex_public=partner.kex_public,
        )

    def rule_context(self) -> RuleContext:
        """Our own decisions' evidence: agreement, our purpose, our threshold."""
        return RuleContext(
            self.agreement.id,
            self.purpose_for(self.partner.code).value,
            self.config.matching.threshold,
        )

    def today(self) -> dt.date:
        return dt.datetime.fromtimestamp(self.clock() / 1000, tz=dt.UTC).date()

    def watchlist_index(self) -> WatchlistIndex:
        """The watchlist gallery, kept as a sealed snapshot beside the database."""
        return WatchlistIndex(
            self.records,
            cache_dir=self.database.path.parent,
            data_key=self.current_data_key,
            today=self.today,
        )

    def current_data_key(self) -> bytes:
        return DataKeyring(keys_dir(self.node_dir)).current()[1]

    @classmethod
    def open(cls, node_dir: Path, *, clock: Clock = system_clock) -> Node:
        """Open a node folder, checking its keys against the agreement's pins."""
        config = load_config(node_dir)
        keys = load_keys(node_dir)
        agreements = load_agreements(node_dir, config.node.country)
        for partner, document in agreements.items():
            _check_own_pins(keys, document.party(config.node.country), node_dir)
            purpose = config.exchange.purpose_for(partner)
            if purpose not in document.agreement.purposes:
                raise ConfigError(
                    f"{node_dir}/node.toml: exchange purpose {purpose.value!r} for {partner} "
                    f"is not a purpose agreement {document.id} allows"
                )
        policies = {partner: Policy(document) for partner, document in agreements.items()}
        first = next(iter(policies.values()))
        database = Database(node_dir / DATABASE_PATH)
        Outbox(database).assign_unaddressed(next(iter(policies)))
        return cls(
            node_dir=node_dir,
            config=config,
            keys=keys,
            agreement=first.document,
            database=database,
            records=RecordStore(database, DataKeyring(keys_dir(node_dir))),
            alerts=AlertStore(database),
            audit=AuditLog(database),
            outbox=Outbox(database, clock),
            hit_references=HitReferences(database),
            replay_guard=SqliteReplayGuard(database),
            quotas=Quotas(database),
            policy=first,
            clock=clock,
            policies=policies,
        )
