"""Blind identify against plain matching, in one process (``bx bench blind``).

Per watchlist size: synthetic dlib-like templates (``TemplateModel``), half of the
probes captures of listed faces, half of faces not listed. Each repetition times
both ways for every probe, interleaved: the holder's blind evaluation (CKKS, one
probe) and the plain engine's threshold search of the same probe (``Gallery``, one
probe a call, as a holder serves a single-probe Identify). Seconds per probe are the
medians over the repetitions of each repetition's mean; the ratio compares the two
medians. Bytes are whole sealed envelopes (header, ciphertext, signature) as gRPC
carries them: BlindIdentify and BlindReveal each way, against plain Identify.
Agreement: the hits of every probe both ways, and the largest CKKS error on the
decision value τ² - d² against the margin (``blind.params.MARGIN``).

``--agreement-probes`` adds the check on many probes (2,000 on 10,000 entries by
default when asked): identical hits, decisions flagged undecided, worst error.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from numpy.typing import NDArray

from biometric_exchange.agreement.terms import ScopeRule
from biometric_exchange.blind import params
from biometric_exchange.blind.holder import BlindGallery, Evaluation, evaluate
from biometric_exchange.blind.keys import SecretContext
from biometric_exchange.blind.public import PublicContext
from biometric_exchange.blind.requester import decide, decrypt_values, encrypt_probe
from biometric_exchange.crypto.envelope import EnvelopeContext, seal
from biometric_exchange.matching.gallery import Gallery
from biometric_exchange.serde.blind import (
    BlindAnswer,
    BlindClaims,
    BlindProbeIn,
    BlindQuery,
    blind_answer_to_bytes,
    blind_request_to_bytes,
    claims_to_bytes,
    reveal_reply_to_bytes,
)
from biometric_exchange.serde.identify import (
    HitOut,
    IdentifyQuery,
    ProbeIn,
    identify_request_to_bytes,
    identify_response_to_bytes,
)
from biometric_exchange.synthetic.templates import TemplateModel
from biometric_exchange.v1 import exchange_pb2 as pb

Progress = Callable[[str], None]
Floats = NDArray[np.float32]
SIZES = (1_000, 10_000, 100_000)
THRESHOLD = 0.6
PLAIN_CANDIDATES = 50
"""The plain search returns every hit under the threshold (no probe here has this many)."""
COMMITMENT = bytes(32)
HIT_REFERENCE = "HIT-" + "x" * 16


@dataclass(frozen=True)
class Settings:
    sizes: tuple[int, ...] = SIZES
    probes: int = 4
    """Probes per repetition and size (half mated)."""
    repeats: int = 3
    agreement_probes: int = 0
    agreement_size: int = 10_000
    jobs: int = 1
    """Processes for the agreement check (each holds its own keys and gallery)."""
    seed: int = 2024


@dataclass
class SizeFigures:
    entries: int
    blocks: int
    blind_s: float
    """The holder's seconds per probe, median over repetitions."""
    plain_s: float
    ratio: float
    blind_runs: list[float]
    plain_runs: list[float]
    requester_s: float
    """Encrypting and reading one probe on the requester's side (median)."""
    request_bytes: int
    """BlindIdentify and BlindReveal requests, sealed, per probe."""
    reply_bytes: int
    plain_request_bytes: int
    plain_reply_bytes: int
    context_bytes: int
    """The public context, sent once per partner session."""
    probes_compared: int
    agree: int
    undecided: int
    max_error: float


@dataclass
class AgreementFigures:
    entries: int
    probes: int
    mated: int
    agree: int
    differ: int
    undecided: int
    """Probes with at least one decision inside the margin (never counted as agreeing
    unless the rest agreed)."""
    max_error: float
    seconds: float


@dataclass
class Report:
    settings: Settings
    parameters: dict[str, Any]
    sizes: list[SizeFigures] = field(default_factory=list)
    agreement: AgreementFigures | None = None
    load_average: tuple[float, float] = (0.0, 0.0)
    """One-minute load average before and after."""


def _data(size: int, probes: int, seed: int) -> tuple[Floats, Floats, int]:
    """A watchlist of ``size`` and ``probes`` probes, the first half mated."""
    model = TemplateModel()
    rng = np.random.default_rng(seed)
    latents = model.latents(rng, size)
    gallery = model.captures(latents, rng, max_noise_factor=1.0)
    mated = min(probes // 2, size)
    picks = rng.choice(size, mated, replace=False) if mated else np.empty(0, dtype=np.int64)
    others = model.latents(rng, probes - mated)
    stacked = np.concatenate([latents[picks], others]) if mated else others
    return gallery, model.captures(stacked, rng), mated


def _plain_engine(gallery: Floats) -> Gallery:
    engine = Gallery()
    engine.add([str(i) for i in range(len(gallery))], gallery)
    return engine


def _plain_hits(engine: Gallery, probe: Floats) -> frozenset[int]:
    result = engine.search(probe[None, :], k=PLAIN_CANDIDATES, threshold=THRESHOLD)
    return frozenset(int(c.id) for c in result.candidates(0))


@dataclass(frozen=True)
class _Blind:
    hits: frozenset[int]
    undecided: int
    holder_s: float
    requester_s: float
    max_error: float
    evaluation: Evaluation
    request: BlindProbeIn


def _blind(
    keys: SecretContext, public: PublicContext, gallery: BlindGallery, probe: Floats
) -> _Blind:
    started = time.perf_counter()
    encrypted = encrypt_probe(keys, probe)
    encrypt_s = time.perf_counter() - started
    started = time.perf_counter()
    evaluation = evaluate(public, encrypted, gallery)
    holder_s = time.perf_counter() - started
    started = time.perf_counter()
    values = decrypt_values(keys, evaluation.blocks)
    decisions = decide(values)
    read_s = time.perf_counter() - started
    rows = evaluation.layout.rows
    hits = frozenset(int(rows[slot]) for slot in decisions.hits)
    return _Blind(
        hits,
        decisions.undecided,
        holder_s,
        encrypt_s + read_s,
        _max_error(evaluation, values, gallery, probe),
        evaluation,
        BlindProbeIn("PRB-bench", ScopeRule.STANDARD, COMMITMENT, encrypted),
    )


def _max_error(
    evaluation: Evaluation,
    values: NDArray[np.complex128],
    gallery: BlindGallery,
    probe: Floats,
) -> float:
    """The largest CKKS error on τ² - d² over the entries' slots (both values)."""
    rows = evaluation.layout.rows
    entry = rows >= 0
    templates = np.asarray(gallery.templates, dtype=np.float64)[rows[entry]]
    exact = gallery.threshold**2 - ((templates - probe.astype(np.float64)) ** 2).sum(axis=1)
    r, u = evaluation.masks.r[entry], evaluation.masks.u[entry]
    low = values.real[entry] / r + params.MARGIN
    high = values.imag[entry] / (r * u) - params.MARGIN
    return float(max(np.abs(low - exact).max(), np.abs(high - exact).max()))


def _loopback() -> EnvelopeContext:
    signing, kex = Ed25519PrivateKey.generate(), X25519PrivateKey.generate()
    return EnvelopeContext(
        agreement_id="BENCH",
        agreement_hash="0" * 64,
        own_party="PAN",
        partner_party="CHL",
        own_signing_key=signing,
        own_kex_key=kex,
        partner_signing_public=signing.public_key(),
        partner_kex_public=kex.public_key(),
    )


def _sealed(context: EnvelopeContext, kind: pb.MessageType.ValueType, body: bytes) -> int:
    return seal(context, kind, body, now_ms=0).ByteSize()


def _wire(
    context: EnvelopeContext, keys: SecretContext, blind: _Blind, probe: Floats
) -> tuple[int, ...]:
    """Sealed bytes per probe: blind (request, reply), plain (request, reply), context."""
    request = BlindQuery("border_security", 3, keys.digest, None, (blind.request,))
    answer = BlindAnswer(
        round_id="r" * 32, blocks={"PRB-bench": blind.evaluation.blocks}, max_hits=3
    )
    claims = BlindClaims("r" * 32, {"PRB-bench": (0,)})
    results = {"PRB-bench": [HitOut(HIT_REFERENCE, "arrest_warrant")]}
    blind_request = _sealed(
        context, pb.MESSAGE_TYPE_BLIND_IDENTIFY_REQUEST, blind_request_to_bytes(request)
    ) + _sealed(context, pb.MESSAGE_TYPE_BLIND_REVEAL_REQUEST, claims_to_bytes(claims))
    blind_reply = _sealed(
        context, pb.MESSAGE_TYPE_BLIND_IDENTIFY_RESPONSE, blind_answer_to_bytes(answer)
    ) + _sealed(context, pb.MESSAGE_TYPE_BLIND_REVEAL_RESPONSE, reveal_reply_to_bytes(results))
    plain = IdentifyQuery(
        "border_security", (ProbeIn("PRB-bench", probe, ScopeRule.STANDARD, COMMITMENT),), 3
    )
    plain_request = _sealed(
        context, pb.MESSAGE_TYPE_IDENTIFY_REQUEST, identify_request_to_bytes(plain)
    )
    plain_reply = _sealed(
        context, pb.MESSAGE_TYPE_IDENTIFY_RESPONSE, identify_response_to_bytes(results)
    )
    with_context = BlindQuery("border_security", 3, keys.digest, keys.blob, ())
    bare = BlindQuery("border_security", 3, keys.digest, None, ())
    context_bytes = len(blind_request_to_bytes(with_context)) - len(blind_request_to_bytes(bare))
    return blind_request, blind_reply, plain_request, plain_reply, context_bytes


def _size(settings: Settings, size: int, keys: SecretContext, progress: Progress) -> SizeFigures:
    templates, probes, _mated = _data(size, settings.probes, settings.seed + size)
    gallery = BlindGallery(templates, THRESHOLD)
    public = PublicContext(keys.blob)
    engine = _plain_engine(templates)
    blind_runs, plain_runs, requester, errors = [], [], [], [0.0]
    agree = undecided = 0
    last: _Blind | None = None
    for repeat in range(settings.repeats):
        blind_total = plain_total = 0.0
        for probe in probes:
            started = time.perf_counter()
            expected = _plain_hits(engine, probe)
            plain_total += time.perf_counter() - started
            last = _blind(keys, public, gallery, probe)
            blind_total += last.holder_s
            requester.append(last.requester_s)
            errors.append(last.max_error)
            agree += int(last.hits == expected)
            undecided += int(last.undecided > 0)
        blind_runs.append(blind_total / len(probes))
        plain_runs.append(plain_total / len(probes))
        progress(f"{size:,} entries, repetition {repeat + 1}: {blind_runs[-1]:.3f} s blind")
    assert last is not None
    wire = _wire(_loopback(), keys, last, probes[0])
    blind_s, plain_s = statistics.median(blind_runs), statistics.median(plain_runs)
    return SizeFigures(
        entries=size,
        blocks=last.evaluation.layout.blocks,
        blind_s=blind_s,
        plain_s=plain_s,
        ratio=blind_s / plain_s if plain_s > 0 else math.inf,
        blind_runs=blind_runs,
        plain_runs=plain_runs,
        requester_s=statistics.median(requester),
        request_bytes=wire[0],
        reply_bytes=wire[1],
        plain_request_bytes=wire[2],
        plain_reply_bytes=wire[3],
        context_bytes=wire[4],
        probes_compared=settings.repeats * len(probes),
        agree=agree,
        undecided=undecided,
        max_error=max(errors),
    )


def _compare(templates: Floats, probes: Floats) -> tuple[int, int, int, float]:
    keys = SecretContext()
    public = PublicContext(keys.blob)
    gallery = BlindGallery(templates, THRESHOLD)
    engine = _plain_engine(templates)
    agree = differ = undecided = 0
    worst = 0.0
    for probe in probes:
        blind = _blind(keys, public, gallery, probe)
        worst = max(worst, blind.max_error)
        if blind.undecided:
            undecided += 1
        if blind.hits == _plain_hits(engine, probe):
            agree += 1
        else:
            differ += 1
    return agree, differ, undecided, worst


def _compare_slice(args: tuple[int, int, int, int, int]) -> tuple[int, int, int, float]:
    size, total, seed, start, stop = args
    templates, probes, _mated = _data(size, total, seed)
    return _compare(templates, probes[start:stop])


def agreement(settings: Settings, progress: Progress) -> AgreementFigures:
    """Blind against plain on ``agreement_probes`` probes of a ``agreement_size`` list."""
    size, total, seed = settings.agreement_size, settings.agreement_probes, settings.seed
    jobs = max(1, settings.jobs)
    bounds = [round(total * n / jobs) for n in range(jobs + 1)]
    slices = [(size, total, seed, bounds[n], bounds[n + 1]) for n in range(jobs)]
    started = time.perf_counter()
    progress(f"agreement: {total:,} probes on {size:,} entries, {jobs} process(es)")
    if jobs == 1:
        parts = [_compare_slice(slices[0])]
    else:
        with ProcessPoolExecutor(jobs) as pool:
            parts = list(pool.map(_compare_slice, slices))
    _templates, _probes, mated = _data(size, total, seed)
    return AgreementFigures(
        entries=size,
        probes=total,
        mated=mated,
        agree=sum(p[0] for p in parts),
        differ=sum(p[1] for p in parts),
        undecided=sum(p[2] for p in parts),
        max_error=max(p[3] for p in parts),
        seconds=time.perf_counter() - started,
    )


def run(settings: Settings, progress: Progress) -> Report:
    before = os.getloadavg()[0]
    report = Report(
        settings,
        {
            "poly_degree": params.POLY_DEGREE,
            "coeff_bits": list(params.COEFF_BITS),
            "security": params.SECURITY_ROW,
            "scale_bits": params.SCALE_BITS,
            "margin": params.MARGIN,
            "mask_span_bits": params.MASK_SPAN_BITS,
            "decoy_share": params.DECOY_SHARE,
        },
    )
    keys = SecretContext()
    for size in settings.sizes:
        report.sizes.append(_size(settings, size, keys, progress))
    if settings.agreement_probes:
        report.agreement = agreement(settings, progress)
    report.load_average = (before, os.getloadavg()[0])
    return report


def _kb(count: int) -> str:
    return f"{count / 1000:,.0f} KB" if count >= 10_000 else f"{count:,} B"


def format_report(report: Report) -> str:
    settings = report.settings
    lines = [
        "Blind identify against plain matching (synthetic templates; "
        f"{settings.probes} probes x {settings.repeats} repetitions per size, medians)",
        f"CKKS N = {params.POLY_DEGREE}, q = {'+'.join(map(str, params.COEFF_BITS))} bits "
        f"({params.SECURITY_ROW}); margin {params.MARGIN:g} on tau^2 - d^2",
        "",
        "| entries | blocks | holder s/probe blind | plain | blind / plain | requester s "
        "| bytes to holder (blind / plain) | bytes back (blind / plain) | same hits | "
        "max CKKS error |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in report.sizes:
        lines.append(
            f"| {s.entries:,} | {s.blocks} | {s.blind_s:.3f} | {s.plain_s * 1000:.2f} ms | "
            f"{s.ratio:,.0f} | {s.requester_s:.3f} | {_kb(s.request_bytes)} / "
            f"{_kb(s.plain_request_bytes)} | {_kb(s.reply_bytes)} / {_kb(s.plain_reply_bytes)} "
            f"| {s.agree} / {s.probes_compared} | {s.max_error:.1e} |"
        )
    if report.sizes:
        context = report.sizes[0].context_bytes
        lines.append("")
        lines.append(f"public context, once per partner session: {_kb(context)}")
    agreement = report.agreement
    if agreement is not None:
        lines += [
            "",
            f"agreement on {agreement.probes:,} probes ({agreement.mated:,} mated) against "
            f"{agreement.entries:,} entries: same hits {agreement.agree:,}, different "
            f"{agreement.differ:,}, with an undecided decision {agreement.undecided:,}; "
            f"largest CKKS error {agreement.max_error:.1e} (margin {params.MARGIN:g}, "
            f"{params.MARGIN / max(agreement.max_error, 1e-300):.1f}x); "
            f"{agreement.seconds:,.0f} s",
        ]
    lines.append("")
    lines.append(
        f"load average (1 min) {report.load_average[0]:.2f} before, "
        f"{report.load_average[1]:.2f} after"
    )
    return "\n".join(lines)


def to_json(report: Report) -> str:
    return json.dumps(asdict(report), indent=2, default=str)
