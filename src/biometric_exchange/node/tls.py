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


def peer_certificate(auth_context: Mapping[str, Sequence[bytes] | bytes]) -> bytes:
    """The caller's client certificate (PEM) from a gRPC auth context; empty without one."""
    pems = auth_context.get("x509_pem_cert") or []
    return pems if isinstance(pems, bytes) else (pems[0] if pems else b"")


class IssuerIndex:
    """Which of some pinned CAs issued a client certificate. A certificate is parsed and
    verified the first time it is seen; its issuer is remembered (at most
    ``KNOWN_CERTIFICATES``, a few per CA)."""

    def __init__(self, cas: Mapping[str, x509.Certificate]) -> None:
        self._cas = dict(cas)
        self._known: dict[bytes, str] = {}
        self._lock = threading.Lock()

    def issuer(self, pem: bytes) -> str | None:
        """The code of the CA that issued ``pem``; None when none of them did.
        ``PeerNotAuthorized`` when it is not a certificate at all."""
        known = self._known.get(pem)
        if known is not None:
            return known
        try:
            certificate = pki.load_certificate(pem)
        except ValueError as exc:
            raise PeerNotAuthorized("unreadable client certificate") from exc
        for code, ca in self._cas.items():
            if pki.is_issued_by(certificate, ca):
                with self._lock:
                    if len(self._known) >= KNOWN_CERTIFICATES:
                        self._known.clear()
                    self._known[pem] = code
                return code
        return None


class PartnerAuthorizer:
    """Accepts a call only when the client certificate was issued by a partner's pinned CA;
    says which partner."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self._generation = -1
        self._issuers = IssuerIndex({})
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
            self._issuers = IssuerIndex(
                {
                    link.code: pki.load_certificate(link.partner.ca_certificate.encode())
                    for link in node.links()
                }
            )
            self._generation = node.generation

    def check(self, auth_context: Mapping[str, Sequence[bytes] | bytes]) -> str:
        """The code of the partner whose CA issued the caller's certificate."""
        self._follow_agreements()
        pem = peer_certificate(auth_context)
        if not pem:
            raise PeerNotAuthorized("no client certificate")
        partner = self._issuers.issuer(pem)
        if partner is None:
            raise PeerNotAuthorized("client certificate not issued by a partner's CA")
        return partner
