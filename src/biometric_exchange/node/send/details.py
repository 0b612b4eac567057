"""The requester's side of step 2: ask the holder for details about a hit.

``request_details`` checks locally what the agreement allows (a refusal is
audited as decided by the sender and nothing leaves), stores the request,
asks, and stores the answer. ``poll_pending`` asks again, with the same
request id, for every request still pending: that is how a holder's manual
decision reaches the requester. A partner that cannot be reached leaves the
request pending; a partner's error status ends it as ``refused``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import secrets
from collections.abc import Sequence

from biometric_exchange.domain import RequestStatus
from biometric_exchange.exceptions import (
    AgreementRefusal,
    ExchangeError,
    InvalidEnvelope,
    InvalidInput,
    PartnerUnavailable,
)
from biometric_exchange.node.link import Link
from biometric_exchange.node.rpc import REQUEST_DETAILS
from biometric_exchange.node.send.round_trip import round_trip
from biometric_exchange.node.status import RemoteRefusal
from biometric_exchange.node.transport import PeerTransport
from biometric_exchange.serde.details import (
    DetailsAnswer,
    DetailsQuery,
    allowed_keys,
    details_request_to_bytes,
    details_response_from_bytes,
    validate_query,
)
from biometric_exchange.store.audit import AuditEvent, AuditOutcome
from biometric_exchange.store.details import SentRequest, SentRequests
from biometric_exchange.store.quotas import QuotaKind

log = logging.getLogger(__name__)
REFUSAL_PREFIX = "partner refused the call: "


def new_request_id() -> str:
    return "DR-" + secrets.token_hex(8).upper()


def _now(link: Link) -> dt.datetime:
    return dt.datetime.fromtimestamp(link.node.clock() / 1000, tz=dt.UTC)


def _moment(ms: int) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC) if ms else None


def request_details(
    link: Link,
    transport: PeerTransport,
    *,
    hit_reference: str,
    purpose: str,
    justification: str,
    officer_id: str,
    fields: Sequence[str],
) -> SentRequest:
    """Ask ``link``'s partner for ``fields`` about a hit it reported; return the stored
    request.

    Raises when we refuse locally; a partner's refusal is stored (status refused).
    """
    query = DetailsQuery(
        request_id=new_request_id(),
        hit_reference=hit_reference.strip(),
        purpose=purpose.strip(),
        justification=justification.strip(),
        officer_id=officer_id.strip(),
        fields=tuple(fields),
    )
    node = link.node
    try:
        query = _check_locally(link, query)
    except ExchangeError as exc:
        node.audit.record(
            AuditEvent.DETAILS_SENT,
            AuditOutcome.REJECTED,
            peer=link.code,
            message_id=None,
            request_id=query.request_id,
            hit_reference=query.hit_reference[:64],
            purpose=query.purpose[:64],
            officer=query.officer_id[:64],
            fields=[name[:64] for name in query.fields],
            reason=str(exc),
            decided_by="sender",
        )
        raise
    sent = SentRequest(
        request_id=query.request_id,
        partner=link.code,
        hit_reference=query.hit_reference,
        purpose=query.purpose,
        justification=query.justification,
        officer_id=query.officer_id,
        fields=query.fields,
        status=RequestStatus.PENDING,
        sent_at=_now(link),
    )
    SentRequests(node.database, node.records.data_keys).add(sent)
    return _ask(link, transport, sent, repeat=False)


MIN_REASK = dt.timedelta(seconds=2)
MAX_REASK = dt.timedelta(minutes=5)


def reask_interval(age: dt.timedelta) -> dt.timedelta:
    """How long to wait before asking again: a tenth of the request's age,
    between 2 s and 5 min, so a fresh request learns its decision quickly and
    one waiting out a 48 h service level costs a few hundred calls, not 86 000."""
    return min(MAX_REASK, max(MIN_REASK, age / 10))


def poll_pending(link: Link, transport: PeerTransport, *, due_only: bool = True) -> int:
    """Ask ``link``'s partner again about each pending request sent to it whose
    re-ask interval has passed (every pending one when not ``due_only``); return
    how many were asked."""
    node = link.node
    try:
        link.policy.check_in_force(node.today())
    except ExchangeError:
        return 0
    now = _now(link)
    asked = 0
    for sent in SentRequests(node.database, node.records.data_keys).list(
        status=RequestStatus.PENDING
    ):
        if sent.partner != link.code:
            continue
        last = sent.updated_at or sent.sent_at
        if due_only and now - last < reask_interval(now - sent.sent_at):
            continue
        updated = _ask(link, transport, sent, repeat=True)
        asked += 1
        if updated.status is RequestStatus.PENDING and updated.last_error:
            break  # the partner is unreachable: the others wait for the next round
    return asked


def _check_locally(link: Link, query: DetailsQuery) -> DetailsQuery:
    """Form, agreement, reference, quota: what the holder would refuse, refused first."""
    validate_query(query)
    node = link.node
    policy = link.policy
    partner = link.code
    policy.check_in_force(node.today())
    purpose = policy.purpose(query.purpose)
    fields = policy.detail_fields(purpose, query.fields)
    if query.hit_reference not in node.alerts.received_references(partner):
        raise AgreementRefusal(
            f"hit reference {query.hit_reference!r} was not received from {partner}"
        )
    node.quotas.consume(
        node.today(),
        partner,
        QuotaKind.DETAILS_SENT,
        1,
        link.terms.quotas.detail_requests_per_day,
    )
    return dataclasses.replace(
        query, purpose=purpose.value, fields=tuple(field.value for field in fields)
    )


def _ask(link: Link, transport: PeerTransport, sent: SentRequest, *, repeat: bool) -> SentRequest:
    """Seal, call, open the reply and store what it says."""
    query = DetailsQuery(
        sent.request_id,
        sent.hit_reference,
        sent.purpose,
        sent.justification,
        sent.officer_id,
        sent.fields,
    )

    def parse(body: bytes) -> DetailsAnswer:
        answer = details_response_from_bytes(body, keep=allowed_keys(sent.fields))
        if answer.request_id != sent.request_id:
            raise InvalidInput("details response: request_id does not answer the request")
        return answer

    try:
        answer = round_trip(
            link,
            transport,
            REQUEST_DETAILS,
            details_request_to_bytes(query),
            parse,
            sent={
                "request_id": sent.request_id,
                "hit_reference": sent.hit_reference,
                "purpose": sent.purpose,
                "officer": sent.officer_id,
                "fields": list(sent.fields),
                "repeat": repeat,
            },
            summary=lambda a: {"status": a.status.value, "fields": sorted(a.fields)},
            context={"request_id": sent.request_id},
        )
    except PartnerUnavailable as exc:
        log.warning("details request %s: partner unavailable, will ask again", sent.request_id)
        return _store(link, dataclasses.replace(sent, last_error=str(exc)))
    except RemoteRefusal as exc:
        log.info("details request %s refused: %s", sent.request_id, exc.code.name)
        reason = str(exc).removeprefix(REFUSAL_PREFIX)
        return _store(
            link,
            dataclasses.replace(sent, status=RequestStatus.REFUSED, reason=reason, last_error=None),
        )
    except ExchangeError as exc:
        reason = exc.reason if isinstance(exc, InvalidEnvelope) else str(exc)
        log.error("details request %s: reply rejected", sent.request_id)
        return _store(
            link,
            dataclasses.replace(sent, status=RequestStatus.FAILED, reason=reason, last_error=None),
        )
    if answer.status is not sent.status:
        log.info("details request %s: %s", sent.request_id, answer.status.value)
    return _store(link, _answered(sent, answer))


def _answered(sent: SentRequest, answer: DetailsAnswer) -> SentRequest:
    """The answer stored; fields once disclosed are kept when a repeat carries none."""
    return dataclasses.replace(
        sent,
        status=answer.status,
        disclosed=answer.fields or sent.disclosed,
        reason=answer.reason or None,
        due_at=_moment(answer.due_at_ms),
        decided_at=_moment(answer.decided_at_ms),
        last_error=None,
    )


def _store(link: Link, sent: SentRequest) -> SentRequest:
    SentRequests(link.node.database, link.node.records.data_keys).update(sent, at=_now(link))
    return sent
