"""Agreements installed, replaced or revoked while a node runs.

``LiveConfiguration.check`` runs at the start of every worker round: it
reloads when asked (SIGHUP, ``bx node reload``) or when the agreement files on
disk changed, and tells whatever follows the links (the partners'
transports) to catch up. The serving side follows by itself: the server's
trusted CAs, the partner authorizer and the handler table all look at
``Node.generation``. A reload that fails leaves the node as it was; the error
is logged and published for ``bx status`` and ``bx node reload``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping

from biometric_exchange.exceptions import ExchangeError
from biometric_exchange.node.presence import LoadedAgreement, Presence, ReloadOutcome, RunningState
from biometric_exchange.node.runtime import (
    AgreementsFingerprint,
    Node,
    agreements_fingerprint,
    load_agreements,
)
from biometric_exchange.node.transport import GrpcPeerTransport, PeerTransport

log = logging.getLogger(__name__)


class PartnerTransports(Mapping[str, PeerTransport]):
    """One transport per partner, following the node's links: ``refresh`` opens one
    for a new partner, replaces the one of a partner whose agreement changed (its
    endpoint or CA may have) and closes the one of a partner no longer held."""

    def __init__(
        self, node: Node, open_transport: Callable[..., PeerTransport] = GrpcPeerTransport
    ) -> None:
        self._node = node
        self._open = open_transport
        self._held: dict[str, tuple[object, PeerTransport]] = {}
        self.refresh()

    def refresh(self) -> None:
        held: dict[str, tuple[object, PeerTransport]] = {}
        for link in self._node.links():
            previous = self._held.get(link.code)
            if previous is not None and previous[0] is link:
                held[link.code] = previous
            else:
                held[link.code] = (link, self._open(link))
        for code, (old_link, transport) in self._held.items():
            kept = held.get(code)
            if kept is None or kept[0] is not old_link:
                transport.close()
        self._held = held

    def __getitem__(self, partner: str) -> PeerTransport:
        return self._held[partner][1]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._held))

    def __len__(self) -> int:
        return len(self._held)

    def close(self) -> None:
        for _link, transport in self._held.values():
            transport.close()
        self._held = {}


class LiveConfiguration:
    """Keeps a running node's agreements in step with its folder."""

    def __init__(
        self,
        node: Node,
        *,
        presence: Presence | None = None,
        followers: tuple[Callable[[], None], ...] = (),
        started_ms: int | None = None,
    ) -> None:
        self._node = node
        self._presence = presence
        self._followers = followers
        self._fingerprint = agreements_fingerprint(node.node_dir)
        self._requested = threading.Event()
        self._lock = threading.Lock()
        self._started_ms = node.clock() if started_ms is None else started_ms
        self._watch = node.config.node.watch_agreements
        self._on_disk: tuple[AgreementsFingerprint, frozenset[str] | None] | None = None
        self.reloads = 0
        self.last: ReloadOutcome | None = None

    def request(self) -> None:
        """Reload at the next check (safe to call from a signal handler)."""
        self._requested.set()

    def check(self) -> ReloadOutcome | None:
        """Reload when asked, or (``[node] watch_agreements``) when the agreement
        files changed; None when nothing was reloaded.

        A failed reload is not tried again until the files change again or a
        reload is asked for.
        """
        with self._lock:
            fingerprint = agreements_fingerprint(self._node.node_dir)
            changed = self._watch and fingerprint != self._fingerprint
            if not self._requested.is_set() and not changed:
                return None
            self._requested.clear()
            self._fingerprint = fingerprint
            return self._reload()

    def awaits(self, partner: str) -> bool:
        """For an item to a partner we hold no link to: True when an agreement with
        them is on disk but not loaded (the item waits for a reload), False when
        none is (revoked: the item cannot be sent). While the files on disk do not
        load, the item waits too: nothing is dropped on a half-done installation."""
        self.check()
        if partner in self._node.partner_codes:
            return False  # loaded just now
        on_disk = self._partners_on_disk()
        return on_disk is None or partner in on_disk

    def _partners_on_disk(self) -> frozenset[str] | None:
        """The partners of the agreements on disk; None when they do not load."""
        fingerprint = agreements_fingerprint(self._node.node_dir)
        if self._on_disk is None or self._on_disk[0] != fingerprint:
            try:
                partners: frozenset[str] | None = frozenset(
                    load_agreements(self._node.node_dir, self._node.country)
                )
            except (ExchangeError, OSError):
                partners = None
            self._on_disk = (fingerprint, partners)
        return self._on_disk[1]

    def _reload(self) -> ReloadOutcome:
        node = self._node
        try:
            changes = node.reload()
        except (ExchangeError, OSError) as exc:
            outcome = ReloadOutcome(at_ms=node.clock(), error=str(exc))
            log.error("agreements on disk not loaded; still serving the ones held: %s", exc)
        else:
            outcome = ReloadOutcome(
                at_ms=node.clock(),
                added=changes.added,
                updated=changes.updated,
                removed=changes.removed,
            )
            if changes:
                for follow in self._followers:
                    follow()
                log.info(
                    "agreements reloaded: added %s; updated %s; removed %s",
                    ", ".join(changes.added) or "none",
                    ", ".join(changes.updated) or "none",
                    ", ".join(changes.removed) or "none",
                )
            else:
                log.info("agreements reloaded: no change")
        self.reloads += 1
        self.last = outcome
        self.publish()
        return outcome

    def state(self) -> RunningState:
        """What this process runs, as ``bx status`` reads it."""
        return RunningState(
            pid=os.getpid(),
            started_ms=self._started_ms,
            listen=self._node.config.node.listen,
            agreements={
                link.code: LoadedAgreement(link.agreement.id, link.agreement.hash)
                for link in self._node.links()
            },
            reloads=self.reloads,
            last_reload=self.last,
        )

    def publish(self) -> None:
        if self._presence is not None:
            self._presence.publish(self.state())
