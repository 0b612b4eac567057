"""biometric-exchange: a bilateral biometric exchange and early-warning
mechanism for extra-regional migrants, run on synthetic data only."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("biometric-exchange")
except PackageNotFoundError:  # pragma: no cover - source tree without install
    __version__ = "0.0.0"

SYNTHETIC_NOTICE = "SYNTHETIC DATA ONLY - no record describes a real person"
