"""Protobuf ↔ domain conversion of Identify requests and responses."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from biometric_exchange.agreement.policy import ScopeFacts
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
            ProbeIn(ref, template, f"PAN-POINT-{i}", MOMENT + dt.timedelta(seconds=i), FACTS)
            for i, (ref, template) in enumerate(zip(refs, templates, strict=True))
        ),
        max_candidates=3,
    )


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
        assert got.encounter_point == sent.encounter_point
        assert got.encountered_at == sent.encountered_at
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


def test_encounter_point_is_cut_to_the_reference_length() -> None:
    message = _message()
    message.probes[0].encounter_point = "P" * 200
    decoded = identify_request_from_bytes(message.SerializeToString())
    assert decoded.probes[0].encounter_point == "P" * MAX_REF_LENGTH


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
            HitOut("HR-1a2b", "arrest_warrant", 0.3125, 1),
            HitOut("HR-3c4d", "missing_person", 0.412345, 2),
        ],
        "PAN-ENC-0002": [],
    }
    body = identify_response_to_bytes(results)
    decoded = identify_response_from_bytes(body)

    assert list(decoded) == ["PAN-ENC-0001", "PAN-ENC-0002"]
    assert decoded["PAN-ENC-0002"] == []
    hits = decoded["PAN-ENC-0001"]
    assert [(h.hit_reference, h.category, h.rank) for h in hits] == [
        ("HR-1a2b", "arrest_warrant", 1),
        ("HR-3c4d", "missing_person", 2),
    ]
    assert hits[0].distance == 0.3125
    assert hits[1].distance == pytest.approx(0.412345, rel=1e-6)

    message = pb.IdentifyResponse()
    message.ParseFromString(body)
    assert [r.hit for r in message.results] == [True, False]


def test_garbage_response_bytes_are_refused() -> None:
    with pytest.raises(InvalidInput, match=r"^identify response: not a valid message$"):
        identify_response_from_bytes(b"\xff\xff\xff")


@pytest.mark.parametrize("reference", ["", "h" * (MAX_REF_LENGTH + 1), "bad\x00ref"])
def test_bad_hit_references_in_a_response_are_refused(reference: str) -> None:
    body = identify_response_to_bytes({"p1": [HitOut(reference, "arrest_warrant", 0.3, 1)]})
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


@pytest.mark.parametrize("moment_ms", [10**15, 2**63 - 1, -1])
def test_probe_times_out_of_range_are_malformed(moment_ms: int) -> None:
    message = _message()
    message.probes[0].encountered_at_ms = moment_ms
    with pytest.raises(InvalidInput, match=r"^probes\[0\]\.encountered_at_ms: out of range$"):
        identify_request_from_bytes(message.SerializeToString())


def test_control_characters_in_the_encounter_point_are_refused() -> None:
    message = _message()
    message.probes[0].encounter_point = "\x1b[31mRED\x1b[0m\r\nFAKE LINE"
    with pytest.raises(InvalidInput, match=r"^probes\[0\]\.encounter_point: must be printable"):
        identify_request_from_bytes(message.SerializeToString())


@pytest.mark.parametrize("purpose", ["", "p" * 65, "border\x00security", "x" * 3_000_000])
def test_purposes_must_be_short_printable_text(purpose: str) -> None:
    message = _message()
    message.purpose = purpose
    with pytest.raises(InvalidInput, match=r"^purpose: must be 1 to 64 printable characters$"):
        identify_request_from_bytes(message.SerializeToString())
