"""The extraction attacks of ``evaluation.attacks`` against a live holder: a fresh
Chile-Panama pair of node folders, Panama serving over gRPC with mutual TLS in
this process on an injected clock, Chile attacking through its own link."""

from biometric_exchange.attacks.harness import LIVE_ORACLE, LiveConfig, run_live

__all__ = ["LIVE_ORACLE", "LiveConfig", "run_live"]
