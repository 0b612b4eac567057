"""Template protection measured in ISO/IEC 30136 terms on the seeded synthetic templates.

Per scheme, against unprotected matching on the same templates:

* accuracy: FNMR at FMR = 0.1 % and FNIR at FPIR = 0.003 over a searched
  gallery, and both error rates at the scheme's stated threshold;
* unlinkability: D↔sys (``protection.linkability``) of mated against
  non-mated comparisons of templates protected under two agreements' keys;
* renewability: how often a person's epoch-1 and epoch-2 templates match,
  against the impostor match rate;
* irreversibility: a key holder's pre-image attack, matched against the
  original template at the unprotected threshold (0.6).

Keys are derived as the nodes would (``derive_protection_key``) from seeded
X25519 keys of three synthetic parties: agreement 1 (parties A and B) in
epochs 1 and 2, agreement 2 (parties A and C) in epoch 1.

``run`` runs the evaluation and serves ``bx evaluate --protection``; the
inputs live in ``setup``, the measurements in ``measure``, threshold
calibration in ``calibration`` and the output in ``report``. Their public
names are re-exported here.
"""

from biometric_exchange.evaluation.protection.calibration import calibrate_threshold
from biometric_exchange.evaluation.protection.measure import UNLINKABILITY_GOAL
from biometric_exchange.evaluation.protection.report import (
    REPORT_NAME,
    print_protection_summary,
    write_protection_report,
)
from biometric_exchange.evaluation.protection.run import (
    evaluate_protection,
    parse_schemes,
    run_protection_evaluation,
)
from biometric_exchange.evaluation.protection.setup import (
    PROBE_CHUNK,
    EvaluationKeys,
    Matrix,
    ProtectionConfig,
    Subjects,
    Unprotected,
    draw_subjects,
    evaluation_keys,
)

__all__ = [
    "PROBE_CHUNK",
    "REPORT_NAME",
    "UNLINKABILITY_GOAL",
    "EvaluationKeys",
    "Matrix",
    "ProtectionConfig",
    "Subjects",
    "Unprotected",
    "calibrate_threshold",
    "draw_subjects",
    "evaluate_protection",
    "evaluation_keys",
    "parse_schemes",
    "print_protection_summary",
    "run_protection_evaluation",
    "write_protection_report",
]
