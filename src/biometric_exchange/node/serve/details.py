"""The holder's side of step 2: a partner's justified request for details.

``DetailsHandler`` enforces the agreement on an opened request (purpose,
fields, hit reference, protection, quota) and our own cap on requests
pending review per partner (``[details] max_pending_per_partner``: beyond it
RESOURCE_EXHAUSTED, nothing stored, no quota used), queues it and answers
sealed: approved at once under automatic approval, else pending until an
operator calls ``approve`` or ``deny``. Asking again with the same request id answers
the current state, unchecked and uncounted. An approved request discloses its
fields once: the reply that carries them records ``delivered_at`` in the same
transaction; later repeats get APPROVED without fields and a reason saying
when they went, and nothing is disclosed once the hit reference has expired.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from biometric_exchange.agreement.terms import Approval, DetailField
from biometric_exchange.domain import RequestStatus
from biometric_exchange.exceptions import (
    AgreementRefusal,
    InvalidInput,
    PendingRequestsCapped,
    ReferenceExpired,
)
from biometric_exchange.node.link import Link
from biometric_exchange.node.rpc import REQUEST_DETAILS
from biometric_exchange.node.serve.sealed import serve_sealed
from biometric_exchange.serde.details import (
    DetailsAnswer,
    DetailsQuery,
    details_request_from_bytes,
    details_response_to_bytes,
)
from biometric_exchange.store.audit import AuditEvent, AuditOutcome
from biometric_exchange.store.details import ReceivedRequest, ReceivedRequests, Subject
from biometric_exchange.store.hits import HitReference
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
    """Serves one partner's step-2 requests, under our agreement with them."""

    def __init__(self, link: Link) -> None:
        self._link = link
        self._node = link.node
        self._requests = ReceivedRequests(link.node.database)
        self._lock = threading.Lock()
        """Look-up, checks and storing of one request id happen once at a time."""

    def handle(self, envelope: pb.SealedEnvelope) -> pb.SealedEnvelope:
        return serve_sealed(self._link, REQUEST_DETAILS, envelope, self)

    def check(self, body: bytes) -> DetailsQuery:
        return details_request_from_bytes(body)

    def prepare(self, query: DetailsQuery) -> None:
        """Nothing to do outside the transaction."""

    def admit(self, query: DetailsQuery, _prepared: None) -> _Decided:
        """The request stored (once per request id) and answered as decided."""
        with self._lock:
            stored = self._requests.get(self._link.code, query.request_id)
            repeat = stored is not None
            if stored is None:
                stored = self._accept(query)
            else:
                _check_same(stored, query)
            answer = self._answer(stored)
        return _Decided(query, stored, repeat, answer)

    def describe(self, decided: _Decided) -> Mapping[str, Any]:
        return decided.audit_detail()

    def answer(self, decided: _Decided) -> tuple[bytes, Mapping[str, Any]]:
        answer = decided.answer
        detail = {
            "request_id": decided.query.request_id,
            "status": answer.status.value,
            "fields": sorted(answer.fields),
        }
        if answer.status is RequestStatus.APPROVED and not answer.fields:
            detail["withheld"] = answer.reason
        return details_response_to_bytes(answer), detail

    def _accept(self, query: DetailsQuery) -> ReceivedRequest:
        """The agreement's terms, then the quota; store and return the new request."""
        link = self._link
        node = link.node
        partner = link.code
        policy = link.policy
        purpose = policy.purpose(query.purpose)
        fields = policy.detail_fields(purpose, query.fields)
        reference = node.hit_references.get(query.hit_reference)
        if reference is None or reference.partner != partner:
            raise AgreementRefusal(NOT_VALID_FOR_PARTY)
        now = _moment(node.clock())
        expires_at = self._expiry(reference)
        if expires_at < now:
            raise ReferenceExpired(f"hit reference expired at {expires_at:%Y-%m-%d %H:%M} UTC")
        subject = node.records.watchlist_person(reference.entry_id)
        if subject is None:
            raise AgreementRefusal(NOT_VALID_FOR_PARTY)
        policy.check_protected_disclosure(subject.person, purpose, node.today())
        step2 = link.terms.step2
        automatic = step2.approval is Approval.AUTOMATIC
        if not automatic:
            self._check_pending_cap()
        node.quotas.consume(
            node.today(),
            partner,
            QuotaKind.DETAILS_RECEIVED,
            1,
            link.terms.quotas.detail_requests_per_day,
        )
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

    def _check_pending_cap(self) -> None:
        """Refuse a request for review beyond ``[details] max_pending_per_partner``."""
        cap = self._node.config.details.max_pending_per_partner
        pending = self._requests.pending_count(self._link.code)
        if pending >= cap:
            raise PendingRequestsCapped(
                f"step-2 requests of {self._link.code} pending review: {pending} of {cap}; "
                "a slot frees when one is decided"
            )

    def _expiry(self, reference: HitReference) -> dt.datetime:
        ttl = dt.timedelta(hours=self._link.terms.step1.hit_reference_ttl_hours)
        return reference.expires_at or reference.created_at + ttl

    def _answer(self, request: ReceivedRequest) -> DetailsAnswer:
        fields: dict[str, str] = {}
        reason = (request.reason or "") if request.status is RequestStatus.DENIED else ""
        if request.status is RequestStatus.APPROVED:
            reason = self._withheld(request)
            if not reason:
                subject = self._node.records.watchlist_person(request.entry_id)
                if subject is None:
                    raise AgreementRefusal(NOT_VALID_FOR_PARTY)
                fields = disclosed_fields(request.fields, subject, self._node.country)
        return DetailsAnswer(
            request_id=request.request_id,
            status=request.status,
            fields=fields,
            reason=reason,
            decided_at_ms=_ms(request.decided_at),
            due_at_ms=_ms(request.due_at),
        )

    def _withheld(self, request: ReceivedRequest) -> str:
        """Why an approved request's fields are not sent now, or "" after recording
        that they go out in this reply (once per request)."""
        delivered = _delivered(request.delivered_at)
        if delivered:
            return delivered
        now = _moment(self._node.clock())
        reference = self._node.hit_references.get(request.hit_reference)
        if reference is None:
            return "hit reference no longer held; nothing is disclosed"
        expires_at = self._expiry(reference)
        if expires_at < now:
            return f"hit reference expired at {expires_at:%Y-%m-%d %H:%M} UTC; nothing is disclosed"
        if self._requests.mark_delivered(request.partner, request.request_id, at=now):
            return ""
        current = self._requests.get(request.partner, request.request_id)  # pragma: no cover
        return _delivered(current.delivered_at if current else now) or "fields already delivered"


def _delivered(at: dt.datetime | None) -> str:
    if at is None:
        return ""
    return f"fields delivered at {at:%Y-%m-%d %H:%M:%S} UTC; they are disclosed once"


def _check_same(stored: ReceivedRequest, query: DetailsQuery) -> None:
    """A repeated request id must name the same reference, purpose and fields."""
    if stored.hit_reference != query.hit_reference or stored.purpose != query.purpose:
        raise InvalidInput("request_id: already used for another request")
    if set(stored.fields) != set(query.fields):
        raise InvalidInput("request_id: already used for other fields")


def approve(link: Link, request_id: str, officer: str, comment: str = "") -> ReceivedRequest:
    """An operator's approval of ``link``'s partner's pending request; the next re-ask
    gets the fields, once."""
    return _decide(link, request_id, RequestStatus.APPROVED, officer, comment=comment)


def deny(link: Link, request_id: str, officer: str, reason: str) -> ReceivedRequest:
    """An operator's refusal of ``link``'s partner's pending request; ``reason`` is sent
    to the partner."""
    if not reason.strip():
        raise InvalidInput("reason: a denial needs a reason")
    return _decide(link, request_id, RequestStatus.DENIED, officer, reason=reason.strip())


def _decide(
    link: Link,
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
    node = link.node
    partner = link.code
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
