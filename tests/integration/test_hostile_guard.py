"""A partner probing to rebuild watchlist templates, over gRPC with mutual TLS: each of
the holder's extraction defences refuses with its status, audits the reason, counts a
strike, and holds step 1 for the rest of the day with one EXTRACTION_SUSPECTED alert.

Each test has a fresh pair (the guard's strikes and recent probes must not carry over),
Chile holding its synthetic watchlist plus 600 more entries, enough to fit the
plausibility bands.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest

from biometric_exchange.crypto.envelope import read_header, seal
from biometric_exchange.domain import (
    TEMPLATE_DIM,
    TEMPLATE_MODEL,
    AlertKind,
    Template,
    template_to_bytes,
    validate_template,
)
from biometric_exchange.evaluation.attacks.enrol import enrol_watchlist
from biometric_exchange.evaluation.attacks.scenario import make_scenario
from biometric_exchange.store.quotas import QuotaKind
from biometric_exchange.synthetic import DemoDataset
from biometric_exchange.v1 import exchange_pb2 as pb
from tests.integration.conftest import ServedPair, entries_after, last_seq, served_pair_in
from tests.probes import planted_template

PERMISSION_DENIED = grpc.StatusCode.PERMISSION_DENIED
RESOURCE_EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED
SUSPENDED = "step 1 suspended until midnight UTC"


@pytest.fixture
def pair(tmp_path: Path, dataset: DemoDataset) -> Iterator[ServedPair]:
    with served_pair_in(tmp_path, dataset) as served:
        scenario = make_scenario(600, 1, seed=5, threshold=0.6)
        enrol_watchlist(served.chile, scenario, seed=5)
        # The plausibility model follows the watchlist as of the latest search pass.
        assert _identify(served, _probe("warm-up", dataset.encounters["PAN"][5].template))[0] is (
            grpc.StatusCode.OK
        )
        yield served


def _probe(ref: str, template: Template) -> pb.Probe:
    return pb.Probe(
        probe_ref=ref,
        template=pb.Template(
            dim=TEMPLATE_DIM, model_id=TEMPLATE_MODEL, values=template_to_bytes(template)
        ),
        scope_rule=pb.SCOPE_RULE_STANDARD,
        scope_commitment=bytes(32),
    )


def _identify(pair: ServedPair, *probes: pb.Probe) -> tuple[grpc.StatusCode, str, str]:
    """(status, public message, the reason Chile audited) of one request from Panama."""
    panama, chile = pair.panama, pair.chile
    body = pb.IdentifyRequest(purpose="border_security", probes=probes, max_candidates=3)
    envelope = seal(
        panama.link("CHL").envelope,
        pb.MESSAGE_TYPE_IDENTIFY_REQUEST,
        body.SerializeToString(deterministic=True),
        now_ms=panama.clock(),
    )
    before = last_seq(chile)
    try:
        pair.partner_stub(panama, chile).Identify(envelope, timeout=15)
    except grpc.RpcError as exc:
        (entry,) = entries_after(chile, before, "identify.received")
        assert entry.outcome == "rejected"
        assert entry.message_id == read_header(envelope).message_id
        return exc.code(), exc.details() or "", str(entry.detail["reason"])
    return grpc.StatusCode.OK, "", ""


def _nudged(template: Template, axis: int, step: float) -> Template:
    values = np.array(template, dtype=np.float32)
    values[axis] += step
    return validate_template(values)


def _extraction_alerts(pair: ServedPair) -> list[str]:
    return [a.summary for a in pair.chile.alerts.list(kind=AlertKind.EXTRACTION_SUSPECTED)]


@pytest.mark.parametrize("step", [1e-4, 0.3])
def test_an_axis_perturbed_copy_of_a_recent_probe_is_permission_denied(
    pair: ServedPair, dataset: DemoDataset, step: float
) -> None:
    """The trilateration attacker's probe: a recent probe moved along one axis, by a
    hair or by half the threshold."""
    template = planted_template(dataset)
    assert _identify(pair, _probe("first", template))[0] is grpc.StatusCode.OK
    code, public, reason = _identify(pair, _probe("nudged", _nudged(template, 7, step)))
    assert (code, public) == (PERMISSION_DENIED, "probe repeats a recent probe")
    assert reason.startswith("probes[0] (nudged): ")
    assert _extraction_alerts(pair) == [], "one strike holds no one"


def test_a_probe_that_is_no_face_template_is_invalid_argument(
    pair: ServedPair, dataset: DemoDataset
) -> None:
    scaled = validate_template(np.asarray(planted_template(dataset), dtype=np.float32) * 4)
    code, public, reason = _identify(pair, _probe("scaled", scaled))
    assert (code, public) == (grpc.StatusCode.INVALID_ARGUMENT, "implausible probe template")
    assert reason.startswith("probes[0] (scaled): norm ")


def test_the_same_template_under_another_reference_is_a_near_duplicate(
    pair: ServedPair, dataset: DemoDataset
) -> None:
    template = planted_template(dataset)
    assert _identify(pair, _probe("once", template))[0] is grpc.StatusCode.OK
    assert _identify(pair, _probe("once", template))[0] is grpc.StatusCode.OK, "a retry"
    code, public, _reason = _identify(pair, _probe("again", template))
    assert (code, public) == (PERMISSION_DENIED, "probe repeats a recent probe")


def test_hits_past_the_daily_cap_on_one_entry_hold_step1_at_once(
    pair: ServedPair, dataset: DemoDataset
) -> None:
    """Five distinct probes of one watchlisted face in one request: the fifth hit is one
    past the cap of four, the request is refused whole (its quota and hits undone),
    the partner is held, and the holder's operators are alerted."""
    template = np.asarray(planted_template(dataset), dtype=np.float32)
    rng = np.random.default_rng(3)
    probes = [
        _probe(f"cap-{i}", validate_template(template + rng.normal(0, 0.012, TEMPLATE_DIM)))
        for i in range(5)
    ]
    chile = pair.chile
    used = chile.quotas.used(chile.today(), "PAN", QuotaKind.PROBES_RECEIVED)
    code, public, reason = _identify(pair, *probes)
    assert (code, public) == (RESOURCE_EXHAUSTED, SUSPENDED)
    assert "4" in reason
    assert chile.quotas.used(chile.today(), "PAN", QuotaKind.PROBES_RECEIVED) == used
    (summary,) = _extraction_alerts(pair)
    assert summary.startswith("step 1 held for PAN")
    code, public, reason = _identify(pair, _probe("innocent", _nudged(template, 3, 0.2)))
    assert (code, public) == (RESOURCE_EXHAUSTED, SUSPENDED)
    assert reason.startswith("step 1 for PAN held for the rest of")


def test_three_strikes_hold_step1_until_the_next_utc_day(
    pair: ServedPair, dataset: DemoDataset
) -> None:
    template = planted_template(dataset)
    assert _identify(pair, _probe("base", template))[0] is grpc.StatusCode.OK
    for strike in range(3):
        code, _public, _reason = _identify(pair, _probe(f"s{strike}", template))
        assert code is PERMISSION_DENIED
    (summary,) = _extraction_alerts(pair)
    assert "after 3 guard refusals" in summary
    fresh = _nudged(template, 11, 0.25)
    assert _identify(pair, _probe("later", fresh))[:2] == (RESOURCE_EXHAUSTED, SUSPENDED)
    pair.clock.advance(24 * 3600)
    noise = np.random.default_rng(9).normal(0, 0.02, TEMPLATE_DIM)
    other = validate_template(np.asarray(template, dtype=np.float32) + noise)
    assert _identify(pair, _probe("tomorrow", other))[0] is grpc.StatusCode.OK
    assert len(_extraction_alerts(pair)) == 1
