"""Protobuf ↔ domain conversion of Identify requests and responses."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from google.protobuf.descriptor import FieldDescriptor

from biometric_exchange.agreement.commitment import commit
from biometric_exchange.agreement.policy import ScopeFacts
from biometric_exchange.agreement.terms import ScopeRule
from biometric_exchange.domain import TEMPLATE_DIM, TEMPLATE_MODEL, Template, validate_template
from biometric_exchange.exceptions import InvalidInput, InvalidTemplate
from biometric_exchange.serde.common import MAX_REF_LENGTH, template_from_proto, template_to_proto
from biometric_exchange.serde.identify import (
    HitOut,
    IdentifyQuery,
    ProbeIn,
    identify_request_from_bytes,
    identify_request_to_bytes,
    identify_response_from_bytes,
    identify_response_to_bytes,
)
from biometric_exchange.serde.sightings import (
    Sighting,
    sightings_request_from_bytes,
    sightings_request_to_bytes,
)
from biometric_exchange.v1 import exchange_pb2 as pb

MOMENT = dt.datetime(2026, 11, 20, 10, 0, 0, 123000, tzinfo=dt.UTC)


FACTS = ScopeFacts("CHN", 31, None)


def _templates(count: int, seed: int = 7) -> list[Template]:
    rng = np.random.default_rng(seed)
    return [validate_template(rng.normal(0.0, 0.1, TEMPLATE_DIM)) for _ in range(count)]


def _query(
    refs: tuple[str, ...] = ("PAN-ENC-0001", "PAN-ENC-0002", "PAN-ENC-0003"),
) -> IdentifyQuery:
    templates = _templates(len(refs))
    return IdentifyQuery(
        purpose="border_security",
        probes=tuple(
            ProbeIn(ref, template, ScopeRule.STANDARD, _commitment(ref, i))
            for i, (ref, template) in enumerate(zip(refs, templates, strict=True))
        ),
        max_candidates=3,
    )


def _commitment(ref: str, i: int) -> bytes:
    moment_ms = int((MOMENT + dt.timedelta(seconds=i)).timestamp() * 1000)
    return commit(ref, ScopeRule.STANDARD, FACTS, f"PAN-POINT-{i}", moment_ms).commitment


def _message(query: IdentifyQuery | None = None) -> pb.IdentifyRequest:
    message = pb.IdentifyRequest()
    message.ParseFromString(identify_request_to_bytes(query or _query()))
    return message


# --- requests ----------------------------------------------------------------


def test_identify_request_round_trip_is_bit_identical() -> None:
    query = _query()
    body = identify_request_to_bytes(query)
    assert body == identify_request_to_bytes(query)  # deterministic
    decoded = identify_request_from_bytes(body)

    assert decoded.purpose == "border_security"
    assert decoded.max_candidates == 3
    assert len(decoded.probes) == 3
    for got, sent in zip(decoded.probes, query.probes, strict=True):
        assert got.probe_ref == sent.probe_ref
        assert got.scope_rule is ScopeRule.STANDARD
        assert got.commitment == sent.commitment
        assert got.template.dtype == np.float32
        assert got.template.tobytes() == sent.template.tobytes()
        assert not got.template.flags.writeable


def test_templates_travel_as_little_endian_float32() -> None:
    template = _templates(1)[0]
    message = template_to_proto(template)
    assert message.dim == TEMPLATE_DIM
    assert message.model_id == TEMPLATE_MODEL
    assert message.values == template.astype("<f4").tobytes()
    assert len(message.values) == TEMPLATE_DIM * 4
    back = template_from_proto(message, field_name="t")
    assert back.tobytes() == template.tobytes()


def test_a_probe_carries_nothing_about_the_person() -> None:
    """Template, rule and commitment: no nationality, age, category, place or time."""
    fields = {f.name for f in pb.Probe.DESCRIPTOR.fields}
    assert fields == {"probe_ref", "template", "scope_rule", "scope_commitment"}
    message = _message()
    assert {f.name for f, _ in message.probes[0].ListFields()} == fields


def test_a_probe_without_a_stated_rule_is_refused() -> None:
    message = _message()
    message.probes[1].scope_rule = pb.SCOPE_RULE_UNSPECIFIED
    with pytest.raises(InvalidInput, match=r"^probes\[1\]\.scope_rule: no scope rule stated$"):
        identify_request_from_bytes(message.SerializeToString())


@pytest.mark.parametrize("length", [0, 31, 33, 4096])
def test_a_commitment_of_the_wrong_length_is_refused(length: int) -> None:
    message = _message()
    message.probes[0].scope_commitment = b"c" * length
    with pytest.raises(InvalidInput, match=r"^probes\[0\]\.scope_commitment: 32 bytes expected$"):
        identify_request_from_bytes(message.SerializeToString())


def test_commitments_bind_the_facts_and_hide_them_behind_a_salt() -> None:
    first = commit("p1", ScopeRule.STANDARD, FACTS, "PAN-POINT-0", 1000)
    again = commit("p1", ScopeRule.STANDARD, FACTS, "PAN-POINT-0", 1000)
    assert first.commitment != again.commitment  # fresh salt: not guessable from the facts
    reopened = type(first).from_json(first.canonical_facts().decode(), first.salt)
    assert reopened.commitment == first.commitment
    older = ScopeFacts("CHN", 32, None)
    other = type(first)("p1", ScopeRule.STANDARD, older, "PAN-POINT-0", 1000, first.salt)
    assert other.commitment != first.commitment


def test_duplicate_probe_refs_are_refused() -> None:
    body = identify_request_to_bytes(_query(("same", "other", "same")))
    with pytest.raises(InvalidInput, match=r"^probes\[2\]\.probe_ref: duplicate reference$"):
        identify_request_from_bytes(body)


@pytest.mark.parametrize(
    "ref",
    ["", "x" * (MAX_REF_LENGTH + 1), "line\nbreak", "tab\there"],
    ids=["empty", "too-long", "newline", "tab"],
)
def test_bad_probe_refs_are_refused(ref: str) -> None:
    body = identify_request_to_bytes(_query(("fine", ref)))
    with pytest.raises(
        InvalidInput, match=rf"^probes\[1\]\.probe_ref: must be 1 to {MAX_REF_LENGTH} printable"
    ):
        identify_request_from_bytes(body)


def test_a_ref_of_exactly_the_maximum_length_is_accepted() -> None:
    ref = "r" * MAX_REF_LENGTH
    decoded = identify_request_from_bytes(identify_request_to_bytes(_query((ref,))))
    assert decoded.probes[0].probe_ref == ref


def test_wrong_template_dimension_is_refused() -> None:
    message = _message()
    message.probes[1].template.dim = 127
    with pytest.raises(
        InvalidTemplate, match=r"^probes\[1\]\.template: expected dimension 128, got 127$"
    ):
        identify_request_from_bytes(message.SerializeToString())


def test_wrong_template_model_is_refused() -> None:
    message = _message()
    message.probes[0].template.model_id = "arcface_r100"
    with pytest.raises(
        InvalidTemplate, match=r"^probes\[0\]\.template: unsupported template model 'arcface_r100'"
    ):
        identify_request_from_bytes(message.SerializeToString())


@pytest.mark.parametrize("length", [0, 4, 508, 516, 1024])
def test_wrong_template_byte_length_is_refused(length: int) -> None:
    message = _message()
    message.probes[2].template.values = bytes(length)
    with pytest.raises(
        InvalidTemplate, match=rf"^probes\[2\]\.template: expected 512 bytes, got {length}$"
    ):
        identify_request_from_bytes(message.SerializeToString())


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_template_bytes_are_refused(bad: float) -> None:
    values = np.zeros(TEMPLATE_DIM, dtype="<f4")
    values[5] = bad
    message = _message()
    message.probes[0].template.values = values.tobytes()
    with pytest.raises(InvalidTemplate, match=r"^probes\[0\]\.template: values must be finite"):
        identify_request_from_bytes(message.SerializeToString())


@pytest.mark.parametrize(
    "body",
    [b"\xff\xff\xff", b"garbage bytes that are not a protobuf", b"\x0a\x05ab"],
    ids=["invalid-tag", "text", "truncated"],
)
def test_garbage_request_bytes_are_refused(body: bytes) -> None:
    with pytest.raises(InvalidInput, match=r"^identify request: not a valid message$"):
        identify_request_from_bytes(body)


def test_template_errors_are_input_errors() -> None:
    assert issubclass(InvalidTemplate, InvalidInput)


# --- responses ---------------------------------------------------------------


def test_identify_response_round_trip() -> None:
    results = {
        "PAN-ENC-0001": [
            HitOut("HR-1a2b", "arrest_warrant", "strong"),
            HitOut("HR-3c4d", "missing_person"),
        ],
        "PAN-ENC-0002": [],
    }
    body = identify_response_to_bytes(results)
    decoded = identify_response_from_bytes(body)

    assert list(decoded) == ["PAN-ENC-0001", "PAN-ENC-0002"]
    assert decoded["PAN-ENC-0002"] == []
    assert decoded["PAN-ENC-0001"] == results["PAN-ENC-0001"]

    message = pb.IdentifyResponse()
    message.ParseFromString(body)
    assert [r.hit for r in message.results] == [True, False]


def test_a_step1_reply_has_no_numeric_score_field() -> None:
    """Nothing continuous crosses in a reply: no distance, no rank, no float anywhere."""
    numeric = {
        FieldDescriptor.TYPE_FLOAT,
        FieldDescriptor.TYPE_DOUBLE,
        FieldDescriptor.TYPE_INT32,
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_UINT32,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_SINT32,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_FIXED32,
        FieldDescriptor.TYPE_FIXED64,
    }
    seen = []
    pending = [pb.IdentifyResponse.DESCRIPTOR]
    while pending:
        descriptor = pending.pop()
        for field in descriptor.fields:
            seen.append(field.name)
            assert field.type not in numeric, f"{descriptor.name}.{field.name} is numeric"
            if field.message_type is not None:
                pending.append(field.message_type)
    assert "distance" not in seen and "rank" not in seen
    assert {"hit_reference", "category", "confidence", "hit"} <= set(seen)


def test_garbage_response_bytes_are_refused() -> None:
    with pytest.raises(InvalidInput, match=r"^identify response: not a valid message$"):
        identify_response_from_bytes(b"\xff\xff\xff")


@pytest.mark.parametrize("reference", ["", "h" * (MAX_REF_LENGTH + 1), "bad\x00ref"])
def test_bad_hit_references_in_a_response_are_refused(reference: str) -> None:
    body = identify_response_to_bytes({"p1": [HitOut(reference, "arrest_warrant")]})
    with pytest.raises(
        InvalidInput, match=r"^results\[0\]\.hit_reference: must be 1 to 64 printable"
    ):
        identify_response_from_bytes(body)


def test_duplicate_probe_refs_in_a_response_are_refused() -> None:
    """A later result must not silently replace an earlier one's hits."""
    message = pb.IdentifyResponse(
        results=[
            pb.ProbeResult(probe_ref="p1", hit=True, hits=[pb.Hit(hit_reference="H-1")]),
            pb.ProbeResult(probe_ref="p1", hit=False),
        ]
    )
    with pytest.raises(InvalidInput, match=r"^results\[1\]\.probe_ref: duplicate reference$"):
        identify_response_from_bytes(message.SerializeToString())


def test_empty_probe_ref_in_a_response_is_refused() -> None:
    message = pb.IdentifyResponse(results=[pb.ProbeResult(probe_ref="", hit=False)])
    with pytest.raises(InvalidInput, match=r"^results\[0\]\.probe_ref: must be 1 to 64"):
        identify_response_from_bytes(message.SerializeToString())


# --- sightings ---------------------------------------------------------------


def _sightings(count: int = 2) -> list[Sighting]:
    return [
        Sighting(f"HIT-{i}", f"PAN-POINT-{i}", MOMENT + dt.timedelta(seconds=i))
        for i in range(count)
    ]


def test_sightings_round_trip() -> None:
    sightings = _sightings()
    assert sightings_request_from_bytes(sightings_request_to_bytes(sightings), limit=5) == sightings


def test_more_sightings_than_hits_can_make_are_refused() -> None:
    with pytest.raises(InvalidInput, match=r"^sightings: 1 to 2 expected, got 3$"):
        sightings_request_from_bytes(sightings_request_to_bytes(_sightings(3)), limit=2)


def test_a_sighting_twice_in_one_request_is_refused() -> None:
    twice = [*_sightings(1), *_sightings(1)]
    with pytest.raises(InvalidInput, match=r"^sightings\[1\]\.hit_reference: duplicate"):
        sightings_request_from_bytes(sightings_request_to_bytes(twice), limit=5)


@pytest.mark.parametrize("moment_ms", [10**15, 2**63 - 1, -1])
def test_sighting_times_out_of_range_are_malformed(moment_ms: int) -> None:
    message = pb.SightingsRequest()
    message.ParseFromString(sightings_request_to_bytes(_sightings(1)))
    message.sightings[0].encountered_at_ms = moment_ms
    with pytest.raises(InvalidInput, match=r"^sightings\[0\]\.encountered_at_ms: out of range$"):
        sightings_request_from_bytes(message.SerializeToString(), limit=5)


@pytest.mark.parametrize("point", ["", "\x1b[31mRED\x1b[0m\r\nFAKE LINE"])
def test_a_sighting_point_must_be_printable_text(point: str) -> None:
    message = pb.SightingsRequest()
    message.ParseFromString(sightings_request_to_bytes(_sightings(1)))
    message.sightings[0].encounter_point = point
    with pytest.raises(InvalidInput, match=r"^sightings\[0\]\.encounter_point: "):
        sightings_request_from_bytes(message.SerializeToString(), limit=5)


@pytest.mark.parametrize("purpose", ["", "p" * 65, "border\x00security", "x" * 3_000_000])
def test_purposes_must_be_short_printable_text(purpose: str) -> None:
    message = _message()
    message.purpose = purpose
    with pytest.raises(InvalidInput, match=r"^purpose: must be 1 to 64 printable characters$"):
        identify_request_from_bytes(message.SerializeToString())
