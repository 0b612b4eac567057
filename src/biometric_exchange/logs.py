"""Log output for operators: readable text, or one JSON object per line.

A JSON line carries ``time`` (ISO 8601, UTC), ``level``, ``logger``,
``message`` and every field passed through ``extra=`` (e.g. ``message_id``,
``peer``, ``method``). Log lines carry ids, counts and reasons only: never
template bytes, images or personal names.
"""

from __future__ import annotations

import datetime as dt
import logging
from enum import StrEnum
from typing import Any, TextIO

from pythonjsonlogger.json import JsonFormatter

LOG_FORMAT_ENV = "BX_LOG_FORMAT"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


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


def text_formatter() -> logging.Formatter:
    return logging.Formatter(TEXT_FORMAT)


def configure_logging(
    verbose: bool = False, json_format: bool = False, *, stream: TextIO | None = None
) -> None:
    """Send the root logger's records to stderr (or ``stream``) as text or JSON lines.

    Like ``logging.basicConfig``, this does nothing when the root logger already
    has handlers (a host application or a test harness configured it).
    """
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter() if json_format else text_formatter())
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler])
