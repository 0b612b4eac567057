"""The agreement document: parties and their pinned keys, terms, signatures.

The file is TOML, identical on both nodes. Its hash is SHA-256 over the
canonical JSON of every term except the signatures; each party's Ed25519 key
signs that canonical form. A node loads the agreement only when it is
marked synthetic, both signatures verify, each pinned CA certificate matches
its fingerprint and no pinned key is revoked. Whether it is in force is
checked on every exchange (``check_in_force``), so an operator can still
review alerts under an expired agreement.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
import secrets
from pathlib import Path
from typing import Annotated, Any

import tomli_w
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from biometric_exchange.agreement.terms import Purpose, Terms
from biometric_exchange.crypto import pki
from biometric_exchange.crypto.keys import decode_kex_public, decode_signing_public, key_id
from biometric_exchange.exceptions import AgreementMismatch, ConfigError
from biometric_exchange.regions import code_for_validator
from biometric_exchange.tomlfile import read_toml
from biometric_exchange.validation import describe

SIGNATURE_LABEL = b"biometric-exchange/v1/agreement\x00"
DEFAULT_VALIDITY = dt.timedelta(days=365)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Party(_Frozen):
    code: str
    node: str
    endpoint: Annotated[str, Field(pattern=r"^[A-Za-z0-9.\-\[\]:]+:\d{1,5}$")]
    ca_fingerprint: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    ca_certificate: str
    signing_key: str
    kex_key: str

    @field_validator("code")
    @classmethod
    def _known_country(cls, value: str) -> str:
        return code_for_validator(value)

    @model_validator(mode="after")
    def _pins_agree(self) -> Party:
        try:
            certificate = pki.load_certificate(self.ca_certificate.encode())
        except ValueError as exc:
            raise ValueError(f"party {self.code}: ca_certificate is not a PEM certificate") from exc
        if pki.fingerprint(certificate) != self.ca_fingerprint:
            raise ValueError(f"party {self.code}: ca_fingerprint does not match ca_certificate")
        try:
            decode_signing_public(self.signing_key, field_name="signing_key")
            decode_kex_public(self.kex_key, field_name="kex_key")
        except ConfigError as exc:
            raise ValueError(f"party {self.code}: {exc}") from exc
        return self

    @property
    def signing_public(self) -> Ed25519PublicKey:
        return decode_signing_public(self.signing_key, field_name="signing_key")

    @property
    def kex_public(self) -> X25519PublicKey:
        return decode_kex_public(self.kex_key, field_name="kex_key")

    def key_ids(self) -> dict[str, str]:
        """What the revocation list may name: each pinned key's id, the CA fingerprint."""
        return {
            "signing_key": key_id(self.signing_public),
            "kex_key": key_id(self.kex_public),
            "ca_fingerprint": self.ca_fingerprint,
        }


class AgreementDocument(_Frozen):
    synthetic: bool = True
    agreement: Terms
    parties: Annotated[tuple[Party, Party], Field()]
    signatures: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _two_parties(self) -> AgreementDocument:
        if self.parties[0].code == self.parties[1].code:
            raise ValueError("parties must be two different countries")
        revoked = set(self.agreement.revoked_keys)
        for party in self.parties:
            for name, value in party.key_ids().items():
                if value in revoked:
                    raise ValueError(f"party {party.code}: {name} is on the revocation list")
        return self

    def canonical_bytes(self) -> bytes:
        body = self.model_dump(mode="json", exclude={"signatures"})
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.canonical_bytes()).hexdigest()

    @property
    def id(self) -> str:
        return self.agreement.id

    def party(self, code: str) -> Party:
        for party in self.parties:
            if party.code == code:
                return party
        raise AgreementMismatch(f"{code} is not a party to agreement {self.id}")

    def partner_of(self, code: str) -> Party:
        self.party(code)
        return next(p for p in self.parties if p.code != code)

    def signed_by(self, code: str, key: Ed25519PrivateKey) -> AgreementDocument:
        signature = key.sign(SIGNATURE_LABEL + self.canonical_bytes())
        signatures = {**self.signatures, code: base64.b64encode(signature).decode()}
        return self.model_copy(update={"signatures": signatures})

    def verify_signatures(self) -> None:
        for party in self.parties:
            encoded = self.signatures.get(party.code)
            if encoded is None:
                raise ConfigError(f"agreement {self.id}: signatures.{party.code} is missing")
            try:
                party.signing_public.verify(
                    base64.b64decode(encoded, validate=True),
                    SIGNATURE_LABEL + self.canonical_bytes(),
                )
            except (InvalidSignature, ValueError) as exc:
                raise ConfigError(
                    f"agreement {self.id}: signatures.{party.code} does not verify"
                ) from exc

    def check_in_force(self, today: dt.date) -> None:
        """Raise AgreementMismatch unless ``today`` lies in the validity window."""
        terms = self.agreement
        if today < terms.effective_from:
            raise AgreementMismatch(
                f"agreement {self.id} is not yet in force (from {terms.effective_from})"
            )
        if today > terms.effective_until:
            raise AgreementMismatch(f"agreement {self.id} expired on {terms.effective_until}")


def draft(
    parties: tuple[Party, Party],
    *,
    today: dt.date,
    terms: dict[str, Any] | None = None,
    source: str = "terms",
) -> AgreementDocument:
    """An unsigned agreement between two parties, valid for a year from ``today``.

    ``terms`` (e.g. from ``load_terms``) override the defaults; the id,
    version and validity window are filled in when absent.
    """
    codes = "-".join(p.code for p in parties)
    raw: dict[str, Any] = {
        "id": f"{codes}-{today:%Y%m%d}-{secrets.token_hex(3).upper()}",
        "version": 1,
        "title": f"Bilateral biometric exchange {codes} (synthetic reference)",
        "effective_from": today,
        "effective_until": today + DEFAULT_VALIDITY,
        "purposes": tuple(Purpose),
        **(terms or {}),
    }
    try:
        return AgreementDocument(agreement=Terms.model_validate(raw), parties=parties)
    except ValidationError as exc:
        raise ConfigError(describe(exc, source)) from exc


def load_terms(path: Path) -> dict[str, Any]:
    """The ``[agreement]`` table of a terms file (negotiated terms without parties)."""
    raw = read_toml(path, missing="no terms file here")
    if raw.get("synthetic") is not True:
        raise ConfigError(f"{path}: synthetic: must be true")
    terms = raw.get("agreement")
    if not isinstance(terms, dict):
        raise ConfigError(f"{path}: agreement: a table of terms is required")
    return terms


def merge_terms(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Terms ``base`` with ``overrides`` merged in, tables recursively (a scenario's or a
    federation's changes to a terms file)."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_terms(merged[key], value)
        else:
            merged[key] = value
    return merged


def dumps(document: AgreementDocument) -> str:
    header = "# Bilateral agreement (synthetic reference implementation). Do not edit by hand:\n"
    header += "# any change invalidates both signatures.\n"
    body = tomli_w.dumps(document.model_dump(mode="json"), multiline_strings=True)
    # A blank line before each table header, for the human reader.
    return header + re.sub(r"\n(\[)", r"\n\n\1", body)


def parse(path: Path) -> AgreementDocument:
    """Parse and validate the schema (signatures are not checked)."""
    raw = read_toml(
        path,
        missing="no agreement here; create one with "
        "`bx agreement init -n NODE_DIR --partner-node NODE_DIR`",
    )
    try:
        document = AgreementDocument.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(describe(exc, str(path))) from exc
    if not document.synthetic:
        raise ConfigError(f"{path}: synthetic: this implementation runs on synthetic data only")
    return document


def load(path: Path) -> AgreementDocument:
    """Parse, validate and verify both parties' signatures."""
    document = parse(path)
    document.verify_signatures()
    return document
