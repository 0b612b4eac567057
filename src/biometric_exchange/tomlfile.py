"""Reading a TOML file, with one message naming the file for each way that can fail."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from biometric_exchange.exceptions import ConfigError, ExchangeError


def read_toml(
    path: Path, *, missing: str, error: type[ExchangeError] = ConfigError
) -> dict[str, Any]:
    """The file's tables; ``error("{path}: {missing}")`` when there is no file, and
    ``error`` naming the parse problem when it is not TOML."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{path}: {missing}") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML: {exc}") from exc
