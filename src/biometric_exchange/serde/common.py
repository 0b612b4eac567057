"""What every wire message shares: parsing, templates, times and short texts.

Templates travel as little-endian float32 bytes with their dimension and
model id; nothing is ever pickled. Every failure names the field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Container
from typing import TypeVar

from google.protobuf.message import DecodeError, Message

from biometric_exchange.domain import (
    TEMPLATE_DIM,
    TEMPLATE_MODEL,
    Template,
    template_from_bytes,
    template_to_bytes,
)
from biometric_exchange.exceptions import AgreementMismatch, InvalidInput, InvalidTemplate
from biometric_exchange.v1 import exchange_pb2 as pb

MAX_REF_LENGTH = 64
PROTECTED_MODEL_PREFIX = "bx-protected/"
"""Model ids of protected templates: ``bx-protected/<scheme>/epoch-<n>``."""
LATEST_MS = int(dt.datetime(9999, 12, 31, tzinfo=dt.UTC).timestamp() * 1000)

_Message = TypeVar("_Message", bound=Message)


def parse_message(message_type: type[_Message], body: bytes, failure: str) -> _Message:
    """``body`` parsed as ``message_type``, or InvalidInput with ``failure``."""
    message = message_type()
    try:
        message.ParseFromString(body)
    except DecodeError as exc:
        raise InvalidInput(failure) from exc
    return message


def to_bytes(message: Message) -> bytes:
    """The deterministic serialization every inner message is sealed in."""
    return message.SerializeToString(deterministic=True)


def template_to_proto(template: Template, *, model_id: str = TEMPLATE_MODEL) -> pb.Template:
    return pb.Template(dim=TEMPLATE_DIM, model_id=model_id, values=template_to_bytes(template))


def template_from_proto(
    message: pb.Template, *, field_name: str, model_id: str = TEMPLATE_MODEL
) -> Template:
    if message.model_id != model_id:
        if any(m.startswith(PROTECTED_MODEL_PREFIX) for m in (message.model_id, model_id)):
            raise AgreementMismatch(
                f"{field_name}: template protection differs (expected {model_id!r}, "
                f"got {message.model_id[:64]!r})"
            )
        raise InvalidTemplate(f"{field_name}: unsupported template model {message.model_id!r}")
    if message.dim != TEMPLATE_DIM:
        raise InvalidTemplate(f"{field_name}: expected dimension {TEMPLATE_DIM}, got {message.dim}")
    return template_from_bytes(message.values, field_name=field_name)


def to_ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def from_ms(ms: int, field_name: str = "time") -> dt.datetime:
    """A UTC moment from milliseconds, or InvalidInput when out of range."""
    if not 0 <= ms <= LATEST_MS:
        raise InvalidInput(f"{field_name}: out of range")
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


def check_text(value: str, field_name: str) -> str:
    """Optional short text from the partner: printable, cut to the reference length."""
    if not value.isprintable():
        raise InvalidInput(f"{field_name}: must be printable text")
    return value[:MAX_REF_LENGTH]


def check_ref(value: str, field_name: str) -> str:
    """A reference: 1 to ``MAX_REF_LENGTH`` printable characters."""
    if not value or len(value) > MAX_REF_LENGTH or not value.isprintable():
        raise InvalidInput(f"{field_name}: must be 1 to {MAX_REF_LENGTH} printable characters")
    return value


def check_new_ref(value: str, field_name: str, seen: Container[str]) -> str:
    """``check_ref``, refused as well when ``seen`` holds it already: a reference
    stands once in a message."""
    ref = check_ref(value, field_name)
    if ref in seen:
        raise InvalidInput(f"{field_name}: duplicate reference")
    return ref
