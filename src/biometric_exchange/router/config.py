"""The router's folder: ``router.toml`` (members, their CAs and endpoints, the pairs
with terms, the quota) and ``keys/`` (its own CA and TLS certificate, nothing else)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from biometric_exchange.crypto import pki
from biometric_exchange.crypto.files import read_private, write_private, write_public
from biometric_exchange.exceptions import ConfigError
from biometric_exchange.regions import code_for_validator
from biometric_exchange.tomlfile import read_toml
from biometric_exchange.validation import describe

ROUTER_FILENAME = "router.toml"
KEYS_DIRNAME = "keys"
DATABASE_FILENAME = "router.db"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Member(_Frozen):
    endpoint: str
    ca_certificate: str


class RouterConfig(_Frozen):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,40}$")]
    listen: str
    calls_per_member_per_day: Annotated[int, Field(ge=1)]
    members: dict[str, Member]
    pairs: tuple[tuple[str, str], ...]
    """Pairs of members holding an agreement: the only ones the router connects."""

    @model_validator(mode="after")
    def _codes(self) -> RouterConfig:
        for code in self.members:
            code_for_validator(code)
        for first, second in self.pairs:
            for code in (first, second):
                if code not in self.members:
                    raise ValueError(f"pairs: {code} is not a member")
        return self

    def has_terms(self, first: str, second: str) -> bool:
        return (first, second) in self.pairs or (second, first) in self.pairs


def load_router_config(router_dir: Path) -> RouterConfig:
    path = router_dir / ROUTER_FILENAME
    raw = read_toml(path, missing="no router configuration here")
    try:
        return RouterConfig.model_validate(raw.get("router", {}))
    except ValidationError as exc:
        raise ConfigError(describe(exc, f"{path}: router")) from exc


class RouterKeys:
    """The router's TLS material: its CA certificate, its key and certificate."""

    def __init__(self, router_dir: Path) -> None:
        keys = router_dir / KEYS_DIRNAME
        self.ca_certificate_pem = (keys / "ca.crt").read_bytes()
        self.tls_key_pem = read_private(keys / "tls.key")
        self.tls_certificate_pem = (keys / "tls.crt").read_bytes()


def init_router_keys(router_dir: Path, name: str) -> Path:
    """A CA and a TLS certificate for the router. No signing or key-agreement key:
    the router signs nothing and can open no envelope."""
    directory = router_dir / KEYS_DIRNAME
    ca = pki.create_ca("ROUTER")
    tls = pki.issue_node_certificate(ca, name, "ROUTER")
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    write_private(directory / "ca.key", ca.key_pem())
    write_public(directory / "ca.crt", ca.certificate_pem())
    write_private(directory / "tls.key", tls.key_pem())
    write_public(directory / "tls.crt", tls.certificate_pem())
    return directory
