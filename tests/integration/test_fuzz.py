"""Bounded fuzzing of a running node: random envelopes and random bodies inside
validly sealed envelopes, for every sealed method.

Whatever arrives, the node answers with a status of the error table (or OK),
never INTERNAL or UNKNOWN; the receiver audits each call once; the node stays
up; at the end it still serves and its audit chain verifies. Chile's real gRPC
server (mutual TLS on a loopback port the OS picks) runs in this process: a call
that brought it down would bring the test run down with it.

Probe times (``encountered_at_ms``) are drawn from the years 1 to 9999 only:
a time outside the range of a Python datetime is a known defect of the holder
(an UNKNOWN status, unaudited), reported rather than fuzzed here.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from typing import TypeVar

import grpc
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from biometric_exchange.agreement.terms import DetailField, Purpose
from biometric_exchange.crypto.envelope import MemoryReplayGuard, open_envelope, read_header, seal
from biometric_exchange.crypto.keys import key_id
from biometric_exchange.domain import TEMPLATE_DIM, TEMPLATE_MODEL, Template, template_to_bytes
from biometric_exchange.exceptions import InvalidEnvelope
from biometric_exchange.serde.identify import identify_response_from_bytes
from biometric_exchange.synthetic import DemoDataset
from biometric_exchange.v1 import exchange_pb2 as pb
from biometric_exchange.v1 import exchange_pb2_grpc as pb_grpc
from tests.integration.conftest import ServedPair, entries_after, last_seq
from tests.probes import planted_template, recaptured
from tests.wiring import health, secure_channel

pytestmark = pytest.mark.integration

EXPECTED = frozenset(
    {
        grpc.StatusCode.OK,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
)
METHODS: dict[str, tuple[str, pb.MessageType.ValueType]] = {
    "Identify": ("identify.received", pb.MESSAGE_TYPE_IDENTIFY_REQUEST),
    "RequestDetails": ("details.received", pb.MESSAGE_TYPE_DETAILS_REQUEST),
    "AuditDigest": ("audit_digest.received", pb.MESSAGE_TYPE_AUDIT_DIGEST_REQUEST),
    "ExchangeAggregates": ("aggregates.received", pb.MESSAGE_TYPE_AGGREGATES_REQUEST),
}
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
T = TypeVar("T")
DAY_MS = 24 * 3600 * 1000
INT64 = st.integers(-(2**63), 2**63 - 1)
UINT32 = st.integers(0, 2**32 - 1)
FIRST_MS = int(dt.datetime(1, 1, 2, tzinfo=dt.UTC).timestamp() * 1000)
LAST_MS = int(dt.datetime(9999, 12, 30, tzinfo=dt.UTC).timestamp() * 1000)


# --- the node under fuzz --------------------------------------------------------------------


class Target:
    """Panama's stub to Chile, one channel for the whole module."""

    def __init__(self, pair: ServedPair) -> None:
        self.pair = pair
        self.channel = secure_channel(pair.panama, pair.servers["CHL"])
        self.stub = pb_grpc.ExchangeStub(self.channel)
        self.seen: Counter[tuple[str, str]] = Counter()
        """Statuses met per method (printed at the end, ``pytest -s``)."""

    def call(self, method: str, envelope: pb.SealedEnvelope) -> grpc.StatusCode:
        """Send; check the status is expected, the call audited (or counted) once, the
        node alive."""
        before = last_seq(self.pair.chile)
        counted = self._counted()
        try:
            getattr(self.stub, method)(envelope, timeout=15)
        except grpc.RpcError as exc:
            code: grpc.StatusCode = exc.code()
        else:
            code = grpc.StatusCode.OK
        assert code in EXPECTED, (code, method)
        self.seen[method, code.name] += 1
        self._assert_audited_once(method, envelope, before, counted)
        return code

    def _counted(self) -> int:
        """Refusals before the signature verified, counted so far (``store.refusals``)."""
        return sum(c.count for c in self.pair.chile.refusals.counts())

    def _assert_audited_once(
        self, method: str, envelope: pb.SealedEnvelope, before: int, counted: int
    ) -> None:
        event = METHODS[method][0]
        if self._counted() != counted:
            # Counted: one more, audited only when it opened its hour's window.
            assert self._counted() == counted + 1
            new = entries_after(self.pair.chile, before, event)
            assert len(new) <= 1 and all(e.detail.get("counted") for e in new), new
            return
        try:
            claimed: str | None = read_header(envelope).message_id[:64] or None
        except InvalidEnvelope:
            claimed = None
        entries = [
            e
            for e in entries_after(self.pair.chile, before, event)
            if (e.message_id or e.detail.get("claimed_message_id")) == claimed
        ]
        assert len(entries) == 1, (method, [e.detail for e in entries])


@pytest.fixture(scope="module")
def target(served_pair: ServedPair) -> Iterator[Target]:
    fuzzed = Target(served_pair)
    yield fuzzed
    fuzzed.channel.close()


def _sealed(
    pair: ServedPair, message_type: pb.MessageType.ValueType, body: bytes
) -> pb.SealedEnvelope:
    panama = pair.panama
    return seal(panama.link("CHL").envelope, message_type, body, now_ms=panama.clock())


def _probe(probe_ref: str, template: Template, encountered_at_ms: int) -> pb.Probe:
    return pb.Probe(
        probe_ref=probe_ref,
        template=pb.Template(
            dim=TEMPLATE_DIM, model_id=TEMPLATE_MODEL, values=template_to_bytes(template)
        ),
        scope_rule=pb.SCOPE_RULE_STANDARD,
        scope_commitment=b"c" * 32,
    )


def _int64(value: int) -> int:
    return min(2**63 - 1, max(-(2**63), value))


def _identify_body(probes: list[pb.Probe]) -> bytes:
    return pb.IdentifyRequest(purpose="border_security", probes=probes).SerializeToString()


# --- random envelopes -----------------------------------------------------------------------


@st.composite
def plausible_headers(draw: st.DrawFn, pair: ServedPair) -> bytes:
    """A header naming our agreement and parties, every other field drawn at random:
    it passes the agreement checks and meets the signature and later checks."""
    context = pair.panama.link("CHL").envelope
    header = pb.EnvelopeHeader(
        version=draw(st.sampled_from([1, 1, 1, 0, 2, 2**32 - 1])),
        agreement_id=context.agreement_id,
        agreement_hash=context.agreement_hash,
        sender=draw(st.sampled_from([context.own_party, context.own_party, "CHL", ""])),
        recipient=draw(st.sampled_from([context.partner_party, context.partner_party, "PAN"])),
        message_id=draw(
            st.one_of(st.text(max_size=70), st.from_regex(r"[0-9a-f]{32}", fullmatch=True))
        ),
        message_type=draw(st.integers(0, 9)),
        created_at_ms=draw(
            st.one_of(INT64, st.integers(-1000, 1000).map(lambda o: pair.panama.clock() + o))
        ),
        ephemeral_public_key=draw(st.binary(max_size=40)),
        nonce=draw(st.binary(max_size=16)),
        in_reply_to=draw(st.text(max_size=40)),
        sender_key_id=draw(
            st.one_of(st.text(max_size=70), st.just(key_id(pair.panama.keys.signing_public)))
        ),
    )
    return header.SerializeToString()


@given(data=st.data())
@FUZZ
def test_random_envelopes_get_an_expected_status(target: Target, data: st.DataObject) -> None:
    header = data.draw(st.one_of(st.binary(max_size=300), plausible_headers(target.pair)))
    envelope = pb.SealedEnvelope(
        header=header,
        ciphertext=data.draw(st.binary(max_size=300)),
        signature=data.draw(st.one_of(st.binary(max_size=80), st.binary(min_size=64, max_size=64))),
    )
    target.call(data.draw(st.sampled_from(sorted(METHODS))), envelope)


@given(data=st.data())
@FUZZ
def test_random_bodies_in_valid_envelopes_get_an_expected_status(
    target: Target, data: st.DataObject
) -> None:
    method = data.draw(st.sampled_from(sorted(METHODS)))
    body = data.draw(st.binary(max_size=600))
    target.call(method, _sealed(target.pair, METHODS[method][1], body))


# --- structured bodies: every field drawn, the envelope valid ------------------------------


def _mostly(usual: st.SearchStrategy[T], other: st.SearchStrategy[T]) -> st.SearchStrategy[T]:
    """``usual`` about four times in five, so that draws get past the first check."""
    return st.sampled_from((True, True, True, True, False)).flatmap(
        lambda take_usual: usual if take_usual else other
    )


def _texts(known: list[str]) -> st.SearchStrategy[str]:
    return _mostly(st.sampled_from(known), st.text(max_size=80))


def _known_templates(dataset: DemoDataset) -> tuple[bytes, ...]:
    """Real probe templates; the first is planted on Chile's watchlist (a hit)."""
    return (template_to_bytes(planted_template(dataset)), template_to_bytes(_plain(dataset)))


def _plain(dataset: DemoDataset) -> Template:
    return dataset.encounters["PAN"][0].template


@st.composite
def templates(draw: st.DrawFn, known: tuple[bytes, ...]) -> pb.Template:
    values = draw(
        _mostly(
            st.sampled_from(known),
            st.one_of(
                st.lists(st.floats(width=32), min_size=TEMPLATE_DIM, max_size=TEMPLATE_DIM).map(
                    lambda v: np.asarray(v, dtype="<f4").tobytes()
                ),
                st.binary(max_size=600),
            ),
        )
    )
    return pb.Template(
        dim=draw(_mostly(st.just(TEMPLATE_DIM), UINT32)),
        model_id=draw(_texts([TEMPLATE_MODEL])),
        values=values,
    )


@st.composite
def identify_requests(draw: st.DrawFn, known: tuple[bytes, ...]) -> bytes:
    probes = draw(
        st.lists(
            st.builds(
                pb.Probe,
                template=templates(known),
                scope_rule=_mostly(st.sampled_from([1, 2]), st.integers(0, 2**31 - 1)),
                scope_commitment=_mostly(st.binary(min_size=32, max_size=32), st.binary()),
            ),
            min_size=1,
            max_size=4,
        )
    )
    for number, probe in enumerate(probes):  # unique by default, else anything
        probe.probe_ref = draw(_mostly(st.just(f"fuzz-{number}"), st.text(max_size=80)))
    request = pb.IdentifyRequest(
        purpose=draw(_texts([p.value for p in Purpose])),
        probes=probes,
        max_candidates=draw(_mostly(st.integers(0, 5), UINT32)),
    )
    return request.SerializeToString()


@given(data=st.data())
@settings(FUZZ, max_examples=200)
def test_structured_identify_requests_get_an_expected_status(
    target: Target, dataset: DemoDataset, data: st.DataObject
) -> None:
    body = data.draw(identify_requests(_known_templates(dataset)))
    target.call("Identify", _sealed(target.pair, pb.MESSAGE_TYPE_IDENTIFY_REQUEST, body))


@pytest.fixture(scope="module")
def hit_reference(target: Target, dataset: DemoDataset) -> str:
    """A reference Chile issued to Panama for a planted hit, for step-2 requests."""
    pair = target.pair
    panama = pair.panama
    # Fuzzed identify requests repeat known templates: the guard has held Panama for
    # the day. The next day, a fresh capture of the planted face.
    pair.clock.advance(24 * 3600)
    probe = _probe("fuzz-hit", recaptured(planted_template(dataset), 7), panama.clock())
    envelope = _sealed(pair, pb.MESSAGE_TYPE_IDENTIFY_REQUEST, _identify_body([probe]))
    reply = target.stub.Identify(envelope, timeout=15)
    opened = open_envelope(
        panama.link("CHL").envelope,
        reply,
        now_ms=panama.clock(),
        replay_guard=MemoryReplayGuard(),
        expected_type=pb.MESSAGE_TYPE_IDENTIFY_RESPONSE,
        expected_in_reply_to=read_header(envelope).message_id,
    )
    hits = identify_response_from_bytes(opened.body)["fuzz-hit"]
    assert hits, "the planted probe did not hit"
    return hits[0].hit_reference


@given(data=st.data())
@settings(FUZZ, max_examples=100)
def test_structured_details_requests_get_an_expected_status(
    target: Target, hit_reference: str, data: st.DataObject
) -> None:
    request = pb.DetailsRequest(
        request_id=data.draw(
            _mostly(st.from_regex(r"REQ-[0-9A-F]{8}", fullmatch=True), st.text(max_size=80))
        ),
        hit_reference=data.draw(_texts([hit_reference, "HIT-unknown"])),
        purpose=data.draw(_texts([p.value for p in Purpose])),
        justification=data.draw(
            _mostly(st.just("identity check before referral"), st.text(max_size=2100))
        ),
        officer_id=data.draw(_texts(["PAN-OFF-1"])),
        fields=data.draw(
            _mostly(
                st.lists(st.sampled_from([f.value for f in DetailField]), min_size=1, max_size=4),
                st.lists(st.text(max_size=70), max_size=18),
            )
        ),
    )
    envelope = _sealed(target.pair, pb.MESSAGE_TYPE_DETAILS_REQUEST, request.SerializeToString())
    target.call("RequestDetails", envelope)


@given(data=st.data())
@settings(FUZZ, max_examples=100)
def test_structured_audit_digest_requests_get_an_expected_status(
    target: Target, data: st.DataObject
) -> None:
    # Offsets from now are drawn (not times), so that examples replay alike.
    now_ms = target.pair.panama.clock()
    from_ms = data.draw(_mostly(st.integers(-40 * DAY_MS, 0).map(lambda o: now_ms + o), INT64))
    until_ms = data.draw(
        _mostly(st.integers(-DAY_MS, 40 * DAY_MS).map(lambda o: _int64(from_ms + o)), INT64)
    )
    request = pb.AuditDigestRequest(from_ms=from_ms, until_ms=until_ms)
    envelope = _sealed(
        target.pair, pb.MESSAGE_TYPE_AUDIT_DIGEST_REQUEST, request.SerializeToString()
    )
    target.call("AuditDigest", envelope)


_days = st.one_of(st.dates().map(dt.date.isoformat), st.text(max_size=12))


@given(first_day=_days, last_day=_days)
@settings(FUZZ, max_examples=100)
def test_structured_aggregates_requests_get_an_expected_status(
    target: Target, first_day: str, last_day: str
) -> None:
    request = pb.AggregatesRequest(first_day=first_day, last_day=last_day)
    envelope = _sealed(target.pair, pb.MESSAGE_TYPE_AGGREGATES_REQUEST, request.SerializeToString())
    target.call("ExchangeAggregates", envelope)


def test_node_still_serves_and_its_audit_chain_verifies(
    target: Target, dataset: DemoDataset
) -> None:
    pair = target.pair
    chile, panama = pair.chile, pair.panama
    assert health(pair.servers["CHL"]) == "SERVING"
    pair.clock.advance(24 * 3600)  # past any hold the fuzzing earned
    body = _identify_body([_probe("after-fuzz", recaptured(_plain(dataset), 8), panama.clock())])
    assert target.call("Identify", _sealed(pair, pb.MESSAGE_TYPE_IDENTIFY_REQUEST, body)) is (
        grpc.StatusCode.OK
    )
    assert chile.audit.verify() > 0
    print("statuses met:", dict(sorted(target.seen.items())))
