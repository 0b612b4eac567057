"""Mutual-TLS credentials and the check that a caller is the agreement partner."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import grpc
from cryptography import x509

from biometric_exchange.crypto import pki
from biometric_exchange.exceptions import PeerNotAuthorized
from biometric_exchange.node.runtime import Node

# gRPC enables SO_REUSEPORT by default, which would let a second node bind a
# port already in use; a node must fail loudly instead.
SERVER_OPTIONS = (("grpc.so_reuseport", 0),)
TLS_SERVER_NAME = "localhost"


def server_credentials(node: Node) -> grpc.ServerCredentials:
    """Our certificate; clients must present one from the partner's or our CA.

    Our own CA is trusted so that our operators can probe health and
    reflection; ``PartnerAuthorizer`` keeps the exchange itself to the partner.
    """
    roots = node.partner.ca_certificate.encode() + b"\n" + node.keys.ca_certificate_pem
    return grpc.ssl_server_credentials(
        [(node.keys.tls_key_pem, node.keys.tls_certificate_pem)],
        root_certificates=roots,
        require_client_auth=True,
    )


def channel_credentials(node: Node, server_ca_pem: bytes) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        root_certificates=server_ca_pem,
        private_key=node.keys.tls_key_pem,
        certificate_chain=node.keys.tls_certificate_pem,
    )


def channel_options() -> list[tuple[str, str | int]]:
    return [("grpc.ssl_target_name_override", TLS_SERVER_NAME)]


class PartnerAuthorizer:
    """Accepts a call only when the client certificate was issued by the partner's pinned CA."""

    def __init__(self, node: Node) -> None:
        self._partner_ca = pki.load_certificate(node.partner.ca_certificate.encode())

    def check(self, auth_context: Mapping[str, Sequence[bytes] | bytes]) -> x509.Certificate:
        pems = auth_context.get("x509_pem_cert") or []
        pem = pems if isinstance(pems, bytes) else (pems[0] if pems else b"")
        if not pem:
            raise PeerNotAuthorized("no client certificate")
        try:
            certificate = pki.load_certificate(pem)
        except ValueError as exc:
            raise PeerNotAuthorized("unreadable client certificate") from exc
        if not pki.is_issued_by(certificate, self._partner_ca):
            raise PeerNotAuthorized("client certificate not issued by the partner's CA")
        return certificate
