"""Distance -> probability that a pair is mated, fitted on synthetic pairs.

A ``Calibrator`` learns the likelihood ratio ``LR(d) = p(d | mated) /
p(d | non-mated)`` from genuine and impostor distances with scikit-learn,
trained class-balanced so that its output is the posterior at a 50 % prior.
The score it returns is the posterior at the stated ``base_rate`` (the prior
share of mated pairs among the pairs scored):

    score(d) = LR(d) * r / (LR(d) * r + 1 - r),  r = base_rate.

* ``isotonic`` (default): isotonic regression, monotone by construction,
  no assumption on the shape of either distribution.
* ``logistic``: logistic regression on the distance, ``log LR = a + b d``;
  smooth and strictly decreasing; the fit is rejected unless ``b < 0``.

Either way LR is clipped to ``[1 / 2n, 2n]`` for n pairs of the smaller
class: a sample of n pairs cannot support more certainty than that.

Both are non-increasing in distance. The default base rate 0.5 gives the
evidence alone (``LR / (1 + LR)``); for a 1:N search where few probes are
enrolled, set it to the share of mated pairs you expect among candidates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.matching.result import Candidate

if TYPE_CHECKING:
    from biometric_exchange.synthetic.templates import TemplateModel

Method = Literal["isotonic", "logistic"]
Wide = NDArray[np.float64]

DEFAULT_BASE_RATE = 0.5
"""Prior probability that a scored pair is mated (0.5: the evidence alone)."""
DEFAULT_PAIRS = 5000


@dataclass(frozen=True, eq=False)
class Calibrator:
    """Monotone map from distance to probability of a mated pair at ``base_rate``."""

    method: Method
    base_rate: float
    _model: Any
    _odds_range: tuple[float, float]

    @classmethod
    def fit(
        cls,
        genuine: ArrayLike,
        impostor: ArrayLike,
        *,
        method: Method = "isotonic",
        base_rate: float = DEFAULT_BASE_RATE,
    ) -> Calibrator:
        """Fit on mated (``genuine``) and non-mated (``impostor``) distances."""
        mated = _distances(genuine, "genuine")
        other = _distances(impostor, "impostor")
        values = np.concatenate([mated, other])
        labels = np.concatenate([np.ones(mated.size), np.zeros(other.size)])
        weights = np.concatenate(
            [np.full(mated.size, 0.5 / mated.size), np.full(other.size, 0.5 / other.size)]
        )
        # The largest odds the sample can support: no class is ever certain.
        cap = 2.0 * min(mated.size, other.size)
        model: Any
        # scikit-learn is imported here, not at module load: it is slow to import.
        from sklearn.isotonic import IsotonicRegression  # noqa: PLC0415
        from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

        if method == "isotonic":
            model = IsotonicRegression(increasing=False, out_of_bounds="clip", y_min=0, y_max=1)
            model.fit(values, labels, sample_weight=weights)
        elif method == "logistic":
            model = LogisticRegression(C=1e4, max_iter=1000)
            model.fit(values[:, None], labels, sample_weight=weights * values.size)
            if not model.coef_[0, 0] < 0:
                raise InvalidInput("calibration: logistic fit is not decreasing in distance")
        else:
            raise InvalidInput(f"calibration: unknown method {method!r}")
        return cls(method, _check_rate(base_rate), model, (1.0 / cap, cap))

    @classmethod
    def fit_synthetic(
        cls,
        model: TemplateModel | None = None,
        *,
        pairs: int = DEFAULT_PAIRS,
        seed: int = 0,
        method: Method = "isotonic",
        base_rate: float = DEFAULT_BASE_RATE,
    ) -> Calibrator:
        """Fit on ``pairs`` genuine and ``pairs`` impostor pairs drawn from ``model``."""
        from biometric_exchange.synthetic.templates import TemplateModel  # noqa: PLC0415

        genuine, impostor = sample_pair_distances(model or TemplateModel(), pairs, seed=seed)
        return cls.fit(genuine, impostor, method=method, base_rate=base_rate)

    def with_base_rate(self, base_rate: float) -> Calibrator:
        """The same fit at another prior."""
        return replace(self, base_rate=_check_rate(base_rate))

    def likelihood_ratio(self, distances: ArrayLike) -> Wide:
        """``p(d | mated) / p(d | non-mated)`` for each distance."""
        values = np.asarray(distances, dtype=np.float64).ravel()
        if values.size == 0:
            return np.empty(0, dtype=np.float64)
        if self.method == "isotonic":
            posterior = np.asarray(self._model.predict(values), dtype=np.float64)
            with np.errstate(divide="ignore"):
                odds = posterior / (1.0 - posterior)
        else:
            odds = np.exp(np.asarray(self._model.decision_function(values[:, None])))
        low, high = self._odds_range
        ratio: Wide = np.clip(odds, low, high)
        return ratio

    def score(self, distances: ArrayLike) -> Wide:
        """Probability that each pair is mated, at ``base_rate``."""
        ratio = self.likelihood_ratio(distances)
        prior_odds = self.base_rate / (1.0 - self.base_rate)
        posterior: Wide = ratio * prior_odds / (ratio * prior_odds + 1.0)
        return posterior

    def attach(self, candidates: Sequence[Candidate]) -> list[Candidate]:
        """``candidates`` with ``score`` set."""
        scores = self.score([c.distance for c in candidates]).tolist()
        return [replace(c, score=s) for c, s in zip(candidates, scores, strict=True)]


def sample_pair_distances(model: TemplateModel, pairs: int, *, seed: int = 0) -> tuple[Wide, Wide]:
    """``pairs`` genuine and ``pairs`` impostor distances from ``model`` (seeded).

    Genuine: two captures of one identity. Impostor: captures of two identities.
    """
    if pairs < 1:
        raise InvalidInput("pairs: expected an integer >= 1")
    rng = np.random.default_rng(seed)
    genuine = np.empty(pairs)
    impostor = np.empty(pairs)
    for i in range(pairs):
        first, second = model.latent(rng), model.latent(rng)
        probe = np.asarray(model.capture(first, rng), dtype=np.float64)
        genuine[i] = np.linalg.norm(probe - model.capture(first, rng))
        impostor[i] = np.linalg.norm(probe - model.capture(second, rng))
    return genuine, impostor


def _distances(values: ArrayLike, name: str) -> Wide:
    array = np.asarray(values, dtype=np.float64).ravel()
    if array.size < 2 or not np.all(np.isfinite(array)) or np.any(array < 0):
        raise InvalidInput(f"{name}: expected at least 2 finite non-negative distances")
    return array


def _check_rate(rate: float) -> float:
    if not (isinstance(rate, int | float) and 0.0 < rate < 1.0 and math.isfinite(rate)):
        raise InvalidInput(f"base_rate: expected a probability in (0, 1), got {rate!r}")
    return float(rate)
