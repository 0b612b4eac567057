"""Node folders, keys, signed agreements and the router folder, from a description.

Every member gets a keyed node folder (``node_<code>``, on a free loopback port)
and a ``membership.toml`` pinning the router's CA; every pair with terms signs
its agreement (both parties' signatures, installed in both folders); the router
gets its own CA and TLS certificate (no signing or key-agreement key) and a
``router.toml`` listing members' CAs and endpoints and the pairs with terms. The
same folders serve both topologies: mesh (members call each other) and router
(members call the router). Everything generated is synthetic.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import tomli_w

from biometric_exchange.agreement.terms import Purpose
from biometric_exchange.config import CONFIG_FILENAME, load_config
from biometric_exchange.crypto.keys import init_keys, load_keys
from biometric_exchange.federation.description import Federation
from biometric_exchange.node.membership import (
    MEMBERSHIP_FILENAME,
    Membership,
    load_membership,
    membership_document,
)
from biometric_exchange.router.config import ROUTER_FILENAME, init_router_keys
from biometric_exchange.workspace import free_port, init_agreement, purpose_allowed

ROUTER_NAME = "federation_router"


@dataclass(frozen=True)
class FederationFolders:
    nodes: dict[str, Path]
    """Node folder per member."""
    router: Path
    pairs: tuple[tuple[str, str], ...]
    """Pairs that signed an agreement."""


def node_name(code: str) -> str:
    return f"node_{code.lower()}"


def generate(
    federation: Federation,
    workdir: Path,
    *,
    threshold: float | None = None,
    terms_overrides: dict[str, Any] | None = None,
) -> FederationFolders:
    """Generate every folder under ``workdir`` (which must not hold them yet).

    ``terms_overrides`` is merged into every pair's terms last (a simulation's
    quotas over its whole run)."""
    terms_dir = workdir / "terms"
    terms_dir.mkdir(parents=True)
    pairs = federation.agreed_pairs()
    terms_files: dict[tuple[str, str], Path] = {}
    for first, second in pairs:
        terms = federation.terms(first, second)
        for key, value in (terms_overrides or {}).items():
            terms[key] = {**terms.get(key, {}), **value} if isinstance(value, dict) else value
        path = terms_dir / f"{first}-{second}.toml"
        path.write_text(tomli_w.dumps({"synthetic": True, "agreement": terms}), encoding="utf-8")
        terms_files[(first, second)] = path
    router_dir = workdir / ROUTER_NAME
    router_dir.mkdir()
    init_router_keys(router_dir, ROUTER_NAME)
    router_endpoint = f"127.0.0.1:{free_port()}"
    router_ca = (router_dir / "keys" / "ca.crt").read_text(encoding="utf-8")
    folders: dict[str, Path] = {}
    for code in federation.members:
        folders[code] = _node_folder(workdir, code, threshold, _partner_purposes(code, terms_files))
        write_membership(
            folders[code], Membership(ROUTER_NAME, router_endpoint, router_ca.encode())
        )
    for (first, second), path in terms_files.items():
        init_agreement(folders[first], folders[second], terms_file=path)
    _router_config(router_dir, federation, folders, router_endpoint, pairs)
    return FederationFolders(folders, router_dir, tuple(pairs))


def write_membership(node_dir: Path, membership: Membership) -> None:
    text = tomli_w.dumps({"synthetic": True, **membership_document(membership)})
    (node_dir / MEMBERSHIP_FILENAME).write_text(text, encoding="utf-8")


def choose_topology(folders: FederationFolders, topology: str) -> None:
    """Make every member's node process reach its partners through the router
    (``router``) or directly (``mesh``): ``membership.toml``'s ``route``."""
    if topology not in ("mesh", "router"):
        raise ValueError(f"topology: {topology!r} is neither mesh nor router")
    for node_dir in folders.nodes.values():
        membership = load_membership(node_dir)
        if membership is None:
            raise ValueError(f"{node_dir}: no {MEMBERSHIP_FILENAME}")
        write_membership(node_dir, replace(membership, route=topology == "router"))


def _node_folder(
    workdir: Path, code: str, threshold: float | None, purposes: dict[str, str]
) -> Path:
    name = node_name(code)
    directory = workdir / name
    directory.mkdir()
    config: dict[str, Any] = {
        "node": {"name": name, "country": code, "listen": f"127.0.0.1:{free_port()}"}
    }
    if threshold is not None:
        config["matching"] = {"threshold": threshold}
    if purposes:
        config["exchange"] = {"partner_purposes": purposes}
    (directory / CONFIG_FILENAME).write_text(tomli_w.dumps(config), encoding="utf-8")
    init_keys(directory, name, code)
    return directory


def _partner_purposes(code: str, terms_files: dict[tuple[str, str], Path]) -> dict[str, str]:
    """The purpose ``code`` states where an agreement does not allow border security."""
    stated = {}
    for pair, path in terms_files.items():
        if code in pair:
            purpose = purpose_allowed(path)
            if purpose != Purpose.BORDER_SECURITY.value:
                stated[next(c for c in pair if c != code)] = purpose
    return stated


def _router_config(
    router_dir: Path,
    federation: Federation,
    folders: dict[str, Path],
    endpoint: str,
    pairs: list[tuple[str, str]],
) -> None:
    members: dict[str, dict[str, str]] = {}
    for code, folder in folders.items():
        listen = load_config(folder).node.listen
        members[code] = {
            "endpoint": listen,
            "ca_certificate": load_keys(folder).ca_certificate_pem.decode(),
        }
    document = {
        "synthetic": True,
        "router": {
            "name": ROUTER_NAME,
            "listen": endpoint,
            "calls_per_member_per_day": federation.router.calls_per_member_per_day,
            "members": members,
            "pairs": [list(pair) for pair in pairs],
        },
    }
    (router_dir / ROUTER_FILENAME).write_text(tomli_w.dumps(document), encoding="utf-8")
