"""Template extraction through step 1: what a rogue partner recovers from the answers.

``trilateration`` needs the hit distances the holder used to return;
``boundary`` needs only hit/no-hit. ``run_baseline`` attacks the previous
behaviour in process (``baseline``); ``grpc_oracle`` asks a real holder over
gRPC, and the top-level ``attacks`` package runs a whole live pair.
"Recovered" is defined in ``recovery``.
"""

from biometric_exchange.evaluation.attacks.config import ATTACKS, AttackConfig
from biometric_exchange.evaluation.attacks.report import AttackReport, render_markdown
from biometric_exchange.evaluation.attacks.run import run_baseline

__all__ = ["ATTACKS", "AttackConfig", "AttackReport", "render_markdown", "run_baseline"]
