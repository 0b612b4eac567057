"""The signed bilateral agreement and a node's configuration file."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import tomllib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from biometric_exchange import agreement
from biometric_exchange.config import AGREEMENT_FILENAME, CONFIG_FILENAME, load_config
from biometric_exchange.crypto.files import write_private
from biometric_exchange.crypto.keys import encode_public, init_keys, load_keys
from biometric_exchange.exceptions import AgreementMismatch, ConfigError
from biometric_exchange.node.runtime import Node


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _text(node_dir: Path) -> str:
    return (node_dir / AGREEMENT_FILENAME).read_text(encoding="utf-8")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "edited_agreement.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _signature(node_dir: Path, code: str) -> str:
    signatures: dict[str, str] = tomllib.loads(_text(node_dir))["signatures"]
    return signatures[code]


def _pem(key: Ed25519PrivateKey | X25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{old!r} should occur once in the agreement"
    return text.replace(old, new)


# --- loading a good agreement ------------------------------------------------


def test_both_nodes_load_the_same_agreement(pair_dirs: tuple[Path, Path]) -> None:
    chile, panama = pair_dirs
    assert _text(chile) == _text(panama)
    on_chile = agreement.load(chile / AGREEMENT_FILENAME)
    on_panama = agreement.load(panama / AGREEMENT_FILENAME)

    assert on_chile.hash == on_panama.hash
    assert re.fullmatch(r"[0-9a-f]{64}", on_chile.hash)
    assert on_chile.hash == hashlib.sha256(on_chile.canonical_bytes()).hexdigest()
    assert b"signatures" not in on_chile.canonical_bytes()
    assert [p.code for p in on_chile.parties] == ["CHL", "PAN"]
    assert on_chile.partner_of("CHL").code == "PAN"
    assert on_chile.partner_of("PAN").code == "CHL"
    assert on_chile.synthetic is True
    assert on_chile.agreement.scope.population is agreement.Scope.EXTRA_REGIONAL
    assert on_chile.agreement.step1.max_candidates == 3
    assert set(on_chile.signatures) == {"CHL", "PAN"}


def test_both_signatures_verify_against_each_partys_own_key(
    pair_dirs: tuple[Path, Path],
) -> None:
    chile, panama = pair_dirs
    document = agreement.load(chile / AGREEMENT_FILENAME)
    document.verify_signatures()  # raises if either fails
    for node_dir, code in ((chile, "CHL"), (panama, "PAN")):
        keys = load_keys(node_dir)
        assert document.party(code).signing_key == encode_public(keys.signing_public)
        # Re-signing with the party's key reproduces its signature (Ed25519 is deterministic).
        assert document.signed_by(code, keys.signing_key).signatures == document.signatures


def test_party_lookup_refuses_a_third_country(pair_dirs: tuple[Path, Path]) -> None:
    document = agreement.load(pair_dirs[0] / AGREEMENT_FILENAME)
    with pytest.raises(AgreementMismatch, match=r"COL is not a party to agreement"):
        document.party("COL")


# --- edited terms break the signatures ---------------------------------------


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("max_candidates = 3", "max_candidates = 4"),
        ("max_probes_per_request = 64", "max_probes_per_request = 65"),
        ('population = "extra_regional"', 'population = "all"'),
        ("minimum_age = 0", "minimum_age = 1"),
        ('approval = "manual"', 'approval = "automatic"'),
        ("probes_per_day = 10000", "probes_per_day = 10001"),
        ("audit_days = 730", "audit_days = 365"),
        ("revoked_keys = []", 'revoked_keys = ["' + "0" * 64 + '"]'),
        ('disclosure = "hit_and_category"', 'disclosure = "hit_only"'),
        ('"humanitarian_protection",\n    "missing_persons",\n]', '"humanitarian_protection",\n]'),
        ('title = "Chile', 'title = "Amended Chile'),
    ],
    ids=[
        "max_candidates",
        "max_probes",
        "scope",
        "minimum_age",
        "approval",
        "quota",
        "audit_retention",
        "revocation",
        "disclosure",
        "purposes",
        "title",
    ],
)
def test_editing_a_term_breaks_the_signatures(
    pair_dirs: tuple[Path, Path], tmp_path: Path, old: str, new: str
) -> None:
    edited = _write(tmp_path, _replace_once(_text(pair_dirs[0]), old, new))
    with pytest.raises(ConfigError, match=r": signatures\.CHL does not verify$"):
        agreement.load(edited)


def test_editing_a_party_entry_breaks_the_signatures(
    pair_dirs: tuple[Path, Path], tmp_path: Path
) -> None:
    document = agreement.load(pair_dirs[0] / AGREEMENT_FILENAME)
    pan = document.party("PAN")
    text = _text(pair_dirs[0])
    port = pan.endpoint.rsplit(":", 1)[1]
    moved = _replace_once(text, f'endpoint = "{pan.endpoint}"', f'endpoint = "10.0.0.9:{port}"')
    with pytest.raises(ConfigError, match=r"signatures\.CHL does not verify"):
        agreement.load(_write(tmp_path, moved))

    intruder = encode_public(Ed25519PrivateKey.generate().public_key())
    swapped = _replace_once(
        text, f'signing_key = "{pan.signing_key}"', f'signing_key = "{intruder}"'
    )
    with pytest.raises(ConfigError, match=r"signatures\.CHL does not verify"):
        agreement.load(_write(tmp_path, swapped))


def test_one_party_cannot_change_the_terms_alone(
    pair_dirs: tuple[Path, Path], tmp_path: Path
) -> None:
    chile = pair_dirs[0]
    raw = tomllib.loads(_text(chile))
    raw["agreement"]["step1"]["max_candidates"] = 10
    raw["signatures"] = {}
    changed = agreement.AgreementDocument.model_validate(raw).signed_by(
        "CHL", load_keys(chile).signing_key
    )
    # Chile re-signed the changed terms; Panama's old signature no longer fits.
    changed = changed.model_copy(
        update={
            "signatures": {
                "CHL": changed.signatures["CHL"],
                "PAN": _signature(chile, "PAN"),
            }
        }
    )
    path = _write(tmp_path, agreement.dumps(changed))
    with pytest.raises(ConfigError, match=r"signatures\.PAN does not verify"):
        agreement.load(path)


@pytest.mark.parametrize("code", ["CHL", "PAN"])
def test_a_missing_signature_is_named(
    pair_dirs: tuple[Path, Path], tmp_path: Path, code: str
) -> None:
    text = _text(pair_dirs[0])
    line = f'{code} = "{_signature(pair_dirs[0], code)}"\n'
    path = _write(tmp_path, _replace_once(text, line, ""))
    with pytest.raises(ConfigError, match=rf"signatures\.{code} is missing"):
        agreement.load(path)


def test_a_signature_that_is_not_base64_is_named(
    pair_dirs: tuple[Path, Path], tmp_path: Path
) -> None:
    text = _text(pair_dirs[0])
    signature = _signature(pair_dirs[0], "PAN")
    path = _write(tmp_path, _replace_once(text, f'"{signature}"', '"not base64 at all!"'))
    with pytest.raises(ConfigError, match=r"signatures\.PAN does not verify"):
        agreement.load(path)


# --- pins, validity, format --------------------------------------------------


def test_a_wrong_ca_fingerprint_is_named(pair_dirs: tuple[Path, Path], tmp_path: Path) -> None:
    document = agreement.load(pair_dirs[0] / AGREEMENT_FILENAME)
    chl, pan = document.party("CHL"), document.party("PAN")
    text = _text(pair_dirs[0])
    wrong = _replace_once(
        text, f'ca_fingerprint = "{chl.ca_fingerprint}"', f'ca_fingerprint = "{pan.ca_fingerprint}"'
    )
    with pytest.raises(
        ConfigError, match=r"parties\.0: party CHL: ca_fingerprint does not match ca_certificate"
    ):
        agreement.load(_write(tmp_path, wrong))


def test_validity_window_is_inclusive_and_enforced(pair_dirs: tuple[Path, Path]) -> None:
    document = agreement.load(pair_dirs[0] / AGREEMENT_FILENAME)
    terms = document.agreement
    document.check_in_force(terms.effective_from)
    document.check_in_force(terms.effective_until)

    day = dt.timedelta(days=1)
    with pytest.raises(AgreementMismatch, match=r"is not yet in force \(from "):
        document.check_in_force(terms.effective_from - day)
    with pytest.raises(AgreementMismatch, match=rf"expired on {terms.effective_until}"):
        document.check_in_force(terms.effective_until + day)


def test_a_non_synthetic_agreement_is_refused(pair_dirs: tuple[Path, Path], tmp_path: Path) -> None:
    text = _replace_once(_text(pair_dirs[0]), "synthetic = true", "synthetic = false")
    with pytest.raises(ConfigError, match=r"synthetic: this implementation runs on synthetic data"):
        agreement.load(_write(tmp_path, text))


def test_invalid_toml_is_a_config_error(pair_dirs: tuple[Path, Path], tmp_path: Path) -> None:
    text = _text(pair_dirs[0]) + "\n[[[ not toml\n"
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}: not valid TOML"):
        agreement.load(path)


def test_a_missing_agreement_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no agreement here; create one with `bx agreement init"):
        agreement.load(tmp_path / AGREEMENT_FILENAME)


def test_two_parties_of_the_same_country_are_refused(
    pair_dirs: tuple[Path, Path], tmp_path: Path
) -> None:
    text = _replace_once(_text(pair_dirs[0]), 'code = "PAN"', 'code = "CHL"')
    with pytest.raises(ConfigError, match=r"parties must be two different countries"):
        agreement.load(_write(tmp_path, text))


def test_an_unknown_party_country_is_named(pair_dirs: tuple[Path, Path], tmp_path: Path) -> None:
    text = _replace_once(_text(pair_dirs[0]), 'code = "PAN"', 'code = "ZZZ"')
    with pytest.raises(ConfigError, match=r"parties\.1\.code: 'ZZZ' is not an ISO 3166-1"):
        agreement.load(_write(tmp_path, text))


# --- a node's keys must be the ones the agreement pins -----------------------


def test_node_opens_with_the_keys_the_agreement_pins(pair_dirs: tuple[Path, Path]) -> None:
    node = Node.open(pair_dirs[0])
    try:
        assert node.country == "CHL"
        assert node.partner_codes == ["PAN"]
        link = node.link("PAN")
        assert link.agreement.hash == agreement.load(pair_dirs[1] / AGREEMENT_FILENAME).hash
    finally:
        node.database.close()


def test_node_with_regenerated_keys_is_refused(pair_dirs: tuple[Path, Path]) -> None:
    chile = pair_dirs[0]
    init_keys(chile, "node_chile", "CHL", overwrite=True)
    with pytest.raises(ConfigError, match=r"is not the (CA|key) the agreement pins for CHL"):
        Node.open(chile)
    assert not (chile / "data").exists()


def test_node_with_a_replaced_signing_key_is_refused(pair_dirs: tuple[Path, Path]) -> None:
    chile = pair_dirs[0]
    write_private(
        chile / "keys" / "signing.key", _pem(Ed25519PrivateKey.generate()), overwrite=True
    )
    with pytest.raises(
        ConfigError, match=r"keys/signing\.key is not the key the agreement pins for CHL"
    ):
        Node.open(chile)


def test_node_with_a_replaced_kex_key_is_refused(pair_dirs: tuple[Path, Path]) -> None:
    panama = pair_dirs[1]
    write_private(panama / "keys" / "kex.key", _pem(X25519PrivateKey.generate()), overwrite=True)
    with pytest.raises(
        ConfigError, match=r"keys/kex\.key is not the key the agreement pins for PAN"
    ):
        Node.open(panama)


# --- node.toml ---------------------------------------------------------------

GOOD_CONFIG = '[node]\nname = "node_chile"\ncountry = "CHL"\nlisten = "127.0.0.1:50051"\n'


def _config_dir(tmp_path: Path, text: str) -> Path:
    (tmp_path / CONFIG_FILENAME).write_text(text, encoding="utf-8")
    return tmp_path


def test_a_good_config_loads_with_defaults(tmp_path: Path) -> None:
    config = load_config(_config_dir(tmp_path, GOOD_CONFIG.replace('"CHL"', '"chl"')))
    assert config.node.name == "node_chile"
    assert config.node.country == "CHL"
    assert config.node.listen == "127.0.0.1:50051"
    assert 0 < config.matching.threshold <= 2
    assert config.matching.max_candidates == 3
    assert config.exchange.request_timeout_s == 10.0


def test_the_extraction_section_is_optional_and_overridable(tmp_path: Path) -> None:
    defaults = load_config(_config_dir(tmp_path, GOOD_CONFIG)).extraction
    assert (defaults.near_duplicate_fraction, defaults.recent_probes, defaults.axis_share) == (
        0.1,
        4096,
        0.9,
    )
    assert (defaults.max_hits_per_entry_per_day, defaults.strikes_before_hold) == (4, 3)
    text = GOOD_CONFIG + "\n[extraction]\nmax_hits_per_entry_per_day = 8\nrecent_probes = 512\n"
    chosen = load_config(_config_dir(tmp_path, text)).extraction
    assert (chosen.max_hits_per_entry_per_day, chosen.recent_probes, chosen.axis_share) == (
        8,
        512,
        0.9,
    )


def test_the_evidence_cap_defaults_and_can_be_set(tmp_path: Path) -> None:
    assert load_config(_config_dir(tmp_path, GOOD_CONFIG)).alerts.max_evidence_per_alert == 500
    text = GOOD_CONFIG + "\n[alerts]\nmax_evidence_per_alert = 40\n"
    assert load_config(_config_dir(tmp_path, text)).alerts.max_evidence_per_alert == 40


def test_pair_dirs_configs_load(pair_dirs: tuple[Path, Path]) -> None:
    chile, panama = (load_config(d) for d in pair_dirs)
    assert (chile.node.name, chile.node.country) == ("node_chile", "CHL")
    assert (panama.node.name, panama.node.country) == ("node_panama", "PAN")
    assert chile.node.listen != panama.node.listen


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD_CONFIG.replace('"CHL"', '"ZZZ"'), r"node\.country: 'ZZZ' is not an ISO 3166-1"),
        (GOOD_CONFIG.replace('"CHL"', '"CL"'), r"node\.country: 'CL' is not an ISO 3166-1"),
        (
            GOOD_CONFIG.replace("127.0.0.1:50051", "127.0.0.1 50051"),
            r"node\.listen: String should match pattern",
        ),
        (
            GOOD_CONFIG.replace("127.0.0.1:50051", "127.0.0.1:99999"),
            r"node\.listen: port must be between 0 and 65535",
        ),
        (GOOD_CONFIG.replace("country", "contry"), r"node\.contry: Extra inputs are not permitted"),
        (GOOD_CONFIG + "\n[matching]\ntreshold = 0.5\n", r"matching\.treshold: Extra inputs"),
        (GOOD_CONFIG + "\n[matchng]\nthreshold = 0.5\n", r"matchng: Extra inputs"),
        (GOOD_CONFIG + "\n[matching]\nthreshold = 2.5\n", r"matching\.threshold: .*less than or"),
        (GOOD_CONFIG + "\n[matching]\nthreshold = 0\n", r"matching\.threshold: .*greater than 0"),
        (
            GOOD_CONFIG + "\n[matching]\nthreshold = -0.1\n",
            r"matching\.threshold: .*greater than 0",
        ),
        (GOOD_CONFIG.replace('"node_chile"', '"Node Chile"'), r"node\.name: String should match"),
        ("[node]\n[[[", r"not valid TOML"),
        (GOOD_CONFIG + '\n[exchange]\npurpose = "border_securty"\n', r"exchange\.purpose: Input"),
        (
            GOOD_CONFIG + "\n[extraction]\nnear_duplicate_fraction = 1.5\n",
            r"extraction\.near_duplicate_fraction: .*less than 1",
        ),
        (GOOD_CONFIG + "\n[extraction]\nstrikes = 3\n", r"extraction\.strikes: Extra inputs"),
        (
            GOOD_CONFIG + "\n[alerts]\nmax_evidence_per_alert = 5\n",
            r"alerts\.max_evidence_per_alert: .*greater than or equal to 10",
        ),
        (
            GOOD_CONFIG + "\n[alerts]\nmax_evidence_per_alert = 1000000\n",
            r"alerts\.max_evidence_per_alert: .*less than or equal to 100000",
        ),
    ],
    ids=[
        "country",
        "country-alpha2",
        "listen",
        "port",
        "typo-key",
        "typo-nested",
        "typo-section",
        "threshold-high",
        "threshold-zero",
        "threshold-negative",
        "name",
        "toml",
        "purpose-typo",
        "extraction-fraction",
        "extraction-typo",
        "evidence-cap-low",
        "evidence-cap-high",
    ],
)
def test_config_errors_name_the_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    node_dir = _config_dir(tmp_path, text)
    prefix = re.escape(str(node_dir / CONFIG_FILENAME))
    # One line per problem, each "file: field: problem".
    with pytest.raises(ConfigError, match=rf"(?m)^{prefix}: {message}"):
        load_config(node_dir)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError,
        match=rf"^{re.escape(str(tmp_path / CONFIG_FILENAME))}: no node configuration here$",
    ):
        load_config(tmp_path)
