"""The protection key: both parties derive it alone, and it changes with what it binds."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from biometric_exchange import agreement
from biometric_exchange.config import AGREEMENT_FILENAME
from biometric_exchange.crypto.keys import load_keys
from biometric_exchange.exceptions import ConfigError, InvalidInput
from biometric_exchange.protection import derive_protection_key

AGREEMENT = "CHL-PAN-20260101-ABC123"


@pytest.fixture(scope="module")
def parties() -> tuple[X25519PrivateKey, X25519PrivateKey]:
    return X25519PrivateKey.generate(), X25519PrivateKey.generate()


def test_both_parties_derive_the_same_key(
    parties: tuple[X25519PrivateKey, X25519PrivateKey],
) -> None:
    chile, panama = parties
    on_chile = derive_protection_key(chile, panama.public_key(), AGREEMENT, "biohash", 1)
    on_panama = derive_protection_key(panama, chile.public_key(), AGREEMENT, "biohash", 1)
    assert on_chile == on_panama
    assert len(on_chile) == 32


def test_epoch_agreement_scheme_and_partner_each_change_the_key(
    parties: tuple[X25519PrivateKey, X25519PrivateKey],
) -> None:
    chile, panama = parties
    stranger = X25519PrivateKey.generate()
    keys = {
        derive_protection_key(chile, panama.public_key(), AGREEMENT, "biohash", 1),
        derive_protection_key(chile, panama.public_key(), AGREEMENT, "biohash", 2),
        derive_protection_key(chile, panama.public_key(), "CHL-PAN-OTHER", "biohash", 1),
        derive_protection_key(chile, panama.public_key(), AGREEMENT, "rotation", 1),
        derive_protection_key(chile, stranger.public_key(), AGREEMENT, "biohash", 1),
    }
    assert len(keys) == 5


def test_nodes_derive_it_from_their_keys_and_the_pinned_partner_key(
    pair_dirs: tuple[Path, Path],
) -> None:
    """Each node: its own kex private key and the partner's kex key pinned in the agreement."""
    document = agreement.load(pair_dirs[0] / AGREEMENT_FILENAME)
    derived = []
    for node_dir in pair_dirs:
        keys = load_keys(node_dir)
        own = next(p for p in document.parties if p.kex_public == keys.kex_public)
        partner = document.partner_of(own.code)
        derived.append(
            derive_protection_key(keys.kex_key, partner.kex_public, document.id, "rotation", 1)
        )
    assert derived[0] == derived[1]


def test_bad_arguments_are_refused_by_name(
    parties: tuple[X25519PrivateKey, X25519PrivateKey],
) -> None:
    chile, panama = parties
    for epoch in (0, -1, True):
        with pytest.raises(InvalidInput, match="epoch: expected an integer >= 1"):
            derive_protection_key(chile, panama.public_key(), AGREEMENT, "biohash", epoch)
    with pytest.raises(InvalidInput, match="agreement_id"):
        derive_protection_key(chile, panama.public_key(), "", "biohash", 1)
    with pytest.raises(InvalidInput, match="scheme"):
        derive_protection_key(chile, panama.public_key(), AGREEMENT, "bio hash", 1)
    with pytest.raises(ConfigError, match="our own"):
        derive_protection_key(chile, chile.public_key(), AGREEMENT, "biohash", 1)
