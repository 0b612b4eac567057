"""A node's membership of a federation router: where the router listens and its CA.

``membership.toml`` in the node folder (written when the federation is generated)
pins the router's CA. The node then accepts calls the router forwards on a
partner's behalf (``servicer``: the certificate must chain to this CA, the partner
is named by the ``bx-routed-for`` metadata and must hold an agreement with us, and
the envelope must still be signed by that partner), and, when its topology says
so, reaches its partners through the router (``routed.RoutedGrpcTransport``). The
router holds no envelope key: it can read neither requests nor replies.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from biometric_exchange.crypto import pki
from biometric_exchange.exceptions import ConfigError

MEMBERSHIP_FILENAME = "membership.toml"
ROUTE_TO = "bx-route-to"
"""Metadata a member sends the router: the partner a call is for."""
ROUTED_FOR = "bx-routed-for"
"""Metadata the router sends a holder: the member a call comes from."""


@dataclass(frozen=True)
class Membership:
    router: str
    """The router's name."""
    endpoint: str
    ca_certificate_pem: bytes
    route: bool = False
    """Reach partners through the router (router topology) rather than directly (mesh)."""

    def ca(self) -> x509.Certificate:
        return pki.load_certificate(self.ca_certificate_pem)


def load_membership(node_dir: Path) -> Membership | None:
    """The node's router membership, None when the folder has none."""
    path = node_dir / MEMBERSHIP_FILENAME
    if not path.is_file():
        return None
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        table = raw["router"]
        route = table.get("route", False)
        if not isinstance(route, bool):
            raise TypeError("router.route must be true or false")
        membership = Membership(
            str(table["name"]),
            str(table["endpoint"]),
            str(table["ca_certificate"]).encode(),
            route,
        )
        membership.ca()
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: router.name, endpoint and ca_certificate: {exc}") from exc
    return membership


def membership_document(membership: Membership) -> dict[str, dict[str, str | bool]]:
    """``membership.toml``'s table for ``membership``."""
    return {
        "router": {
            "name": membership.router,
            "endpoint": membership.endpoint,
            "ca_certificate": membership.ca_certificate_pem.decode(),
            "route": membership.route,
        }
    }
