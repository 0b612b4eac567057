"""The holder's extraction guard (node/serve/guard.py): plausibility, near-duplicates and
axis copies, the hit cap, strikes and the day's hold, on synthetic templates."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from pathlib import Path

import grpc
import numpy as np
import pytest
from numpy.typing import NDArray

from biometric_exchange.domain import AlertKind, AlertQueue, Severity
from biometric_exchange.exceptions import (
    AgreementRefusal,
    ExtractionRefusal,
    HitCapExceeded,
    ImplausibleProbe,
    NearDuplicateProbe,
    QuotaExceeded,
    StepOneSuspended,
)
from biometric_exchange.matching import DEFAULT_THRESHOLD
from biometric_exchange.node.serve.guard import (
    ExtractionGuard,
    ExtractionSettings,
    PopulationModel,
)
from biometric_exchange.node.status import status_for
from biometric_exchange.protection import scheme_for
from biometric_exchange.store.alerts import AlertStore
from biometric_exchange.store.database import Database
from biometric_exchange.store.extraction import ExtractionStore
from biometric_exchange.synthetic.templates import TemplateModel, paired_distances

MODEL = TemplateModel()
FIT_SEED, FRESH_SEED = 11, 12
DAY = dt.date(2027, 6, 1)
Matrix = NDArray[np.float32]


def enrolment_photos(rng: np.random.Generator, n: int) -> Matrix:
    """Watchlist-quality captures, as the holder's gallery holds them."""
    return MODEL.captures(MODEL.latents(rng, n), rng, max_noise_factor=1.0)


def border_captures(rng: np.random.Generator, n: int, *, minors: float = 0.0) -> Matrix:
    """Captures of the partner's encounters: any light, any pose; a share of minors
    (latents nearer the mean, noisier captures)."""
    minor = rng.random(n) < minors
    identity = np.where(minor, 0.7, 1.0)
    noise = np.where(minor, 1.1, 1.0)
    return MODEL.captures(
        MODEL.latents(rng, n, identity_multiplier=identity), rng, noise_multiplier=noise
    )


@pytest.fixture(scope="module")
def population() -> PopulationModel:
    return PopulationModel.fit(enrolment_photos(np.random.default_rng(FIT_SEED), 20_000))


@pytest.fixture
def database(tmp_path: Path) -> Database:
    return Database(tmp_path / "node.sqlite3")


@pytest.fixture
def store(database: Database) -> ExtractionStore:
    return ExtractionStore(database)


GuardFactory = Callable[..., ExtractionGuard]


@pytest.fixture
def make_guard(store: ExtractionStore, population: PopulationModel) -> GuardFactory:
    def make(partner: str = "PAN", **settings: float) -> ExtractionGuard:
        return ExtractionGuard(
            partner=partner,
            store=store,
            settings=ExtractionSettings.model_validate(settings),
            population=population,
            threshold=DEFAULT_THRESHOLD,
        )

    return make


def refs(prefix: str, n: int) -> list[str]:
    return [f"{prefix}-{i}" for i in range(n)]


# --- plausibility -----------------------------------------------------------------------


def test_fresh_templates_of_the_generator_are_almost_never_refused(
    population: PopulationModel,
) -> None:
    """Fitted on 20,000 enrolment photos (seed 11), checked on 200,000 border captures
    of other people (seed 12), a fifth of them minors: measured 0 refusals (the bands
    are 0.81-2.30 for the norm, where the fresh captures lie within 1.14-1.63, and
    0.32-1.09 for the distance to the mean, where they lie within 0.34-0.95)."""
    fresh = border_captures(np.random.default_rng(FRESH_SEED), 200_000, minors=0.2)
    refused = sum(reason is not None for reason in population.refusals(fresh))
    assert refused / len(fresh) <= 1e-4, refused


@pytest.mark.parametrize(
    ("name", "forge", "statistic"),
    [
        ("scaled", lambda t, rng: 3.0 * t, "norm"),
        # Templates sit around a mean of norm 1.23, so a shift keeps a plausible norm;
        # it moves the template 1.13 away from where faces lie.
        ("shifted", lambda t, rng: t + 0.1, "distance"),
        ("uniform noise", lambda t, rng: rng.uniform(-1, 1, t.shape), "norm"),
        ("gaussian noise", lambda t, rng: rng.normal(0, 1, t.shape), "norm"),
        ("the mean", lambda t, rng: np.zeros_like(t), "norm"),
    ],
)
def test_forged_templates_are_refused_with_their_reason(
    make_guard: GuardFactory,
    name: str,
    forge: Callable[[Matrix, np.random.Generator], Matrix],
    statistic: str,
) -> None:
    rng = np.random.default_rng(3)
    probes = border_captures(rng, 4)
    probes[2] = forge(probes[2], rng)
    guard = make_guard()
    with pytest.raises(ImplausibleProbe, match=rf"^probes\[2\] \(p-2\): {statistic} \d+\.\d\d "):
        guard.screen(refs("p", 4), probes)
    assert guard.remembered == 0, name


def test_distance_to_the_mean_refuses_a_template_far_from_a_shifted_population() -> None:
    """Protected or real templates need not be centred on zero: a probe of a plausible
    norm can still lie too far from the population's mean."""
    rng = np.random.default_rng(4)
    offset = np.full(128, 0.08, np.float32)
    population = PopulationModel.fit(enrolment_photos(rng, 5000) + offset)
    assert population.refusal(border_captures(rng, 1)[0] + offset) is None
    far = -1.2 * offset  # a plausible norm, on the far side of the origin
    assert population.norm.low < np.linalg.norm(far) < population.norm.high
    reason = population.refusal(far)
    assert reason is not None
    assert reason.startswith("distance "), reason
    assert "to the mean template outside the plausible" in reason


def test_non_finite_and_misshapen_templates_are_refused(population: PopulationModel) -> None:
    template = border_captures(np.random.default_rng(5), 1)[0].copy()
    template[0] = np.nan
    assert population.refusal(template) == "non-finite values"
    assert population.refusal(np.zeros(64, np.float32)) == (
        "expected 128 values per template, got (64,)"
    )


@pytest.mark.parametrize("scheme", ["rotation", "biohash", "iom"])
def test_protected_views_are_fitted_on_their_own_values(scheme: str) -> None:
    protection = scheme_for(scheme, bytes(range(32)))
    rng = np.random.default_rng(6)
    gallery = np.asarray(protection.protect(enrolment_photos(rng, 5000)), dtype=np.float32)
    population = PopulationModel.fit(gallery)
    fresh = np.asarray(protection.protect(border_captures(rng, 20_000)), dtype=np.float32)
    refused = sum(reason is not None for reason in population.refusals(fresh))
    assert refused / len(fresh) <= 1e-3, refused
    assert population.refusal(10.0 * fresh[0] + 5.0) is not None


# --- near-duplicates and axis copies ----------------------------------------------------


def test_mated_captures_lie_far_outside_the_near_duplicate_radius() -> None:
    """Two captures of one synthetic face (200,000 adults; minors lie further apart): the least
    distance measured is 0.19 (0.32 x the 0.6 threshold), the 0.1 % quantile 0.24;
    the default radius, 0.1 x the threshold = 0.06, is over three times smaller."""
    rng = np.random.default_rng(7)
    latents = MODEL.latents(rng, 200_000)
    distances = paired_distances(MODEL.captures(latents, rng), MODEL.captures(latents, rng))
    fraction = ExtractionSettings().near_duplicate_fraction
    assert distances.min() / DEFAULT_THRESHOLD >= 3 * fraction


def test_a_second_capture_of_the_same_person_is_accepted(make_guard: GuardFactory) -> None:
    rng = np.random.default_rng(8)
    latents = MODEL.latents(rng, 64)
    guard = make_guard()
    guard.screen(refs("first", 64), MODEL.captures(latents, rng))
    guard.screen(refs("second", 64), MODEL.captures(latents, rng))
    assert guard.remembered == 128


@pytest.mark.parametrize("step", [1e-4, 0.3, -0.3])
@pytest.mark.parametrize("axes", [(5,), (5, 100)])
def test_axis_perturbed_copies_of_a_recent_probe_are_refused(
    make_guard: GuardFactory, step: float, axes: tuple[int, ...]
) -> None:
    rng = np.random.default_rng(9)
    recent = border_captures(rng, 100)
    guard = make_guard()
    guard.screen(refs("p", 100), recent)
    copy = recent[42].copy()
    copy[list(axes)] += step
    kind = "within the near-duplicate radius" if abs(step) < 0.06 else "axis-perturbed copy"
    with pytest.raises(
        NearDuplicateProbe, match=rf"^probes\[0\] \(x\): .*recent probe p-42.*{kind}"
    ):
        guard.screen(["x"], copy[None])
    assert guard.remembered == 100


def test_an_axis_copy_with_a_little_noise_everywhere_is_still_refused(
    make_guard: GuardFactory,
) -> None:
    rng = np.random.default_rng(10)
    recent = border_captures(rng, 10)
    guard = make_guard()
    guard.screen(refs("p", 10), recent)
    copy = recent[3] + rng.normal(0, 0.002, 128).astype(np.float32)
    copy[17] += 0.25
    with pytest.raises(NearDuplicateProbe, match="axis-perturbed copy"):
        guard.screen(["x"], copy[None])


def test_a_retry_under_the_same_reference_is_accepted_and_not_remembered_twice(
    make_guard: GuardFactory,
) -> None:
    probes = border_captures(np.random.default_rng(11), 8)
    guard = make_guard()
    guard.screen(refs("p", 8), probes)
    guard.screen(["p-3", "p-5"], probes[[3, 5]])
    assert guard.remembered == 8
    with pytest.raises(NearDuplicateProbe, match=r"repeats recent probe p-3 under another"):
        guard.screen(["q-1"], probes[3:4])


def test_duplicates_within_one_request_are_refused_and_nothing_is_remembered(
    make_guard: GuardFactory,
) -> None:
    rng = np.random.default_rng(12)
    guard = make_guard()
    probes = border_captures(rng, 6)
    probes[4] = probes[1]
    with pytest.raises(NearDuplicateProbe, match=r"^probes\[4\] \(p-4\): repeats probes\[1\]"):
        guard.screen(refs("p", 6), probes)
    probes = border_captures(rng, 6)
    probes[5] = probes[0]
    probes[5, 77] += 0.4
    with pytest.raises(NearDuplicateProbe, match=r"^probes\[5\].*probes\[0\] of this request"):
        guard.screen(refs("q", 6), probes)
    assert guard.remembered == 0
    guard.screen(refs("r", 6), border_captures(rng, 6))
    assert guard.remembered == 6


def test_the_ring_forgets_the_oldest_probes(make_guard: GuardFactory) -> None:
    probes = border_captures(np.random.default_rng(13), 20)
    guard = make_guard(recent_probes=16)
    for start in range(0, 20, 5):
        guard.screen(refs("p", 20)[start : start + 5], probes[start : start + 5])
    assert guard.remembered == 16
    guard.screen(["again-0"], probes[:1])  # forgotten: accepted again
    with pytest.raises(NearDuplicateProbe, match="recent probe p-19"):
        guard.screen(["again-19"], probes[19:20])


def test_a_request_larger_than_the_ring_keeps_its_last_probes(make_guard: GuardFactory) -> None:
    probes = border_captures(np.random.default_rng(14), 40)
    guard = make_guard(recent_probes=16)
    guard.screen(refs("p", 40), probes)
    assert guard.remembered == 16
    guard.screen(["late-0"], probes[:1])
    with pytest.raises(NearDuplicateProbe, match="recent probe p-39"):
        guard.screen(["late-39"], probes[39:40])


def test_partners_are_screened_apart(make_guard: GuardFactory) -> None:
    probes = border_captures(np.random.default_rng(15), 4)
    make_guard("PAN").screen(refs("p", 4), probes)
    make_guard("MEX").screen(refs("m", 4), probes)


def test_concurrent_screens_keep_the_ring_consistent(make_guard: GuardFactory) -> None:
    """Eight threads, twenty requests of eight probes each: every probe is remembered
    once; then the same template sent by eight threads under eight references passes
    once."""
    rng = np.random.default_rng(16)
    batches = [border_captures(rng, 8) for _ in range(160)]
    guard = make_guard()
    errors: list[BaseException] = []

    def work(thread: int) -> None:
        try:
            for k in range(thread, 160, 8):
                guard.screen(refs(f"t{thread}-{k}", 8), batches[k])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert guard.remembered == 1280
    for k in (0, 77, 159):
        with pytest.raises(NearDuplicateProbe):
            guard.screen(["again"], batches[k][3:4])

    same = border_captures(rng, 1)
    accepted: list[int] = []
    refused: list[int] = []
    barrier = threading.Barrier(8)

    def race(thread: int) -> None:
        barrier.wait()
        try:
            guard.screen([f"race-{thread}"], same)
            accepted.append(thread)
        except NearDuplicateProbe:
            refused.append(thread)

    racers = [threading.Thread(target=race, args=(t,)) for t in range(8)]
    for thread in racers:
        thread.start()
    for thread in racers:
        thread.join()
    assert (len(accepted), len(refused)) == (1, 7)
    assert guard.remembered == 1281


# --- hit cap, strikes, hold ------------------------------------------------------------


def test_hits_are_capped_per_entry_partner_and_day(
    make_guard: GuardFactory, store: ExtractionStore, database: Database
) -> None:
    pan, mex = make_guard("PAN"), make_guard("MEX")
    with database.transaction():
        pan.count_hits(DAY, ["W-1", "W-1", "W-2"])
        pan.count_hits(DAY, ["W-1", "W-1"])
    with database.transaction(), pytest.raises(HitCapExceeded, match="W-1 hit 5 times by PAN"):
        pan.count_hits(DAY, ["W-2", "W-1"])
    assert (store.hits("PAN", DAY, "W-1"), store.hits("PAN", DAY, "W-2")) == (4, 1)
    with database.transaction():
        mex.count_hits(DAY, ["W-1"] * 4)
        pan.count_hits(DAY + dt.timedelta(days=1), ["W-1"] * 4)
    assert store.hits("MEX", DAY, "W-1") == 4


def test_counted_hits_go_with_a_failing_transaction(
    make_guard: GuardFactory, store: ExtractionStore, database: Database
) -> None:
    guard = make_guard()

    class Refused(Exception):
        pass

    with pytest.raises(Refused), database.transaction():
        guard.count_hits(DAY, ["W-1", "W-2"])
        raise Refused
    assert store.hits("PAN", DAY, "W-1") == 0
    with pytest.raises(HitCapExceeded), database.transaction():
        guard.count_hits(DAY, ["W-3"])
        guard.count_hits(DAY, ["W-1"] * 5)
    assert store.hits("PAN", DAY, "W-3") == 0


def test_hits_are_counted_only_inside_a_transaction(make_guard: GuardFactory) -> None:
    with pytest.raises(RuntimeError, match="inside the transaction"):
        make_guard().count_hits(DAY, ["W-1"])


def test_strikes_hold_step_one_until_the_next_utc_day(
    make_guard: GuardFactory, store: ExtractionStore
) -> None:
    guard = make_guard()
    refusal = ImplausibleProbe("probes[0] (p-0): norm 3.20 outside the plausible 0.32-1.08")
    assert guard.suspect(DAY, refusal) is None
    assert guard.suspect(DAY, NearDuplicateProbe("probes[1] (p-1): repeats")) is None
    guard.check_not_held(DAY)
    alert = guard.suspect(DAY, refusal)
    assert alert is not None
    with pytest.raises(StepOneSuspended, match="held for the rest of 2027-06-01"):
        guard.check_not_held(DAY)
    make_guard("MEX").check_not_held(DAY)
    guard.check_not_held(DAY + dt.timedelta(days=1))
    assert store.standing("PAN", DAY) == (3, True)


def test_the_hit_cap_holds_at_once(make_guard: GuardFactory) -> None:
    guard = make_guard()
    alert = guard.suspect(DAY, HitCapExceeded("watchlist entry W-1 hit 5 times"))
    assert alert is not None
    assert alert.evidence[0]["strikes"] == 1
    with pytest.raises(StepOneSuspended):
        guard.check_not_held(DAY)


def test_one_alert_per_partner_and_day_with_nothing_biometric(
    make_guard: GuardFactory, store: ExtractionStore, database: Database
) -> None:
    guard = make_guard(strikes_before_hold=2)
    refusal = NearDuplicateProbe("probes[0] (p-0): repeats recent probe q-1 under another")
    assert guard.suspect(DAY, refusal) is None
    alert = guard.suspect(DAY, refusal)
    assert alert is not None
    assert (alert.kind, alert.severity, alert.queue) == (
        AlertKind.EXTRACTION_SUSPECTED,
        Severity.HIGH,
        AlertQueue.ENFORCEMENT,
    )
    assert alert.subject_key == "partner:PAN:2027-06-01"
    assert alert.partner == "PAN"
    assert alert.evidence == (
        {
            "key": "PAN:2027-06-01:strike-2",
            "rule": "EXTRACTION_SUSPECTED",
            "partner": "PAN",
            "day": "2027-06-01",
            "reason": str(refusal),
            "strikes": 2,
        },
    )
    assert guard.suspect(DAY, refusal) is None  # held already: no second alert
    assert guard.suspect(DAY, StepOneSuspended("held")) is None
    assert store.standing("PAN", DAY) == (3, True)
    alerts = AlertStore(database)
    alerts.raise_alert(alert)
    alerts.raise_alert(alert)
    assert len(alerts.list(kind=AlertKind.EXTRACTION_SUSPECTED)) == 1


def test_other_refusals_count_no_strike(make_guard: GuardFactory, store: ExtractionStore) -> None:
    guard = make_guard(strikes_before_hold=1)
    assert guard.suspect(DAY, QuotaExceeded("daily quota")) is None
    assert guard.suspect(DAY, AgreementRefusal("scope")) is None
    assert store.standing("PAN", DAY) == (0, False)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ImplausibleProbe("probes[3] (p-3): norm 3.20"), grpc.StatusCode.INVALID_ARGUMENT),
        (NearDuplicateProbe("probes[3] (p-3): repeats"), grpc.StatusCode.PERMISSION_DENIED),
        (HitCapExceeded("watchlist entry W-1 hit 5 times"), grpc.StatusCode.RESOURCE_EXHAUSTED),
        (StepOneSuspended("step 1 for PAN held"), grpc.StatusCode.RESOURCE_EXHAUSTED),
    ],
)
def test_guard_refusals_map_to_their_status_with_a_fixed_message(
    error: ExtractionRefusal, code: grpc.StatusCode
) -> None:
    found, message = status_for(error)
    assert found is code
    assert message == type(error).public_message
    assert "probes[" not in message
    assert "W-1" not in message
    assert isinstance(error, ExtractionRefusal)
