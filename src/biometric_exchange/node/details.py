"""The holder's side of step 2: a partner's justified request for details.

``DetailsHandler`` opens the request, enforces the agreement (purpose,
fields, hit reference, protection, quota), queues it and answers sealed:
approved at once under automatic approval, else pending until an operator
calls ``approve`` or ``deny``. Asking again with the same request id answers
the current state, unchecked and uncounted.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from typing import Any

from biometric_exchange.agreement.terms import Approval, DetailField
from biometric_exchange.exceptions import (
    AgreementRefusal,
    InvalidInput,
    ReferenceExpired,
)
from biometric_exchange.node.inbound import accept_request, seal_reply
from biometric_exchange.node.runtime import Node
from biometric_exchange.serde_details import (
    DetailsAnswer,
    DetailsQuery,
    RequestStatus,
    details_request_from_bytes,
    details_response_to_bytes,
)
from biometric_exchange.store.audit import AuditEvent, AuditOutcome
from biometric_exchange.store.details import ReceivedRequest, ReceivedRequests, Subject
from biometric_exchange.store.quotas import QuotaKind
from biometric_exchange.v1 import exchange_pb2 as pb

NOT_VALID_FOR_PARTY = "hit reference not valid for this party"
"""One message for unknown and foreign references: no oracle."""
AUTOMATIC = "automatic"


def _moment(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


def _ms(moment: dt.datetime | None) -> int:
    return int(moment.timestamp() * 1000) if moment else 0


def disclosed_fields(
    fields: tuple[str, ...], subject: Subject, holder_country: str
) -> dict[str, str]:
    """The values the named agreement fields disclose about ``subject``, and no others."""
    person = subject.person
    values: dict[DetailField, dict[str, str]] = {
        DetailField.NAMES: {"given_name": person.given_name, "family_name": person.family_name},
        DetailField.BIRTH_DATE: {"birth_date": person.birth_date.isoformat()},
        DetailField.NATIONALITY: {"nationality": person.nationality},
        DetailField.DOCUMENT_NUMBERS: {"document_number": person.document_number},
        DetailField.WATCHLIST_CATEGORY: {"watchlist_category": subject.category.value},
        DetailField.ENCOUNTER_PLACE_DATE: {
            "recorded_by": holder_country,
            "recorded_on": subject.added_at.date().isoformat(),
        },
    }
    disclosed: dict[str, str] = {}
    for name in fields:
        disclosed.update(values[DetailField(name)])
    return disclosed


@dataclass(frozen=True)
class _Decided:
    query: DetailsQuery
    stored: ReceivedRequest
    repeat: bool
    answer: DetailsAnswer

    def audit_detail(self) -> dict[str, Any]:
        return {
            "request_id": self.query.request_id,
            "hit_reference": self.query.hit_reference,
            "purpose": self.stored.purpose,
            "officer": self.stored.officer_id,
            "fields": list(self.stored.fields),
            "decision": self.stored.status.value,
            "repeat": self.repeat,
        }


class DetailsHandler:
    def __init__(self, node: Node) -> None:
        self._node = node
        self._requests = ReceivedRequests(node.database)
        self._lock = threading.Lock()
        """Look-up, checks and storing of one request id happen once at a time."""

    def handle(self, envelope: pb.SealedEnvelope) -> pb.SealedEnvelope:
        node = self._node
        message_id, decided = accept_request(
            node,
            envelope,
            expected_type=pb.MESSAGE_TYPE_DETAILS_REQUEST,
            event=AuditEvent.DETAILS_RECEIVED,
            check=self._decide,
            describe=_Decided.audit_detail,
        )
        query, answer = decided.query, decided.answer
        return seal_reply(
            node,
            pb.MESSAGE_TYPE_DETAILS_RESPONSE,
            details_response_to_bytes(answer),
            in_reply_to=message_id,
            event=AuditEvent.DETAILS_REPLY_SENT,
            request_id=query.request_id,
            status=answer.status.value,
            fields=sorted(answer.fields),
        )

    def _decide(self, body: bytes) -> _Decided:
        """The request parsed, stored (once per request id) and answered as decided."""
        query = details_request_from_bytes(body)
        with self._lock:
            stored = self._requests.get(self._node.partner.code, query.request_id)
            repeat = stored is not None
            if stored is None:
                stored = self._accept(query)
            else:
                _check_same(stored, query)
        return _Decided(query, stored, repeat, self._answer(stored))

    def _accept(self, query: DetailsQuery) -> ReceivedRequest:
        """The agreement's terms, then the quota; store and return the new request."""
        node = self._node
        partner = node.partner.code
        policy = node.policy
        purpose = policy.purpose(query.purpose)
        fields = policy.detail_fields(purpose, query.fields)
        reference = node.hit_references.get(query.hit_reference)
        if reference is None or reference.partner != partner:
            raise AgreementRefusal(NOT_VALID_FOR_PARTY)
        now = _moment(node.clock())
        step1 = node.agreement.agreement.step1
        expires_at = reference.expires_at or reference.created_at + dt.timedelta(
            hours=step1.hit_reference_ttl_hours
        )
        if expires_at < now:
            raise ReferenceExpired(f"hit reference expired at {expires_at:%Y-%m-%d %H:%M} UTC")
        subject = self._requests.subject(reference.entry_id)
        if subject is None:
            raise AgreementRefusal(NOT_VALID_FOR_PARTY)
        policy.check_protected_disclosure(subject.person, purpose, node.today())
        node.quotas.consume(
            node.today(),
            partner,
            QuotaKind.DETAILS_RECEIVED,
            1,
            node.agreement.agreement.quotas.detail_requests_per_day,
        )
        step2 = node.agreement.agreement.step2
        automatic = step2.approval is Approval.AUTOMATIC
        request = ReceivedRequest(
            partner=partner,
            request_id=query.request_id,
            hit_reference=query.hit_reference,
            entry_id=reference.entry_id,
            purpose=purpose.value,
            justification=query.justification.strip(),
            officer_id=query.officer_id.strip(),
            fields=tuple(field.value for field in fields),
            status=RequestStatus.APPROVED if automatic else RequestStatus.PENDING,
            received_at=now,
            due_at=now + dt.timedelta(hours=step2.sla_hours),
            decided_at=now if automatic else None,
            decided_by=AUTOMATIC if automatic else None,
        )
        if not self._requests.add(request):  # pragma: no cover - another process stored it
            stored = self._requests.get(partner, query.request_id)
            assert stored is not None
            return stored
        return request

    def _answer(self, request: ReceivedRequest) -> DetailsAnswer:
        fields: dict[str, str] = {}
        if request.status is RequestStatus.APPROVED:
            subject = self._requests.subject(request.entry_id)
            if subject is None:
                raise AgreementRefusal(NOT_VALID_FOR_PARTY)
            fields = disclosed_fields(request.fields, subject, self._node.country)
        return DetailsAnswer(
            request_id=request.request_id,
            status=request.status,
            fields=fields,
            reason=(request.reason or "") if request.status is RequestStatus.DENIED else "",
            decided_at_ms=_ms(request.decided_at),
            due_at_ms=_ms(request.due_at),
        )


def _check_same(stored: ReceivedRequest, query: DetailsQuery) -> None:
    """A repeated request id must name the same reference, purpose and fields."""
    if stored.hit_reference != query.hit_reference or stored.purpose != query.purpose:
        raise InvalidInput("request_id: already used for another request")
    if set(stored.fields) != set(query.fields):
        raise InvalidInput("request_id: already used for other fields")


def approve(node: Node, request_id: str, officer: str, comment: str = "") -> ReceivedRequest:
    """An operator's approval of a pending request; the next re-ask gets the fields."""
    return _decide(node, request_id, RequestStatus.APPROVED, officer, comment=comment)


def deny(node: Node, request_id: str, officer: str, reason: str) -> ReceivedRequest:
    """An operator's refusal of a pending request; ``reason`` is sent to the partner."""
    if not reason.strip():
        raise InvalidInput("reason: a denial needs a reason")
    return _decide(node, request_id, RequestStatus.DENIED, officer, reason=reason.strip())


def _decide(
    node: Node,
    request_id: str,
    status: RequestStatus,
    officer: str,
    *,
    reason: str | None = None,
    comment: str = "",
) -> ReceivedRequest:
    officer = officer.strip()
    if not officer:
        raise InvalidInput("operator: name the deciding officer")
    partner = node.partner.code
    requests = ReceivedRequests(node.database)
    decided = requests.decide(
        partner,
        request_id,
        status,
        at=_moment(node.clock()),
        by=officer,
        reason=reason,
        comment=comment.strip() or None,
    )
    current = requests.get(partner, request_id)
    if current is None:
        raise InvalidInput(f"request {request_id!r}: no such request from {partner}")
    if not decided:
        raise InvalidInput(
            f"request {request_id!r} is {current.status.value}; only a pending request "
            "can be approved or denied"
        )
    node.audit.record(
        AuditEvent.DETAILS_DECIDED,
        AuditOutcome.ACCEPTED,
        peer=partner,
        request_id=request_id,
        officer=officer,
        decision=status.value,
        **({"reason": reason} if reason else {}),
    )
    return current
