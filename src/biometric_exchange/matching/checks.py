"""Validation of the arguments of the matching API (ids, templates, k, threshold)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from biometric_exchange.exceptions import InvalidInput, InvalidTemplate

FLOAT32_MAX = float(np.finfo(np.float32).max)


def as_float32(
    values: ArrayLike, *, name: str, dim: int, ndims: tuple[int, ...]
) -> NDArray[np.float32]:
    """``values`` as a C-contiguous float32 array of rank in ``ndims``, last axis ``dim``."""
    if isinstance(values, np.ndarray) and values.dtype == np.float32:
        array: NDArray[np.floating] = values
    else:
        try:
            array = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InvalidTemplate(f"{name}: values must be numbers in a regular array") from exc
    if array.ndim not in ndims:
        shapes = " or ".join("(n, dim)" if n == 2 else "(dim,)" for n in ndims)
        raise InvalidTemplate(f"{name}: expected shape {shapes}, got {array.ndim}-D {array.shape}")
    if array.shape[-1] != dim:
        raise InvalidTemplate(f"{name}: expected {dim} values per template, got {array.shape[-1]}")
    if not np.all(np.isfinite(array)):
        raise InvalidTemplate(f"{name}: values must be finite (no NaN or infinity)")
    if array.dtype != np.float32 and np.any(np.abs(array) > FLOAT32_MAX):
        raise InvalidTemplate(f"{name}: values exceed the float32 range")
    return np.ascontiguousarray(array, dtype=np.float32)


def id_list(ids: Sequence[str]) -> list[str]:
    """``ids`` as a list of distinct non-empty strings, or InvalidInput."""
    if isinstance(ids, str | bytes):
        raise InvalidInput("ids: expected a sequence of id strings, got a single string")
    try:
        items = list(ids)
    except TypeError as exc:
        raise InvalidInput("ids: expected a sequence of id strings") from exc
    bad = [ident for ident in items if not isinstance(ident, str) or not ident]
    if bad:
        raise InvalidInput(f"ids: every id must be a non-empty string, got {preview(bad)}")
    if len(set(items)) != len(items):
        twice = [ident for ident, count in Counter(items).items() if count > 1]
        raise InvalidInput(f"ids: duplicate ids in the batch: {preview(twice)}")
    return items


def positive_int(value: int, name: str) -> int:
    """``value`` as an int >= 1 (bools rejected), or InvalidInput."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise InvalidInput(f"{name}: expected an integer >= 1, got {value!r}")
    return int(value)


def check_threshold(threshold: float | None) -> float | None:
    """A non-negative float threshold, None passing through, or InvalidInput."""
    if threshold is None:
        return None
    try:
        limit = float(threshold)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"threshold: expected a number, got {threshold!r}") from exc
    if math.isnan(limit) or limit < 0:
        raise InvalidInput(f"threshold: expected a non-negative number, got {threshold!r}")
    return limit


def preview(items: Sequence[object], limit: int = 5) -> str:
    """The first ``limit`` items as reprs, with a count of the rest."""
    shown = ", ".join(repr(item) for item in items[:limit])
    return shown + (f" (+{len(items) - limit} more)" if len(items) > limit else "")
