"""The agreement's ``step1.mode`` term: its default stays out of the hash, blind excludes
bands and template protection, and a node without TenSEAL refuses a blind agreement."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from biometric_exchange import agreement, blind
from biometric_exchange.agreement.terms import Purpose, Step1Mode, Step1Terms, Terms
from biometric_exchange.config import AGREEMENT_FILENAME
from biometric_exchange.exceptions import BlindUnavailable
from biometric_exchange.node.runtime import Node
from biometric_exchange.workspace import create_pair


def test_plain_is_the_default_and_stays_out_of_the_canonical_form(
    pair_dirs: tuple[Path, Path],
) -> None:
    document = agreement.load(pair_dirs[0] / AGREEMENT_FILENAME)
    assert document.agreement.step1.mode is Step1Mode.PLAIN
    # Agreements signed before the term existed keep their canonical form and signatures.
    assert b'"mode"' not in document.canonical_bytes()
    document.verify_signatures()


def test_a_blind_agreement_is_signed_with_its_mode(tmp_path: Path) -> None:
    chile, _panama = create_pair(tmp_path, step1_mode=Step1Mode.BLIND)
    document = agreement.load(chile / AGREEMENT_FILENAME)
    assert document.agreement.step1.mode is Step1Mode.BLIND
    assert b'"mode":"blind"' in document.canonical_bytes()
    document.verify_signatures()


def _terms(**step1: Any) -> dict[str, Any]:
    return {
        "id": "CHL-PAN-TEST",
        "version": 1,
        "title": "test",
        "effective_from": "2026-01-01",
        "effective_until": "2027-01-01",
        "purposes": [purpose.value for purpose in Purpose],
        "step1": step1,
    }


def test_blind_excludes_confidence_bands_and_template_protection() -> None:
    with pytest.raises(ValidationError, match="no distance to band"):
        Step1Terms(mode=Step1Mode.BLIND, confidence="banded")  # type: ignore[arg-type]
    raw = _terms(mode="blind") | {"template_protection": {"scheme": "iom"}}
    with pytest.raises(ValidationError, match="exclude each other"):
        Terms.model_validate(raw)
    assert Terms.model_validate(_terms(mode="blind")).step1.mode is Step1Mode.BLIND


def test_a_node_without_tenseal_refuses_a_blind_agreement_naming_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chile, _panama = create_pair(tmp_path, step1_mode=Step1Mode.BLIND)
    monkeypatch.setattr(blind, "available", lambda: False)
    with pytest.raises(BlindUnavailable, match=r"biometric-exchange\[blind\]"):
        Node.open(chile)
