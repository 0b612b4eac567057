"""An extraction run against a real holder over gRPC, day after day.

Panama enrols the scenario's watchlist and serves its real gRPC server in this
process (mutual TLS, a port the OS picks); Chile attacks with its own keys and
link through ``GrpcOracle``. Each day the attacker spends up to the agreement's
daily probe quota (or its own plan), stopping for the day when refused with
``RESOURCE_EXHAUSTED``; then the pair's clock moves on a day. After every
request Panama's alert store is asked for an ``EXTRACTION_SUSPECTED`` alert.
"""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from biometric_exchange.attacks.clock import DayClock
from biometric_exchange.attacks.pair import attack_pair
from biometric_exchange.evaluation.attacks.alert_watch import ExtractionAlerts
from biometric_exchange.evaluation.attacks.campaign import Campaign
from biometric_exchange.evaluation.attacks.config import AttackConfig
from biometric_exchange.evaluation.attacks.enrol import enrol_watchlist
from biometric_exchange.evaluation.attacks.grpc_oracle import GrpcOracle
from biometric_exchange.evaluation.attacks.report import AttackReport
from biometric_exchange.evaluation.attacks.run import attack_victims
from biometric_exchange.evaluation.attacks.scenario import make_scenario
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.server import start_server
from biometric_exchange.node.services import Services
from biometric_exchange.node.transport import GrpcPeerTransport

LIVE_ORACLE = "holder over gRPC (mutual TLS)"
ANY_LOOPBACK_PORT = "127.0.0.1:0"


@dataclass(frozen=True)
class LiveConfig:
    """``attack`` against a live holder; ``probes_per_day`` replaces the shipped
    terms' daily quota, ``daily_probes`` the attacker's plan (the quota by default)."""

    attack: AttackConfig
    probes_per_day: int | None = None
    daily_probes: int | None = None


def run_live(config: LiveConfig, workdir: Path | None = None) -> AttackReport:
    """Build the pair in ``workdir`` (a temporary folder by default), attack, report."""
    with tempfile.TemporaryDirectory(prefix="bx-attack-") as temporary:
        return _attack(config, workdir or Path(temporary))


def _attack(config: LiveConfig, workdir: Path) -> AttackReport:
    chile_dir, panama_dir = attack_pair(
        workdir, probes_per_day=config.probes_per_day, banded=config.attack.banded
    )
    clock = DayClock()
    settings = config.attack
    with ExitStack() as stack:
        holder = Node.open(panama_dir, clock=clock)
        stack.callback(holder.close)
        threshold = holder.config.matching.threshold
        scenario = make_scenario(
            settings.watchlist, settings.victims, seed=settings.seed, threshold=threshold
        )
        enrol_watchlist(holder, scenario, seed=settings.seed)
        server = start_server(holder, Services.of(holder), listen=ANY_LOOPBACK_PORT)
        stack.callback(server.stop, 0)
        attacker = Node.open(chile_dir, clock=clock)
        stack.callback(attacker.close)
        link = attacker.link(holder.country)
        transport = GrpcPeerTransport(link, endpoint=f"127.0.0.1:{server.port}")
        stack.callback(transport.close)
        daily = config.daily_probes or link.terms.quotas.probes_per_day
        campaign = Campaign(
            GrpcOracle(link, transport),
            per_request=link.terms.step1.max_probes_per_request,
            daily_probes=daily,
            days=settings.days,
            next_day=clock.next_day,
            alerted=ExtractionAlerts(holder).raised,
        )
        outcomes = attack_victims(scenario, campaign, settings, threshold=threshold)
    return AttackReport(
        attack=settings.attack,
        oracle=LIVE_ORACLE + (", banded" if settings.banded else ""),
        watchlist=settings.watchlist,
        threshold=threshold,
        seed=settings.seed,
        days_allowed=settings.days,
        daily_probes=daily,
        outcomes=outcomes,
        ledger=campaign.ledger,
    )
