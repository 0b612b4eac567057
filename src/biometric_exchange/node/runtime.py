"""A node opened from its folder: configuration, keys, agreement, store."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from biometric_exchange.agreement import AgreementDocument, Party
from biometric_exchange.agreement import load as load_agreement
from biometric_exchange.agreement.policy import Policy
from biometric_exchange.alerts.rules import RuleContext
from biometric_exchange.config import AGREEMENT_FILENAME, DATABASE_PATH, NodeConfig, load_config
from biometric_exchange.crypto import pki
from biometric_exchange.crypto.envelope import EnvelopeContext
from biometric_exchange.crypto.keyring import DataKeyring
from biometric_exchange.crypto.keys import NodeKeys, encode_public, keys_dir, load_keys
from biometric_exchange.exceptions import ConfigError
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


@dataclass
class Node:
    """Everything one country's node needs, opened once per process."""

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

    @property
    def country(self) -> str:
        return self.config.node.country

    @property
    def partner(self) -> Party:
        return self.agreement.partner_of(self.country)

    def links(self) -> list[Node]:
        """This node bound to each partner it holds an agreement with (partner order)."""
        return [self]

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
            self.agreement.id, self.config.exchange.purpose.value, self.config.matching.threshold
        )

    def today(self) -> dt.date:
        return dt.datetime.fromtimestamp(self.clock() / 1000, tz=dt.UTC).date()

    def watchlist_index(self) -> WatchlistIndex:
        """The watchlist gallery, kept as a sealed snapshot beside the database."""
        return WatchlistIndex(
            self.records, cache_dir=self.database.path.parent, data_key=self.current_data_key
        )

    def current_data_key(self) -> bytes:
        return DataKeyring(keys_dir(self.node_dir)).current()[1]

    @classmethod
    def open(cls, node_dir: Path, *, clock: Clock = system_clock) -> Node:
        """Open a node folder, checking its keys against the agreement's pins."""
        config = load_config(node_dir)
        keys = load_keys(node_dir)
        agreement = load_agreement(node_dir / AGREEMENT_FILENAME)
        _check_own_pins(keys, agreement.party(config.node.country), node_dir)
        if config.exchange.purpose not in agreement.agreement.purposes:
            raise ConfigError(
                f"{node_dir}/node.toml: exchange.purpose {config.exchange.purpose.value!r} "
                "is not a purpose the agreement allows"
            )
        database = Database(node_dir / DATABASE_PATH)
        return cls(
            node_dir=node_dir,
            config=config,
            keys=keys,
            agreement=agreement,
            database=database,
            records=RecordStore(database, DataKeyring(keys_dir(node_dir))),
            alerts=AlertStore(database),
            audit=AuditLog(database),
            outbox=Outbox(database),
            hit_references=HitReferences(database),
            replay_guard=SqliteReplayGuard(database),
            quotas=Quotas(database),
            policy=Policy(agreement),
            clock=clock,
        )
