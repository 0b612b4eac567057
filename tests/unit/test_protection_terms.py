"""The agreement's ``template_protection`` term: parsing, defaults, errors, the hash."""

from __future__ import annotations

from pathlib import Path

import pytest

from biometric_exchange import agreement
from biometric_exchange.agreement.document import parse
from biometric_exchange.agreement.policy import Policy
from biometric_exchange.agreement.terms import TemplateProtectionScheme, TemplateProtectionTerms
from biometric_exchange.config import AGREEMENT_FILENAME
from biometric_exchange.exceptions import ConfigError


def _with_term(pair_dirs: tuple[Path, Path], tmp_path: Path, table: str) -> Path:
    text = (pair_dirs[0] / AGREEMENT_FILENAME).read_text(encoding="utf-8")
    path = tmp_path / "with_protection.toml"
    path.write_text(f"{text}\n[agreement.template_protection]\n{table}\n", encoding="utf-8")
    return path


def test_the_term_defaults_to_none_and_stays_out_of_the_hash(
    pair_dirs: tuple[Path, Path],
) -> None:
    document = agreement.load(pair_dirs[0] / AGREEMENT_FILENAME)
    assert document.agreement.template_protection == TemplateProtectionTerms()
    assert Policy(document).template_protection.scheme is TemplateProtectionScheme.NONE
    assert Policy(document).template_protection.epoch == 1
    # Agreements signed before the term existed keep their canonical form and signatures.
    assert b"template_protection" not in document.canonical_bytes()
    assert "template_protection" not in agreement.dumps(document)


def test_a_scheme_and_epoch_parse_and_are_signed(
    pair_dirs: tuple[Path, Path], tmp_path: Path
) -> None:
    plain = agreement.load(pair_dirs[0] / AGREEMENT_FILENAME)
    path = _with_term(pair_dirs, tmp_path, 'scheme = "biohash"\nepoch = 3')
    document = parse(path)
    term = Policy(document).template_protection
    assert (term.scheme, term.epoch) == (TemplateProtectionScheme.BIOHASH, 3)
    assert b'"template_protection":{"epoch":3,"scheme":"biohash"}' in document.canonical_bytes()
    assert document.hash != plain.hash
    with pytest.raises(ConfigError, match="does not verify"):
        document.verify_signatures()  # the parties signed the terms without it
    assert parse(_written(document, tmp_path)).agreement.template_protection == term


def _written(document: agreement.AgreementDocument, tmp_path: Path) -> Path:
    path = tmp_path / "round_trip.toml"
    path.write_text(agreement.dumps(document), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            'scheme = "xor"',
            r"agreement\.template_protection\.scheme: Input should be 'none', 'rotation', "
            r"'biohash' or 'iom'",
        ),
        (
            'scheme = "rotation"\nepoch = 0',
            r"agreement\.template_protection\.epoch: Input should be greater than or equal to 1",
        ),
        ('scheme = "rotation"\nkey = "abc"', r"agreement\.template_protection\.key: Extra"),
    ],
)
def test_bad_terms_are_refused_naming_the_field(
    pair_dirs: tuple[Path, Path], tmp_path: Path, table: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        parse(_with_term(pair_dirs, tmp_path, table))
