"""A node opened from its folder: configuration, keys, agreement, store."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from biometric_exchange.agreement import AgreementDocument, Party
from biometric_exchange.agreement import load as load_agreement
from biometric_exchange.agreement.policy import Policy
from biometric_exchange.alerts.rules import RuleContext
from biometric_exchange.config import (
    AGREEMENT_FILENAME,
    AGREEMENTS_DIRNAME,
    DATABASE_PATH,
    NodeConfig,
    load_config,
)
from biometric_exchange.crypto import pki
from biometric_exchange.crypto.envelope import TIME_WINDOW_MS
from biometric_exchange.crypto.keyring import DataKeyring
from biometric_exchange.crypto.keys import NodeKeys, encode_public, keys_dir, load_keys
from biometric_exchange.exceptions import ConfigError, InvalidInput, PeerNotAuthorized
from biometric_exchange.node.index.watchlist import WatchlistIndex
from biometric_exchange.node.link import Link
from biometric_exchange.store.alerts import AlertStore
from biometric_exchange.store.audit import AuditLog
from biometric_exchange.store.backend import open_database
from biometric_exchange.store.counts import DailyCounts
from biometric_exchange.store.database import Database
from biometric_exchange.store.extraction import ExtractionStore
from biometric_exchange.store.hits import HitReferences
from biometric_exchange.store.openings import ScopeOpenings
from biometric_exchange.store.outbox import Outbox
from biometric_exchange.store.quotas import Quotas
from biometric_exchange.store.records import RecordStore
from biometric_exchange.store.refusals import RefusalCounts
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


def check_adoptable(
    node_dir: Path, config: NodeConfig, keys: NodeKeys, document: AgreementDocument
) -> None:
    """Our keys are the ones ``document`` pins and it allows the purpose we state to
    its other party."""
    country = config.node.country
    _check_own_pins(keys, document.party(country), node_dir)
    partner = document.partner_of(country).code
    purpose = config.exchange.purpose_for(partner)
    if purpose not in document.agreement.purposes:
        raise ConfigError(
            f"{node_dir}/node.toml: exchange purpose {purpose.value!r} for {partner} "
            f"is not a purpose agreement {document.id} allows"
        )


def agreement_files(node_dir: Path) -> list[Path]:
    """The agreements a node holds: ``agreement.toml`` and ``agreements/*.toml``."""
    first = node_dir / AGREEMENT_FILENAME
    more = sorted((node_dir / AGREEMENTS_DIRNAME).glob("*.toml"))
    return ([first] if first.is_file() else []) + more


AgreementsFingerprint = tuple[tuple[str, int, int], ...]
"""Each agreement file's name, modification time (ns) and size."""


def agreements_fingerprint(node_dir: Path) -> AgreementsFingerprint:
    """What changes when an agreement file is installed, replaced or removed (cheap:
    one ``stat`` per file, no parsing)."""
    found = []
    for path in agreement_files(node_dir):
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        found.append((str(path.relative_to(node_dir)), stat.st_mtime_ns, stat.st_size))
    return tuple(found)


@dataclass(frozen=True)
class LinkChanges:
    """Partners whose agreement a reload added, replaced or removed."""

    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.updated or self.removed)


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


@dataclass(eq=False)
class Node:
    """Everything one country's node needs, opened once per process.

    The node itself knows no partner: ``link(code)`` gives the ``Link`` to one
    partner (its agreement, policy and purpose), ``links()`` every one. Links
    share the database and every store.
    """

    node_dir: Path
    config: NodeConfig
    keys: NodeKeys
    database: Database
    records: RecordStore
    alerts: AlertStore
    audit: AuditLog
    outbox: Outbox
    hit_references: HitReferences
    scope_openings: ScopeOpenings
    replay_guard: SqliteReplayGuard
    quotas: Quotas
    counts: DailyCounts
    extraction: ExtractionStore
    refusals: RefusalCounts
    clock: Clock
    _links: dict[str, Link] = dataclasses.field(default_factory=dict, init=False, repr=False)
    generation: int = dataclasses.field(default=0, init=False)
    """Counts changes to the set of links; whatever is derived from the links
    (trusted CAs, handlers, transports) is rebuilt when it moves."""

    @property
    def country(self) -> str:
        return self.config.node.country

    @property
    def name(self) -> str:
        return self.config.node.name

    @property
    def partner_codes(self) -> list[str]:
        """Every partner's code, in the order the agreement files are read."""
        return list(self._links)

    def links(self) -> list[Link]:
        """One link per partner we hold an agreement with (file order)."""
        return list(self._links.values())

    def link(self, partner: str) -> Link:
        """The link to ``partner``; refused when we hold no agreement with them."""
        found = self._links.get(partner)
        if found is None:
            raise PeerNotAuthorized(f"no agreement with {partner}")
        return found

    def adopt(self, document: AgreementDocument) -> Link:
        """Hold ``document`` as our agreement with its other party from now on (a new
        partner, or a new version with a partner); our keys must be the ones it pins.
        Returns the new link. (A purpose it does not allow is refused per call by
        the sender's own checks; ``open`` refuses to start with one.)"""
        _check_own_pins(self.keys, document.party(self.country), self.node_dir)
        partner = document.partner_of(self.country).code
        link = self._new_link(document)
        self._links = {**self._links, partner: link}  # replaced whole: readers never lock
        self.generation += 1
        return link

    def _new_link(self, document: AgreementDocument) -> Link:
        partner = document.partner_of(self.country).code
        return Link(self, Policy(document), self.config.exchange.purpose_for(partner))

    def reload(self) -> LinkChanges:
        """Hold exactly the agreements now on disk: new partners get a link, a changed
        agreement a new one, a removed file loses its link; unchanged links stay the
        same objects. All or nothing: any agreement that would be refused at start
        (unreadable, bad signature, keys not the ones pinned, purpose not allowed)
        raises ``ConfigError`` and the node keeps what it held."""
        documents = load_agreements(self.node_dir, self.country)
        for document in documents.values():
            check_adoptable(self.node_dir, self.config, self.keys, document)
        held = self._links
        links: dict[str, Link] = {}
        added: list[str] = []
        updated: list[str] = []
        for partner, document in documents.items():
            link = held.get(partner)
            if link is not None and link.agreement.hash == document.hash:
                links[partner] = link
                continue
            links[partner] = self._new_link(document)
            (updated if link is not None else added).append(partner)
        changes = LinkChanges(
            tuple(added), tuple(updated), tuple(p for p in held if p not in documents)
        )
        if changes:
            self._links = links
            self.generation += 1
        return changes

    def sole_link(self, what: str) -> Link:
        """The one link of a node with a single partner; ``what`` names the option that
        must choose a partner when there are several."""
        if len(self._links) != 1:
            raise InvalidInput(
                f"{what}: {self.name} has {len(self._links)} partners "
                f"({', '.join(self._links)}); name one"
            )
        return next(iter(self._links.values()))

    def local_rule_context(self) -> RuleContext:
        """The evidence of a check of our own records (no agreement is involved)."""
        config = self.config
        return RuleContext(None, config.exchange.purpose.value, config.matching.threshold)

    def today(self) -> dt.date:
        return dt.datetime.fromtimestamp(self.clock() / 1000, tz=dt.UTC).date()

    def watchlist_index(self) -> WatchlistIndex:
        """The watchlist gallery, kept as a sealed snapshot beside the database."""
        return WatchlistIndex(
            self.records,
            cache_dir=self.database.folder,
            data_key=self.current_data_key,
            today=self.today,
            settings=self.config.matching,
        )

    def current_data_key(self) -> bytes:
        return DataKeyring(keys_dir(self.node_dir)).current()[1]

    def close(self) -> None:
        """Close this thread's database connection."""
        self.database.close()

    @classmethod
    def open(cls, node_dir: Path, *, clock: Clock = system_clock) -> Node:
        """Open a node folder, checking its keys against each agreement's pins."""
        config = load_config(node_dir)
        keys = load_keys(node_dir)
        agreements = load_agreements(node_dir, config.node.country)
        for document in agreements.values():
            check_adoptable(node_dir, config, keys, document)
        database = open_database(node_dir / DATABASE_PATH, config.store.url)
        Outbox(database).assign_unaddressed(next(iter(agreements)))
        audit = AuditLog(database)
        node = cls(
            node_dir=node_dir,
            config=config,
            keys=keys,
            database=database,
            records=RecordStore(database, DataKeyring(keys_dir(node_dir)), config.node.country),
            alerts=AlertStore(database, max_evidence=config.alerts.max_evidence_per_alert),
            audit=audit,
            outbox=Outbox(
                database,
                clock,
                lease_ms=round(config.store.claim_lease_s * 1000) if database.shared else 0,
            ),
            hit_references=HitReferences(database),
            scope_openings=ScopeOpenings(database),
            replay_guard=SqliteReplayGuard(database, window_ms=TIME_WINDOW_MS),
            quotas=Quotas(database),
            counts=DailyCounts(database),
            extraction=ExtractionStore(database),
            refusals=RefusalCounts(database, audit, clock),
            clock=clock,
        )
        for document in agreements.values():
            node.adopt(document)
        return node
