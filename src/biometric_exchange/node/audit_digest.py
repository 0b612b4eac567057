"""Reconciling the two audit logs: each side lists what it recorded about the other.

The callee answers an ``AuditDigest`` request with the message id, event,
outcome and time of its ``identify.*`` and ``details.*`` entries about the
caller in a period; ``reconcile`` pairs each send with the partner's receive
by message id and lists what only one side recorded. The partner's log is the
anchor our own hash chain lacks: an entry removed and re-chained here still
shows there. Plain logic, no sockets: the gRPC servicer only unpacks and packs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from biometric_exchange.crypto.envelope import TIME_WINDOW_MS
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.node.inbound import accept_request, seal_reply
from biometric_exchange.node.outbound import AUDIT_DIGEST, round_trip
from biometric_exchange.node.runtime import Node
from biometric_exchange.serde import parse_message
from biometric_exchange.store.audit import AuditEntry, AuditEvent
from biometric_exchange.v1 import exchange_pb2 as pb

DIGEST_EVENT_PREFIXES = ("identify.", "details.")
MAX_WINDOW_MS = 31 * 24 * 3600 * 1000
"""The longest period one request may cover."""
MAX_RECORDS = 20_000
"""The most records one reply carries (keeps it well under gRPC's 4 MB)."""

COUNTERPART: dict[str, str] = {
    "identify.sent": "identify.received",
    "identify.reply_sent": "identify.reply_received",
    "details.sent": "details.received",
    "details.reply_sent": "details.reply_received",
}
COUNTERPART.update({received: sent for sent, received in list(COUNTERPART.items())})


@dataclass(frozen=True)
class RecordDigest:
    """One audit entry as the partner may see it: no detail, no peer."""

    message_id: str
    event: str
    outcome: str
    at_ms: int

    def to_proto(self) -> pb.AuditRecordDigest:
        return pb.AuditRecordDigest(
            message_id=self.message_id, event=self.event, outcome=self.outcome, at_ms=self.at_ms
        )

    @classmethod
    def from_proto(cls, record: pb.AuditRecordDigest) -> RecordDigest:
        return cls(
            message_id=record.message_id,
            event=record.event,
            outcome=record.outcome,
            at_ms=record.at_ms,
        )


@dataclass(frozen=True)
class Reconciliation:
    """``only_ours``: we recorded it, the partner has no counterpart; ``only_theirs``:
    the reverse; ``outcome_differs``: (ours, theirs) pairs with different outcomes."""

    matched: int
    only_ours: list[RecordDigest] = field(default_factory=list)
    only_theirs: list[RecordDigest] = field(default_factory=list)
    outcome_differs: list[tuple[RecordDigest, RecordDigest]] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        return not (self.only_ours or self.only_theirs)

    def within(self, from_ms: int, until_ms: int) -> Reconciliation:
        """Only the unmatched records dated in [from_ms, until_ms): reconcile over a
        wider period, then keep its core, so clock skew at the edges is not a gap."""

        def keep(record: RecordDigest) -> bool:
            return from_ms <= record.at_ms < until_ms

        return Reconciliation(
            matched=self.matched,
            only_ours=[r for r in self.only_ours if keep(r)],
            only_theirs=[r for r in self.only_theirs if keep(r)],
            outcome_differs=[p for p in self.outcome_differs if keep(p[0]) or keep(p[1])],
        )


def _digest_id(entry: AuditEntry) -> str | None:
    """The message id an entry is about; a refused receive keeps the claimed one."""
    if entry.message_id:
        return entry.message_id
    claimed = entry.detail.get("claimed_message_id")
    return str(claimed) if claimed else None


def digest_entries(entries: Iterable[AuditEntry], peer: str) -> list[RecordDigest]:
    """The digest records of ``entries`` about exchanges with ``peer``."""
    records = []
    for entry in entries:
        message_id = _digest_id(entry)
        if entry.peer != peer or message_id is None:
            continue
        if not entry.event.startswith(DIGEST_EVENT_PREFIXES):
            continue
        records.append(RecordDigest(message_id, entry.event, entry.outcome, entry.at_ms))
    return records


def local_digest(node: Node, *, from_ms: int, until_ms: int) -> list[RecordDigest]:
    """Our own digest of exchanges with the partner in [from_ms, until_ms)."""
    return digest_entries(node.audit.entries_between(from_ms, until_ms), node.partner.code)


def _check_window(from_ms: int, until_ms: int) -> None:
    if from_ms < 0 or until_ms <= from_ms:
        raise InvalidInput("audit digest: the period must be non-empty")
    if until_ms - from_ms > MAX_WINDOW_MS:
        raise InvalidInput("audit digest: the period exceeds 31 days")


class AuditDigestHandler:
    """The callee's side of ``AuditDigest``: open, audit, list, seal the reply."""

    def __init__(self, node: Node) -> None:
        self._node = node

    def _records(self, body: bytes) -> tuple[pb.AuditDigestRequest, list[RecordDigest]]:
        request = parse_message(pb.AuditDigestRequest, body, "audit digest: malformed request")
        _check_window(request.from_ms, request.until_ms)
        records = local_digest(self._node, from_ms=request.from_ms, until_ms=request.until_ms)
        if len(records) > MAX_RECORDS:
            raise InvalidInput(f"audit digest: {len(records)} records; ask for a shorter period")
        return request, records

    def handle(self, envelope: pb.SealedEnvelope) -> pb.SealedEnvelope:
        node = self._node
        message_id, (_, records) = accept_request(
            node,
            envelope,
            expected_type=pb.MESSAGE_TYPE_AUDIT_DIGEST_REQUEST,
            event=AuditEvent.DIGEST_RECEIVED,
            check=self._records,
            describe=lambda checked: {
                "from_ms": checked[0].from_ms,
                "until_ms": checked[0].until_ms,
            },
        )
        body = pb.AuditDigestResponse(records=[r.to_proto() for r in records])
        return seal_reply(
            node,
            pb.MESSAGE_TYPE_AUDIT_DIGEST_RESPONSE,
            body.SerializeToString(deterministic=True),
            in_reply_to=message_id,
            event=AuditEvent.DIGEST_SENT,
            records=len(records),
        )


def request_digest(
    node: Node,
    call: Callable[[pb.SealedEnvelope], pb.SealedEnvelope],
    *,
    from_ms: int,
    until_ms: int,
) -> list[RecordDigest]:
    """Ask the partner, through ``call``, for its digest of [from_ms, until_ms)."""
    _check_window(from_ms, until_ms)
    body = pb.AuditDigestRequest(from_ms=from_ms, until_ms=until_ms)

    def parse(reply: bytes) -> list[RecordDigest]:
        response = parse_message(pb.AuditDigestResponse, reply, "audit digest: malformed reply")
        return [RecordDigest.from_proto(r) for r in response.records]

    return round_trip(
        node,
        AUDIT_DIGEST,
        body.SerializeToString(deterministic=True),
        call,
        parse,
        sent={"from_ms": from_ms, "until_ms": until_ms},
        summary=lambda records: {"records": len(records)},
    )


def reconcile(ours: list[RecordDigest], theirs: list[RecordDigest]) -> Reconciliation:
    """Pair each of our sends and receives with the partner's counterpart by message
    id (``identify.sent`` with ``identify.received`` and so on, both directions)."""
    their_index: dict[tuple[str, str], RecordDigest] = {}
    for record in theirs:
        their_index.setdefault((record.event, record.message_id), record)
    our_keys = {(r.event, r.message_id) for r in ours}
    matched = 0
    only_ours: list[RecordDigest] = []
    differs: list[tuple[RecordDigest, RecordDigest]] = []
    for record in ours:
        counterpart = COUNTERPART.get(record.event)
        if counterpart is None:
            continue
        theirs_record = their_index.get((counterpart, record.message_id))
        if theirs_record is None:
            only_ours.append(record)
            continue
        matched += 1
        if theirs_record.outcome != record.outcome:
            differs.append((record, theirs_record))
    only_theirs = [
        r
        for r in theirs
        if r.event in COUNTERPART and (COUNTERPART[r.event], r.message_id) not in our_keys
    ]
    return Reconciliation(
        matched=matched, only_ours=only_ours, only_theirs=only_theirs, outcome_differs=differs
    )


def reconcile_with_partner(
    node: Node,
    call: Callable[[pb.SealedEnvelope], pb.SealedEnvelope],
    *,
    from_ms: int,
    until_ms: int,
    margin_ms: int = TIME_WINDOW_MS,
) -> Reconciliation:
    """Reconcile [from_ms, until_ms): both digests are taken ``margin_ms`` wider so
    that an exchange straddling an edge (clock skew, latency) is not a gap."""
    wide_from, wide_until = max(0, from_ms - margin_ms), until_ms + margin_ms
    theirs = request_digest(node, call, from_ms=wide_from, until_ms=wide_until)
    ours = local_digest(node, from_ms=wide_from, until_ms=wide_until)
    return reconcile(ours, theirs).within(from_ms, until_ms)
