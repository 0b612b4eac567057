"""Golden vectors: the template wire format must not drift (see tests/vectors/README.md)."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from biometric_exchange.domain import (
    TEMPLATE_DIM,
    TEMPLATE_MODEL,
    Template,
    template_from_bytes,
    template_to_bytes,
    validate_template,
)
from biometric_exchange.serde import common as serde
from biometric_exchange.v1 import exchange_pb2 as pb

VECTOR_PATH = Path(__file__).resolve().parent.parent / "vectors" / "template_v1.json"


@pytest.fixture(scope="module")
def vector() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(VECTOR_PATH.read_text(encoding="utf-8"))
    return document


@pytest.fixture(scope="module")
def template(vector: dict[str, Any]) -> Template:
    return validate_template(vector["values"])


def bits(template: Template) -> list[int]:
    """The exact float32 bit patterns, so that -0.0, 0.0 and rounding all count."""
    return [int(b) for b in np.asarray(template, dtype="<f4").view("<u4")]


def test_vector_holds_the_documented_values(vector: dict[str, Any]) -> None:
    assert vector["values"] == [(i - 64) / 256 for i in range(128)]
    assert (vector["dim"], vector["model_id"]) == (TEMPLATE_DIM, TEMPLATE_MODEL)


def test_template_bytes_match_the_vector(vector: dict[str, Any], template: Template) -> None:
    expected = bytes.fromhex(vector["template_bytes_hex"])
    assert len(expected) == 4 * TEMPLATE_DIM
    assert template_to_bytes(template) == expected
    # Independent of numpy: little-endian IEEE 754 single precision, in order.
    assert struct.pack("<128f", *vector["values"]) == expected
    assert expected[:4] == bytes.fromhex("000080be")  # -0.25


def test_template_bytes_decode_bit_for_bit(vector: dict[str, Any], template: Template) -> None:
    decoded = template_from_bytes(bytes.fromhex(vector["template_bytes_hex"]))
    assert decoded.dtype == np.float32
    assert decoded.shape == (TEMPLATE_DIM,)
    assert bits(decoded) == bits(template)
    assert decoded.tolist() == vector["values"]


def test_proto_template_matches_the_vector(vector: dict[str, Any], template: Template) -> None:
    expected = bytes.fromhex(vector["pb_template_hex"])
    assert serde.template_to_proto(template).SerializeToString(deterministic=True) == expected
    # Field 1 dim=128 (varint), field 2 model id, field 3 the 512 template bytes.
    model = TEMPLATE_MODEL.encode()
    header = b"\x08\x80\x01" + b"\x12" + bytes([len(model)]) + model + b"\x1a\x80\x04"
    assert expected == header + bytes.fromhex(vector["template_bytes_hex"])


def test_proto_template_decodes_bit_for_bit(vector: dict[str, Any], template: Template) -> None:
    message = pb.Template()
    message.ParseFromString(bytes.fromhex(vector["pb_template_hex"]))
    assert message.dim == TEMPLATE_DIM
    assert message.model_id == TEMPLATE_MODEL
    assert message.values == bytes.fromhex(vector["template_bytes_hex"])
    decoded = serde.template_from_proto(message, field_name="vector")
    assert bits(decoded) == bits(template)
