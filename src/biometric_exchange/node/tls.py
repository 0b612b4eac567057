"""Mutual-TLS credentials and the check that a caller is one of our partners."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import cast

import grpc
from cryptography import x509

from biometric_exchange.crypto import pki
from biometric_exchange.exceptions import PeerNotAuthorized
from biometric_exchange.node.membership import load_membership
from biometric_exchange.node.runtime import Node

# gRPC enables SO_REUSEPORT by default, which would let a second node bind a
# port already in use; a node must fail loudly instead.
SERVER_OPTIONS = (("grpc.so_reuseport", 0),)
TLS_SERVER_NAME = "localhost"


def _certificate_configuration(node: Node) -> grpc.ServerCertificateConfiguration:
    partner_cas = [link.partner.ca_certificate.encode() for link in node.links()]
    membership = load_membership(node.node_dir)
    if membership is not None:
        partner_cas.append(membership.ca_certificate_pem)
    roots = b"\n".join([*partner_cas, node.keys.ca_certificate_pem])
    return grpc.ssl_server_certificate_configuration(
        [(node.keys.tls_key_pem, node.keys.tls_certificate_pem)], root_certificates=roots
    )


class LiveServerCredentials:
    """Our certificate; clients must present one from a partner's or our CA.

    Our own CA is trusted so that our operators can probe health and
    reflection; ``PartnerAuthorizer`` keeps the exchange itself to partners.
    The trusted CAs follow the node's agreements: gRPC asks ``_fetch`` before
    each new connection's handshake, and it hands over new roots once the node
    has loaded a changed set of agreements (connections already open keep
    theirs; a removed partner's calls are refused by ``PartnerAuthorizer``).
    ``connections`` counts the handshakes begun.
    """

    def __init__(self, node: Node) -> None:
        self._node = node
        self._generation = node.generation
        self._lock = threading.Lock()
        self.connections = 0
        # The stubs say the fetcher must return a configuration; gRPC takes None as
        # "no change", which is what most handshakes get.
        fetch = cast(Callable[[], grpc.ServerCertificateConfiguration], self._fetch)
        self.credentials = grpc.dynamic_ssl_server_credentials(
            _certificate_configuration(node), fetch, require_client_authentication=True
        )

    def _fetch(self) -> grpc.ServerCertificateConfiguration | None:
        with self._lock:
            self.connections += 1
            generation = self._node.generation
            if generation == self._generation:
                return None
            self._generation = generation
        return _certificate_configuration(self._node)


def channel_credentials(node: Node, server_ca_pem: bytes) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        root_certificates=server_ca_pem,
        private_key=node.keys.tls_key_pem,
        certificate_chain=node.keys.tls_certificate_pem,
    )


def channel_options() -> list[tuple[str, str | int]]:
    return [("grpc.ssl_target_name_override", TLS_SERVER_NAME)]


KNOWN_CERTIFICATES = 64
"""Client certificates whose partner is remembered (each verified once, not per call)."""


class PartnerAuthorizer:
    """Accepts a call only when the client certificate was issued by a partner's pinned CA;
    says which partner. A certificate is parsed and verified the first time it is
    seen; its partner is remembered (a few certificates per partner at most)."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self._generation = -1
        self._partner_cas: dict[str, x509.Certificate] = {}
        self._known: dict[bytes, str] = {}
        self._lock = threading.Lock()
        self._follow_agreements()

    def _follow_agreements(self) -> None:
        """The partners' CAs as the node now holds them (again after a reload)."""
        node = self._node
        if node.generation == self._generation:
            return
        with self._lock:
            if node.generation == self._generation:
                return
            self._partner_cas = {
                link.code: pki.load_certificate(link.partner.ca_certificate.encode())
                for link in node.links()
            }
            self._known = {}
            self._generation = node.generation

    def check(self, auth_context: Mapping[str, Sequence[bytes] | bytes]) -> str:
        """The code of the partner whose CA issued the caller's certificate."""
        self._follow_agreements()
        pems = auth_context.get("x509_pem_cert") or []
        pem = pems if isinstance(pems, bytes) else (pems[0] if pems else b"")
        if not pem:
            raise PeerNotAuthorized("no client certificate")
        known = self._known.get(pem)
        if known is not None:
            return known
        partner = self._verify(pem)
        if len(self._known) >= KNOWN_CERTIFICATES:
            self._known.clear()
        self._known[pem] = partner
        return partner

    def _verify(self, pem: bytes) -> str:
        try:
            certificate = pki.load_certificate(pem)
        except ValueError as exc:
            raise PeerNotAuthorized("unreadable client certificate") from exc
        for partner, ca in self._partner_cas.items():
            if pki.is_issued_by(certificate, ca):
                return partner
        raise PeerNotAuthorized("client certificate not issued by a partner's CA")
