"""Blind identify: a 1:N search on a probe the holder cannot read (CKKS, Microsoft SEAL
through TenSEAL's ``sealapi``). docs/blind.md describes the protocol and its limits.

* ``params``: the fixed parameter set; ``seal``: the only module that imports TenSEAL.
* ``keys``: the requester's secret context (``SecretContext``); ``public``: the holder's
  ``PublicContext``, which has no secret key.
* ``packing``: slot layout, diagonals and masks (numpy only); ``holder``: the masked
  evaluation; ``requester``: encrypting a probe and reading the signs.

Only ``available()`` may be called without the ``blind`` extra installed.
"""

from __future__ import annotations

import importlib.util

INSTALL_HINT = "install the blind extra: pip install 'biometric-exchange[blind]'"


def available() -> bool:
    """Whether TenSEAL is installed (without importing it)."""
    return importlib.util.find_spec("tenseal") is not None
