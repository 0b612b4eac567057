"""A node's configuration: ``<node_dir>/node.toml`` in, a frozen model out."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from biometric_exchange.agreement import Purpose
from biometric_exchange.domain import Severity
from biometric_exchange.exceptions import ConfigError
from biometric_exchange.matching import DEFAULT_THRESHOLD
from biometric_exchange.regions import code_for_validator
from biometric_exchange.store.evidence import DEFAULT_MAX_EVIDENCE
from biometric_exchange.tomlfile import read_toml
from biometric_exchange.validation import describe

CONFIG_FILENAME = "node.toml"
AGREEMENT_FILENAME = "agreement.toml"
AGREEMENTS_DIRNAME = "agreements"
"""Agreements with further partners, one file each, beside ``agreement.toml``."""
DATABASE_PATH = Path("data") / "node.sqlite3"


def _port_in_range(value: str) -> str:
    if not 0 <= int(value.rsplit(":", 1)[1]) <= 65535:
        raise ValueError("port must be between 0 and 65535")
    return value


HostPort = Annotated[
    str, Field(pattern=r"^[A-Za-z0-9.\-\[\]:]+:\d{1,5}$"), AfterValidator(_port_in_range)
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NodeSection(_Frozen):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,40}$")]
    country: str
    listen: HostPort
    watch_agreements: bool = True
    """Load agreements installed, replaced or removed on disk at the next worker
    round; when false, only SIGHUP (``bx node reload``) loads them."""

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str) -> str:
        return code_for_validator(value)


class MatchingSection(_Frozen):
    threshold: Annotated[float, Field(gt=0, le=2)] = DEFAULT_THRESHOLD
    max_candidates: Annotated[int, Field(ge=1, le=50)] = 3
    compact_from: Annotated[int, Field(ge=0)] = 100_000
    """Watchlists of at least this many entries are searched as int8 codes
    (``CompactGallery``: the same answers, a quarter of the memory read); 0: always."""
    batch_window_ms: Annotated[float, Field(ge=0, le=2)] = 1.0
    """A search that finds no other running waits up to this long (from its arrival)
    for concurrent calls to join its pass; 0: no wait, a pass takes whoever is waiting."""
    shared_snapshot: bool = False
    """Leave the decrypted watchlist snapshot in shared memory (``/dev/shm``, mode
    0600) for a restart or another process of the node to map without decrypting:
    plaintext templates in RAM outside the process until the watchlist changes
    (never on disk). Off: each process decrypts into memory of its own."""


class ExchangeSection(_Frozen):
    purpose: Purpose = Purpose.BORDER_SECURITY
    partner_purposes: dict[str, Purpose] = {}
    """The purpose stated to a given partner (by country code), where not ``purpose``."""
    request_timeout_s: Annotated[float, Field(gt=0, le=120)] = 10.0

    @field_validator("partner_purposes")
    @classmethod
    def _known_partners(cls, value: dict[str, Purpose]) -> dict[str, Purpose]:
        return {code_for_validator(code): purpose for code, purpose in value.items()}

    def purpose_for(self, partner: str) -> Purpose:
        return self.partner_purposes.get(partner, self.purpose)


class AlertsSection(_Frozen):
    movement_days: Annotated[int, Field(ge=1, le=365)] = 30
    """A partner's sighting of a person we encountered this recently is a MOVEMENT."""
    max_evidence_per_alert: Annotated[int, Field(ge=10, le=100_000)] = DEFAULT_MAX_EVIDENCE
    """Evidence items one alert keeps; further items are counted in one summary."""
    conflict_thresholds: dict[Annotated[int, Field(ge=1)], Annotated[float, Field(gt=0, le=2)]] = {}
    """``IDENTITY_CONFLICT`` thresholds by gallery size (our encounters searched), from a
    calibration (``{1000 = 0.61, 100000 = 0.57}``); between sizes, interpolated in log
    size; empty: ``[matching] threshold`` whatever the size."""


class ExtractionSettings(_Frozen):
    """The holder's defences against a partner rebuilding watchlist templates from
    step-1 answers (``node.serve.guard``); every field has a default."""

    near_duplicate_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.1
    """A probe closer than this fraction of the matching threshold to one of the
    partner's recent probes is a near-duplicate. Two captures of one synthetic
    face lie at least 0.32 x the threshold apart (docs/operations.md)."""
    recent_probes: Annotated[int, Field(ge=1, le=1_000_000)] = 4096
    """How many of the partner's latest probes are remembered (in memory)."""
    axis_share: Annotated[float, Field(gt=0.5, le=1)] = 0.9
    """A probe whose difference to a recent probe lies at least this share (of its
    squared norm) within two coordinates is an axis-perturbed copy."""
    max_hits_per_entry_per_day: Annotated[int, Field(ge=1, le=10_000)] = 4
    """Hits one partner may get on one watchlist entry in one UTC day."""
    strikes_before_hold: Annotated[int, Field(ge=1, le=10_000)] = 3
    """Guard refusals of one partner in one UTC day after which step 1 is held for
    that partner until midnight UTC."""
    min_population: Annotated[int, Field(ge=2)] = 500
    """Fewest watchlist templates the plausibility bands are fitted on; a smaller
    watchlist is too few to place its 0.1 % tails, and probes are then not checked
    for plausibility (the other defences hold)."""


class DetailsSection(_Frozen):
    """The holder's side of step 2, beyond what the agreement says."""

    max_pending_per_partner: Annotated[int, Field(ge=1, le=10_000)] = 50
    """Requests of one partner awaiting an officer's decision at once; beyond it a
    new request is refused (RESOURCE_EXHAUSTED) until some are decided."""


class MetricsSection(_Frozen):
    listen: HostPort
    """Where Prometheus scrapes ``/metrics`` (plain HTTP; keep it on a private address)."""


class ConsoleSection(_Frozen):
    """``bx console``: where it listens and how long a sign-in lasts."""

    listen: HostPort = "127.0.0.1:8080"
    """Loopback unless ``tls_cert`` and ``tls_key`` are given (or ``--node-tls``)."""
    tls_cert: str | None = None
    """A PEM certificate (chain) for HTTPS, relative to the node folder or absolute."""
    tls_key: str | None = None
    session_idle_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 30
    """A session unused this long ends."""
    session_max_hours: Annotated[int, Field(ge=1, le=7 * 24)] = 12
    """A session ends this long after sign-in, used or not."""
    events_poll_s: Annotated[float, Field(gt=0, le=60)] = 1.0
    """How often the live queue looks for new or changed alerts."""
    reports_dir: str | None = None
    """Simulation runs (``bx simulate``'s ``runs/``) the node page links to."""

    @model_validator(mode="after")
    def _pair(self) -> ConsoleSection:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key: give both or neither")
        return self


class NotificationFormat(StrEnum):
    ALERTMANAGER = "alertmanager"
    """A JSON list of alerts, as Alertmanager's ``POST /api/v2/alerts`` takes it."""
    WEBHOOK = "webhook"
    """Alertmanager's webhook message (version 4), as its receivers get it."""


class NotificationsSection(_Frozen):
    """Where critical alerts and SLA breaches are sent (``bx console`` delivers)."""

    url: Annotated[str, Field(pattern=r"^https?://[^\s]+$", max_length=2000)]
    format: NotificationFormat = NotificationFormat.WEBHOOK
    min_severity: Severity = Severity.CRITICAL
    """Alerts at or above this severity are sent when raised."""
    sla_breaches: bool = True
    """Send an alert not acknowledged by its SLA deadline, whatever its severity."""
    timeout_s: Annotated[float, Field(gt=0, le=60)] = 5.0
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 12
    first_retry_s: Annotated[float, Field(gt=0, le=3600)] = 2.0
    """The first retry waits this long; each next one twice as long, up to ``max_retry_s``."""
    max_retry_s: Annotated[float, Field(gt=0, le=86400)] = 300.0
    console_url: str | None = None
    """The console's address, for links in the payload (``generatorURL``)."""


class StoreSection(_Frozen):
    """Where the node keeps its state: SQLite in ``data/`` unless ``url`` is given."""

    url: Annotated[str, Field(pattern=r"^postgres(ql)?://\S*$", max_length=2000)] | None = None
    """A PostgreSQL database (libpq URL, e.g. ``postgresql://bx@db.example/chile``):
    several processes of this node may then serve at once. Keep the password out of
    it (``~/.pgpass`` or ``PGPASSFILE``); absent: SQLite, one process."""
    claim_lease_s: Annotated[float, Field(gt=0, le=3600)] = 30.0
    """With several processes, how long an outbox item taken by one stays its own;
    a process that dies leaves its items to the others after this long."""


class NodeConfig(_Frozen):
    node: NodeSection
    matching: MatchingSection = MatchingSection()
    exchange: ExchangeSection = ExchangeSection()
    alerts: AlertsSection = AlertsSection()
    extraction: ExtractionSettings = ExtractionSettings()
    details: DetailsSection = DetailsSection()
    metrics: MetricsSection | None = None
    """Absent: the node serves no metrics endpoint."""
    console: ConsoleSection = ConsoleSection()
    notifications: NotificationsSection | None = None
    """Absent: no notification is sent."""
    store: StoreSection = StoreSection()


def load_config(node_dir: Path) -> NodeConfig:
    path = node_dir / CONFIG_FILENAME
    raw = read_toml(path, missing="no node configuration here")
    try:
        return NodeConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(describe(exc, str(path))) from exc
