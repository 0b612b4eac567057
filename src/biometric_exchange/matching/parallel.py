"""Running a search's tile loop on every core.

numpy releases the GIL inside BLAS and most array kernels, so plain threads
scale. While threads share the tiles, BLAS itself is held to one thread (via
threadpoolctl, a scikit-learn dependency): two threads each calling a
multi-threaded BLAS oversubscribe the cores and run several times slower.
The limit is process-wide and reference-counted across concurrent searches.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import Any, TypeVar

Result = TypeVar("Result")

MAX_WORKERS = 8


class _Cores:
    """The shared thread pool and the reference-counted BLAS thread limit."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._controller: Any = None
        self._limiter: Any = None
        self._holders = 0

    def pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(MAX_WORKERS, thread_name_prefix="bx-match")
            return self._pool

    @contextmanager
    def single_threaded_blas(self) -> Iterator[None]:
        with self._lock:
            self._holders += 1
            if self._holders == 1:
                controller = self._blas_controller()
                self._limiter = controller.limit(limits=1) if controller else None
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0 and self._limiter is not None:
                    self._limiter.restore_original_limits()
                    self._limiter = None

    def _blas_controller(self) -> Any:
        """threadpoolctl's controller of the loaded BLAS libraries (False if unavailable)."""
        if self._controller is None:
            try:
                threadpoolctl = importlib.import_module("threadpoolctl")
            except ImportError:  # pragma: no cover - scikit-learn depends on it
                self._controller = False
            else:
                self._controller = threadpoolctl.ThreadpoolController().select(user_api="blas")
        return self._controller


_cores = _Cores()


def available_cores() -> int:
    """Cores this process may run on (at most ``MAX_WORKERS``)."""
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        count = os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, count))


def run_on_cores(task: Callable[[], Result], workers: int) -> list[Result]:
    """Run ``task`` ``workers`` times at once (one in the calling thread)."""
    if workers <= 1:
        return [task()]
    pool = _cores.pool()
    with _cores.single_threaded_blas():
        futures = [pool.submit(task) for _ in range(workers - 1)]
        try:
            own = task()
        except BaseException:
            wait(futures)  # no worker outlives the call; this thread's error is the one raised
            raise
        return [own, *(future.result() for future in futures)]


def single_threaded_blas() -> Any:
    """Context manager: hold BLAS to one thread while any caller is inside."""
    return _cores.single_threaded_blas()
