"""Unit tests of the node PKI (crypto.pki) and key files on disk (crypto.keys, crypto.files)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from biometric_exchange.crypto import pki
from biometric_exchange.crypto.keys import (
    DATA_KEY_BYTES,
    encode_public,
    init_keys,
    keys_dir,
    load_keys,
)
from biometric_exchange.exceptions import ConfigError

PRIVATE_FILES = ("ca.key", "tls.key", "signing.key", "kex.key", "data.key")
PUBLIC_FILES = ("ca.crt", "tls.crt", "signing.pub", "kex.pub")
LOADED_PRIVATE_FILES = ("tls.key", "signing.key", "kex.key", "data.key")
"""The private files ``load_keys`` reads (the CA key stays offline at run time)."""


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def assert_p256(certificate: x509.Certificate) -> None:
    public_key = certificate.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert isinstance(public_key.curve, ec.SECP256R1)
    assert isinstance(certificate.signature_hash_algorithm, hashes.SHA256)


@pytest.fixture(scope="module")
def chile_ca() -> pki.KeyAndCertificate:
    return pki.create_ca("CHL")


@pytest.fixture(scope="module")
def chile_node(chile_ca: pki.KeyAndCertificate) -> pki.KeyAndCertificate:
    return pki.issue_node_certificate(chile_ca, "node-chile", "CHL")


@pytest.fixture
def node_dir(tmp_path: Path) -> Path:
    init_keys(tmp_path, "node_x", "CHL")
    return tmp_path


# --- PKI -------------------------------------------------------------------------------


def test_ca_is_a_self_signed_p256_ca(chile_ca: pki.KeyAndCertificate) -> None:
    assert isinstance(chile_ca.key.curve, ec.SECP256R1)
    assert_p256(chile_ca.certificate)
    constraints = chile_ca.certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca
    assert chile_ca.certificate.issuer == chile_ca.certificate.subject
    assert pki.is_issued_by(chile_ca.certificate, chile_ca.certificate)
    assert "CHL" in chile_ca.certificate.subject.rfc4514_string()


def test_node_certificate_is_p256_for_loopback(chile_node: pki.KeyAndCertificate) -> None:
    assert isinstance(chile_node.key.curve, ec.SECP256R1)
    assert_p256(chile_node.certificate)
    san = chile_node.certificate.extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    ).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert ipaddress.ip_address("127.0.0.1") in san.get_values_for_type(x509.IPAddress)
    constraints = chile_node.certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    assert not constraints.value.ca


def test_node_certificate_serves_and_authenticates_clients(
    chile_node: pki.KeyAndCertificate,
) -> None:
    usage = chile_node.certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert set(usage.value) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}


def test_node_certificate_is_valid_now(chile_node: pki.KeyAndCertificate) -> None:
    now = dt.datetime.now(dt.UTC)
    certificate = chile_node.certificate
    assert certificate.not_valid_before_utc <= now < certificate.not_valid_after_utc
    assert certificate.not_valid_after_utc - now > dt.timedelta(days=300)


def test_node_certificate_is_issued_by_its_ca_only(
    chile_ca: pki.KeyAndCertificate, chile_node: pki.KeyAndCertificate
) -> None:
    panama_ca = pki.create_ca("PAN")
    assert pki.is_issued_by(chile_node.certificate, chile_ca.certificate)
    assert not pki.is_issued_by(chile_node.certificate, panama_ca.certificate)
    assert not pki.is_issued_by(chile_ca.certificate, chile_node.certificate)


def test_same_named_ca_with_another_key_is_not_the_issuer(
    chile_node: pki.KeyAndCertificate,
) -> None:
    """The names chain, the signature does not: a look-alike CA must not pass."""
    look_alike = pki.create_ca("CHL")
    assert look_alike.certificate.subject == chile_node.certificate.issuer
    assert not pki.is_issued_by(chile_node.certificate, look_alike.certificate)


def test_fingerprint_is_stable_sha256_hex(
    chile_ca: pki.KeyAndCertificate, chile_node: pki.KeyAndCertificate
) -> None:
    fingerprint = pki.fingerprint(chile_ca.certificate)
    assert re.fullmatch(r"[0-9a-f]{64}", fingerprint)
    assert pki.fingerprint(chile_ca.certificate) == fingerprint
    reloaded = pki.load_certificate(chile_ca.certificate_pem())
    assert pki.fingerprint(reloaded) == fingerprint
    assert pki.fingerprint(chile_node.certificate) != fingerprint


# --- key files -------------------------------------------------------------------------


def test_init_keys_writes_private_files_0600_in_a_0700_dir(tmp_path: Path) -> None:
    directory = init_keys(tmp_path, "node_x", "CHL")
    assert directory == keys_dir(tmp_path) == tmp_path / "keys"
    assert mode_of(directory) == 0o700
    for name in PRIVATE_FILES:
        assert mode_of(directory / name) == 0o600, name
    for name in PUBLIC_FILES:
        assert (directory / name).is_file(), name
    assert sorted(p.name for p in directory.iterdir()) == sorted(PRIVATE_FILES + PUBLIC_FILES)


def test_init_keys_refuses_to_replace_existing_keys(node_dir: Path) -> None:
    before = (keys_dir(node_dir) / "signing.key").read_bytes()
    with pytest.raises(ConfigError, match=r"already holds ca\.key, .*; pass --force"):
        init_keys(node_dir, "node_x", "CHL")
    assert (keys_dir(node_dir) / "signing.key").read_bytes() == before


def test_init_keys_with_one_file_missing_touches_nothing(node_dir: Path) -> None:
    """A partial keys folder is refused before any file is written."""
    (keys_dir(node_dir) / "ca.key").unlink()
    before = {p.name: p.read_bytes() for p in keys_dir(node_dir).iterdir()}
    with pytest.raises(ConfigError, match=r"already holds ca\.crt, tls\.key"):
        init_keys(node_dir, "node_x", "CHL")
    after = {p.name: p.read_bytes() for p in keys_dir(node_dir).iterdir()}
    assert after == before


def test_init_keys_with_overwrite_replaces_every_key(node_dir: Path) -> None:
    before = load_keys(node_dir)
    init_keys(node_dir, "node_x", "CHL", overwrite=True)
    after = load_keys(node_dir)
    assert encode_public(after.signing_public) != encode_public(before.signing_public)
    assert encode_public(after.kex_public) != encode_public(before.kex_public)
    assert after.data_key != before.data_key
    assert after.ca_certificate_pem != before.ca_certificate_pem
    for name in PRIVATE_FILES:
        assert mode_of(keys_dir(node_dir) / name) == 0o600, name


def test_load_keys_round_trips_what_init_wrote(node_dir: Path) -> None:
    directory = keys_dir(node_dir)
    keys = load_keys(node_dir)
    assert encode_public(keys.signing_public) == (directory / "signing.pub").read_text()
    assert encode_public(keys.kex_public) == (directory / "kex.pub").read_text()
    assert keys.data_key == (directory / "data.key").read_bytes()
    assert len(keys.data_key) == DATA_KEY_BYTES
    assert keys.tls_key_pem == (directory / "tls.key").read_bytes()
    ca = pki.load_certificate(keys.ca_certificate_pem)
    tls = pki.load_certificate(keys.tls_certificate_pem)
    assert pki.is_issued_by(tls, ca)
    assert "node_x" in tls.subject.rfc4514_string()


def test_signing_key_from_disk_signs_for_its_published_public_key(node_dir: Path) -> None:
    keys = load_keys(node_dir)
    signature = keys.signing_key.sign(b"message")
    keys.signing_public.verify(signature, b"message")  # raises InvalidSignature on mismatch


@pytest.mark.parametrize("name", LOADED_PRIVATE_FILES)
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_load_keys_refuses_a_private_file_others_can_read(
    node_dir: Path, name: str, mode: int
) -> None:
    path = keys_dir(node_dir) / name
    path.chmod(mode)
    with pytest.raises(ConfigError, match=re.escape(f"run `chmod 600 {path}`")) as caught:
        load_keys(node_dir)
    assert f"key file {path} is accessible by other users (mode {mode:o})" in str(caught.value)


@pytest.mark.parametrize("name", LOADED_PRIVATE_FILES)
def test_missing_private_key_file_is_named(node_dir: Path, name: str) -> None:
    path = keys_dir(node_dir) / name
    path.unlink()
    with pytest.raises(ConfigError, match=re.escape(f"missing key file {path};")) as caught:
        load_keys(node_dir)
    assert f"bx keys restore --node {node_dir} --from FILE" in str(caught.value)


@pytest.mark.parametrize("name", ["ca.crt", "tls.crt"])
def test_missing_certificate_file_is_named(node_dir: Path, name: str) -> None:
    path = keys_dir(node_dir) / name
    path.unlink()
    with pytest.raises(ConfigError, match=re.escape(f"missing file {path};")):
        load_keys(node_dir)


def test_truncated_data_key_is_refused(node_dir: Path) -> None:
    path = keys_dir(node_dir) / "data.key"
    path.write_bytes(path.read_bytes()[:16])
    with pytest.raises(ConfigError, match=re.escape(f"{path}: expected 32 bytes")):
        load_keys(node_dir)


def test_signing_key_of_the_wrong_type_is_refused(node_dir: Path) -> None:
    directory = keys_dir(node_dir)
    (directory / "signing.key").write_bytes((directory / "kex.key").read_bytes())
    with pytest.raises(ConfigError, match=re.escape(f"{directory / 'signing.key'}: expected")):
        load_keys(node_dir)


def test_unreadable_pem_is_refused(node_dir: Path) -> None:
    path = keys_dir(node_dir) / "kex.key"
    path.write_bytes(b"-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ConfigError, match=re.escape(f"{path}: not a readable PEM private key")):
        load_keys(node_dir)
