"""Blind identify under encryption: the holder's context holds no secret key, bad
ciphertexts and contexts are refused, and blind decisions equal plain matching."""

from __future__ import annotations

import dataclasses
import typing

import numpy as np
import pytest

from biometric_exchange.blind.holder import BlindGallery, evaluate
from biometric_exchange.blind.keys import SecretContext
from biometric_exchange.blind.params import MARGIN, SCHEME
from biometric_exchange.blind.public import ContextBlob, EncryptedProbe, PublicContext
from biometric_exchange.blind.requester import decide, decrypt_values, encrypt_probe
from biometric_exchange.blind.seal import engine, galois_element
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.synthetic.templates import TemplateModel

THRESHOLD = 0.6


@pytest.fixture(scope="module")
def keys() -> SecretContext:
    return SecretContext()


@pytest.fixture(scope="module")
def public(keys: SecretContext) -> PublicContext:
    return PublicContext(keys.blob)


def test_the_holders_context_cannot_hold_a_secret_key(
    keys: SecretContext, public: PublicContext
) -> None:
    # The holder evaluates with a PublicContext, a type with no place for a secret key
    # (mypy refuses holder code that reaches for one), and never sees a SecretContext.
    assert typing.get_type_hints(evaluate)["context"] is PublicContext
    assert "secret_key" not in PublicContext.__slots__
    assert not issubclass(SecretContext, PublicContext)
    assert keys.is_private() and not public.is_private()
    assert not hasattr(public, "secret_key")
    with pytest.raises(AttributeError):
        public.secret_key = keys.secret_key  # type: ignore[attr-defined]
    assert public.digest == keys.digest


def test_a_context_with_a_secret_key_in_place_of_the_public_key_is_refused(
    keys: SecretContext,
) -> None:
    secret_bytes = engine()._save(keys.secret_key.raw)
    with pytest.raises(InvalidInput, match="public_key"):
        PublicContext(dataclasses.replace(keys.blob, public_key=secret_bytes))


def test_a_context_of_another_scheme_or_without_rotation_keys_is_refused(
    keys: SecretContext,
) -> None:
    with pytest.raises(InvalidInput, match="scheme"):
        PublicContext(dataclasses.replace(keys.blob, scheme=SCHEME + "-other"))
    seal = engine()
    generator = seal.api.KeyGenerator(seal.context)
    only_one = seal._save(generator.create_galois_keys([galois_element(1)]))
    with pytest.raises(InvalidInput, match="rotation keys missing"):
        PublicContext(dataclasses.replace(keys.blob, galois_keys=only_one))
    with pytest.raises(InvalidInput):
        PublicContext(ContextBlob(SCHEME, b"\x00" * 64, keys.blob.galois_keys))


def test_tampered_truncated_or_misplaced_ciphertexts_are_refused(
    keys: SecretContext, public: PublicContext
) -> None:
    gallery = BlindGallery(np.zeros((3, 128), np.float32), THRESHOLD)
    probe = encrypt_probe(keys, np.full(128, 0.05, np.float32))
    header_flipped = bytes([probe.template[0] ^ 0xFF]) + probe.template[1:]
    for bad in (probe.template[:-100], header_flipped, b"not a ciphertext"):
        with pytest.raises(InvalidInput, match="encrypted_template"):
            evaluate(public, EncryptedProbe(bad, probe.norm), gallery)
    reply = evaluate(public, probe, gallery).blocks[0]
    # A reply block (last level) is no probe (top level).
    with pytest.raises(InvalidInput, match="encrypted_norm"):
        evaluate(public, EncryptedProbe(probe.template, reply), gallery)


def test_a_probe_too_long_to_be_a_face_is_not_sent() -> None:
    with pytest.raises(InvalidInput, match="norm"):
        encrypt_probe(SecretContext.__new__(SecretContext), np.ones(128, np.float32))


def test_blind_decisions_are_plain_matching_and_the_threshold_itself_is_undecided(
    keys: SecretContext, public: PublicContext
) -> None:
    model = TemplateModel()
    rng = np.random.default_rng(2017)
    latents = model.latents(rng, 600)
    templates = model.captures(latents, rng, max_noise_factor=1.0)
    gallery = BlindGallery(templates, THRESHOLD)
    on_the_threshold = templates[9].astype(np.float64)
    on_the_threshold[0] += THRESHOLD
    probes = [
        *model.captures(latents[:3], rng),
        *model.captures(model.latents(rng, 2), rng),
        on_the_threshold.astype(np.float32),
    ]
    exact = [
        set(np.flatnonzero(((templates.astype(np.float64) - p) ** 2).sum(1) < THRESHOLD**2))
        for p in probes
    ]
    assert exact[:3] == [{0}, {1}, {2}] and exact[3:5] == [set(), set()]
    for probe, expected in zip(probes, exact, strict=True):
        evaluation = evaluate(public, encrypt_probe(keys, probe), gallery)
        values = decrypt_values(keys, evaluation.blocks)
        decisions = decide(values)
        rows = evaluation.layout.rows
        assert all(rows[slot] >= 0 for slot in decisions.hits), "no decoy reads as a hit"
        if probe is probes[-1]:  # 0.6 from entry 9, to float32 rounding: not claimed
            assert (decisions.hits, decisions.undecided) == ((), 1)
        else:
            assert {int(rows[slot]) for slot in decisions.hits} == expected
            assert decisions.undecided == 0
        # The CKKS error on every entry's value stays far inside the margin.
        entry = rows >= 0
        truth = THRESHOLD**2 - ((templates[rows[entry]].astype(np.float64) - probe) ** 2).sum(1)
        low = values.real[entry] / evaluation.masks.r[entry] + MARGIN
        assert np.abs(low - truth).max() < MARGIN / 4
