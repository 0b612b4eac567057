"""Step 2 on the wire: DetailsRequest / DetailsResponse ↔ domain, validated.

``FIELD_KEYS`` says which keys of ``DetailsResponse.fields`` each agreement
field discloses; both sides use it (the holder to fill, the requester to keep
nothing it did not ask for).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from biometric_exchange.agreement.terms import DetailField
from biometric_exchange.domain import RequestStatus
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.serde.common import parse_message, to_bytes
from biometric_exchange.v1 import exchange_pb2 as pb

REQUEST_ID_LENGTH = (8, 64)
MAX_TEXT_LENGTH = 64
MIN_JUSTIFICATION = 10
MAX_JUSTIFICATION = 2000
MAX_FIELDS = 16

FIELD_KEYS: dict[DetailField, tuple[str, ...]] = {
    DetailField.NAMES: ("given_name", "family_name"),
    DetailField.BIRTH_DATE: ("birth_date",),
    DetailField.NATIONALITY: ("nationality",),
    DetailField.DOCUMENT_NUMBERS: ("document_number",),
    DetailField.WATCHLIST_CATEGORY: ("watchlist_category",),
    DetailField.ENCOUNTER_PLACE_DATE: ("recorded_by", "recorded_on"),
}


_TO_PROTO = {
    RequestStatus.PENDING: pb.DETAILS_STATUS_PENDING,
    RequestStatus.APPROVED: pb.DETAILS_STATUS_APPROVED,
    RequestStatus.DENIED: pb.DETAILS_STATUS_DENIED,
}
_FROM_PROTO = {value: key for key, value in _TO_PROTO.items()}


@dataclass(frozen=True)
class DetailsQuery:
    request_id: str
    hit_reference: str
    purpose: str
    justification: str
    officer_id: str
    fields: tuple[str, ...]


@dataclass(frozen=True)
class DetailsAnswer:
    request_id: str
    status: RequestStatus
    fields: dict[str, str] = field(default_factory=dict)
    reason: str = ""
    decided_at_ms: int = 0
    due_at_ms: int = 0


def allowed_keys(fields: Iterable[str]) -> frozenset[str]:
    """The response keys that the named agreement fields disclose."""
    keys: set[str] = set()
    for name in fields:
        try:
            keys.update(FIELD_KEYS[DetailField(name)])
        except ValueError:
            continue
    return frozenset(keys)


def _text(value: str, field_name: str, *, low: int = 1, high: int = MAX_TEXT_LENGTH) -> str:
    if not low <= len(value) <= high or not value.isprintable():
        raise InvalidInput(f"{field_name}: must be {low} to {high} printable characters")
    return value


def check_request_id(value: str) -> str:
    low, high = REQUEST_ID_LENGTH
    return _text(value, "request_id", low=low, high=high)


def validate_query(query: DetailsQuery) -> DetailsQuery:
    """The query's form (not the agreement's terms); InvalidInput names the field."""
    check_request_id(query.request_id)
    _text(query.hit_reference, "hit_reference")
    _text(query.officer_id.strip(), "officer_id")
    _text(query.purpose, "purpose")
    justification = query.justification.strip()
    if len(justification) < MIN_JUSTIFICATION:
        raise InvalidInput(f"justification: at least {MIN_JUSTIFICATION} characters are required")
    if len(justification) > MAX_JUSTIFICATION:
        raise InvalidInput(f"justification: at most {MAX_JUSTIFICATION} characters")
    if not query.fields:
        raise InvalidInput("fields: name at least one field")
    if len(query.fields) > MAX_FIELDS:
        raise InvalidInput(f"fields: at most {MAX_FIELDS} names")
    for index, name in enumerate(query.fields):
        _text(name, f"fields[{index}]")
    return query


def details_request_to_bytes(query: DetailsQuery) -> bytes:
    message = pb.DetailsRequest(
        request_id=query.request_id,
        hit_reference=query.hit_reference,
        purpose=query.purpose,
        justification=query.justification,
        officer_id=query.officer_id,
        fields=list(query.fields),
    )
    return to_bytes(message)


def details_request_from_bytes(body: bytes) -> DetailsQuery:
    message = parse_message(pb.DetailsRequest, body, "details request: not a valid message")
    return validate_query(
        DetailsQuery(
            request_id=message.request_id,
            hit_reference=message.hit_reference,
            purpose=message.purpose,
            justification=message.justification,
            officer_id=message.officer_id,
            fields=tuple(message.fields),
        )
    )


def details_response_to_bytes(answer: DetailsAnswer) -> bytes:
    message = pb.DetailsResponse(
        request_id=answer.request_id,
        status=_TO_PROTO[answer.status],
        fields=answer.fields,
        reason=answer.reason,
        decided_at_ms=answer.decided_at_ms,
        due_at_ms=answer.due_at_ms,
    )
    return to_bytes(message)


def details_response_from_bytes(
    body: bytes, *, keep: Collection[str] | None = None
) -> DetailsAnswer:
    """Parse a reply; with ``keep``, fields whose key is not in it are dropped."""
    message = parse_message(pb.DetailsResponse, body, "details response: not a valid message")
    status = _FROM_PROTO.get(message.status)
    if status is None:
        raise InvalidInput("details response: status: unknown value")
    fields = {
        _text(key, "fields key"): value[:MAX_JUSTIFICATION]
        for key, value in message.fields.items()
        if keep is None or key in keep
    }
    return DetailsAnswer(
        request_id=check_request_id(message.request_id),
        status=status,
        fields=fields,
        reason=message.reason[:MAX_JUSTIFICATION],
        decided_at_ms=int(message.decided_at_ms),
        due_at_ms=int(message.due_at_ms),
    )
