"""Log output for operators: readable text, or one JSON object per line.

A JSON line carries ``time`` (ISO 8601, UTC), ``level``, ``logger``,
``message``, ``node`` in a node process, and every field passed through
``extra=`` (e.g. ``message_id``, ``peer``, ``method``). A text line reads
``<time> <LEVEL> <node> <logger>: <message>`` (no node outside a node process).
Log lines carry ids, counts and reasons only: never template bytes, images or
personal names.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any, TextIO

from pythonjsonlogger.json import JsonFormatter

LOG_FORMAT_ENV = "BX_LOG_FORMAT"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
NODE_TEXT_FORMAT = "%(asctime)s %(levelname)s %(node)s %(name)s: %(message)s"
REPEAT_WINDOW_S = 60.0
"""An identical record (same logger, level, message and values) passes once per window."""


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class JsonLineFormatter(JsonFormatter):
    """One JSON object per record, ``time`` first (ISO 8601, UTC, milliseconds)."""

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        moment = dt.datetime.fromtimestamp(record.created, tz=dt.UTC)
        log_data["time"] = moment.isoformat(timespec="milliseconds")
        super().add_fields(log_data, record, message_dict)


def json_formatter() -> logging.Formatter:
    """``{"time": …, "level": …, "logger": …, "message": …, <extra fields>}``."""
    return JsonLineFormatter(
        "{levelname}{name}{message}",
        style="{",
        rename_fields={"levelname": "level", "name": "logger"},
    )


class TextFormatter(logging.Formatter):
    """``TEXT_FORMAT``, with the record's ``node`` after the level when it has one."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)
        self._with_node = logging.Formatter(NODE_TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "node", None):
            return self._with_node.format(record)
        return super().format(record)


def text_formatter() -> logging.Formatter:
    return TextFormatter()


_node_lock = threading.Lock()
_node_name: str | None = None


def set_node(name: str) -> None:
    """Every log record made in this process from now on carries ``node=name``,
    whichever logger or thread makes it (gRPC's and the worker's too): the record
    factory sets it, so no handler or logger needs a filter. Idempotent; the last
    name set wins (one node per process)."""
    global _node_name  # noqa: PLW0603 - one node per process, set once when it starts
    with _node_lock:
        first = _node_name is None
        _node_name = name
        if not first:
            return
        make_record = logging.getLogRecordFactory()

        def with_node(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = make_record(*args, **kwargs)
            if _node_name is not None:
                record.node = _node_name
            return record

        logging.setLogRecordFactory(with_node)


class RepeatLimiter(logging.Filter):
    """Lets an identical record through once per ``window_s`` seconds; the next one
    let through says how many were held back (``suppressed``), so a loop failing
    the same way five times a second writes one line a minute, not 300."""

    def __init__(
        self,
        window_s: float = REPEAT_WINDOW_S,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._window_s = window_s
        self._clock = clock
        self._seen: dict[tuple[Any, ...], tuple[float, int]] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg), _hashable(record.args))
        now = self._clock()
        with self._lock:
            passed_at, held = self._seen.get(key, (float("-inf"), 0))
            if now - passed_at < self._window_s:
                self._seen[key] = (passed_at, held + 1)
                return False
            self._seen[key] = (now, 0)
            if len(self._seen) > 10_000:  # bounded: forget windows long past
                self._seen = {k: v for k, v in self._seen.items() if now - v[0] < self._window_s}
        if held:
            record.suppressed = held
            record.msg = f"{record.msg} ({held} more like it in the last {self._window_s:g} s)"
        return True


def _hashable(args: object) -> tuple[Any, ...]:
    if isinstance(args, tuple):
        return tuple(repr(a) for a in args)
    return (repr(args),)


def configure_logging(
    verbose: bool = False, json_format: bool = False, *, stream: TextIO | None = None
) -> None:
    """Send the root logger's records to stderr (or ``stream``) as text or JSON lines,
    identical ones at most once a minute (``RepeatLimiter``).

    Like ``logging.basicConfig``, this does nothing when the root logger already
    has handlers (a host application or a test harness configured it).
    """
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter() if json_format else text_formatter())
    handler.addFilter(RepeatLimiter())
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler])
