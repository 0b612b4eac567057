"""Log lines: JSON objects with time, level, logger, message and extras; identical
records at most once a minute."""

from __future__ import annotations

import datetime as dt
import json
import logging
import subprocess
import sys

from typer.testing import CliRunner

from biometric_exchange.cli.main import app
from biometric_exchange.logs import RepeatLimiter, json_formatter


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord(
        "biometric_exchange.node.servicer", logging.WARNING, __file__, 1, message, args, None
    )
    record.__dict__.update(extra)
    return record


def test_a_json_line_has_time_level_logger_message_and_extras() -> None:
    line = json_formatter().format(
        _record("refused %s from %s", "Identify", "ipv4:127.0.0.1:5", message_id="M-1", peer="P")
    )
    document = json.loads(line)
    assert list(document)[:4] == ["time", "level", "logger", "message"]
    assert document["level"] == "WARNING"
    assert document["logger"] == "biometric_exchange.node.servicer"
    assert document["message"] == "refused Identify from ipv4:127.0.0.1:5"
    assert document["message_id"] == "M-1" and document["peer"] == "P"
    moment = dt.datetime.fromisoformat(document["time"])
    assert moment.utcoffset() == dt.timedelta(0)
    assert abs((dt.datetime.now(dt.UTC) - moment).total_seconds()) < 60


def test_a_traceback_stays_inside_one_json_line() -> None:
    try:
        raise ValueError("bad value")
    except ValueError:
        record = _record("worker error")
        record.exc_info = sys.exc_info()
    line = json_formatter().format(record)
    assert "\n" not in line
    assert "ValueError: bad value" in json.loads(line)["exc_info"]


def _log_in_a_fresh_process(json_format: bool) -> str:
    code = (
        "import logging\n"
        "from biometric_exchange.cli.common import configure_logging\n"
        f"configure_logging(json_format={json_format})\n"
        "logging.getLogger('biometric_exchange.test').info("
        "'sent %d probes', 3, extra={'message_id': 'M-9', 'method': 'Identify'})\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return result.stderr


def test_configure_logging_writes_json_lines_or_text() -> None:
    (line,) = _log_in_a_fresh_process(json_format=True).splitlines()
    document = json.loads(line)
    assert document["message"] == "sent 3 probes"
    assert document["message_id"] == "M-9" and document["method"] == "Identify"
    assert document["level"] == "INFO" and document["logger"] == "biometric_exchange.test"

    (text,) = _log_in_a_fresh_process(json_format=False).splitlines()
    assert text.endswith(" INFO biometric_exchange.test: sent 3 probes")


def test_an_unknown_log_format_is_refused_naming_the_option() -> None:
    result = CliRunner().invoke(
        app, ["node", "run", "-n", "node_chile"], env={"BX_LOG_FORMAT": "xml", "COLUMNS": "200"}
    )
    assert result.exit_code == 2
    assert "--log-format" in result.output and "'xml'" in result.output


def test_an_identical_record_passes_once_a_window_and_then_says_how_many_were_held() -> None:
    now = [100.0]
    limiter = RepeatLimiter(60.0, clock=lambda: now[0])
    assert limiter.filter(_record("peer %s refused", "MEX"))
    for _ in range(299):  # five a second for a minute
        now[0] += 0.2
        assert not limiter.filter(_record("peer %s refused", "MEX"))
    now[0] += 1.0
    again = _record("peer %s refused", "MEX")
    assert limiter.filter(again)
    assert again.getMessage() == "peer MEX refused (299 more like it in the last 60 s)"
    assert getattr(again, "suppressed", None) == 299


def test_records_that_differ_in_values_or_level_are_not_held_back() -> None:
    limiter = RepeatLimiter(60.0, clock=lambda: 0.0)
    assert limiter.filter(_record("peer %s refused", "MEX"))
    assert limiter.filter(_record("peer %s refused", "PAN"))
    error = _record("peer %s refused", "MEX")
    error.levelno = logging.ERROR
    assert limiter.filter(error)


def _node_logs_in_a_fresh_process(json_format: bool) -> list[str]:
    """A node process's logging: ``set_node`` once, then records from our logger, from
    gRPC's and from another thread."""
    code = (
        "import logging, threading\n"
        "from biometric_exchange.cli.common import configure_logging\n"
        "from biometric_exchange.logs import set_node\n"
        f"configure_logging(json_format={json_format})\n"
        "set_node('PAN')\n"
        "logging.getLogger('biometric_exchange.node.process').info('serving')\n"
        "logging.getLogger('grpc._server').warning('exception calling application')\n"
        "worker = threading.Thread(target=lambda: logging.getLogger("
        "'biometric_exchange.node.send.worker').info('sent %d probes', 2))\n"
        "worker.start(); worker.join()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return result.stderr.splitlines()


def test_every_json_line_of_a_node_process_carries_the_node() -> None:
    documents = [json.loads(line) for line in _node_logs_in_a_fresh_process(json_format=True)]
    assert [d["logger"] for d in documents] == [
        "biometric_exchange.node.process",
        "grpc._server",
        "biometric_exchange.node.send.worker",
    ]
    assert [d["node"] for d in documents] == ["PAN", "PAN", "PAN"]


def test_every_text_line_of_a_node_process_carries_the_node() -> None:
    lines = _node_logs_in_a_fresh_process(json_format=False)
    assert len(lines) == 3
    assert lines[0].endswith(" INFO PAN biometric_exchange.node.process: serving")
    assert lines[1].endswith(" WARNING PAN grpc._server: exception calling application")
    assert lines[2].endswith(" INFO PAN biometric_exchange.node.send.worker: sent 2 probes")
