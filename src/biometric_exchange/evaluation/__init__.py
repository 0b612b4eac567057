"""Accuracy evaluation on synthetic templates (ISO/IEC 19795-1, NIST FRTE practice).

1:1 verification (FMR, FNMR, DET, EER), open-set 1:N identification (FPIR,
FNIR, CMC, the threshold each gallery size needs; galleries up to 1M
searched, the fitted model beside them) and strata (sex, age band, region,
quality, nationality) with per-stratum thresholds, every rate with a
subject-level bootstrap interval. ``run_evaluation`` computes,
``write_report`` writes ``report.json`` and the figures. The figures need matplotlib; this package
imports it only through ``report`` and ``plots``.
"""

from biometric_exchange.evaluation.pipeline import (
    DEFAULT_SEED,
    DEFAULT_SIZES,
    Evaluation,
    EvaluationConfig,
    run_evaluation,
)

__all__ = [
    "DEFAULT_SEED",
    "DEFAULT_SIZES",
    "Evaluation",
    "EvaluationConfig",
    "run_evaluation",
]
