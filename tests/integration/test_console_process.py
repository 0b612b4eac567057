"""``bx console`` as an operator starts it: a process serving the login page on a loopback
port, stopping cleanly on SIGINT (Ctrl-C)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

URL = re.compile(r"console of \w+ at (http://127\.0\.0\.1:\d+)")


def test_bx_console_serves_until_interrupted(pair_dirs: tuple[Path, Path]) -> None:
    bx = Path(sys.executable).with_name("bx")
    process = subprocess.Popen(
        [str(bx), "console", "--node", str(pair_dirs[1]), "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        assert process.stdout is not None
        lines = []
        deadline = time.monotonic() + 60
        url = None
        while url is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            found = URL.search(line)
            url = found[1] if found else None
        assert url, "".join(lines)
        assert any("no officer can sign in yet" in line for line in lines)
        with urllib.request.urlopen(f"{url}/login", timeout=10) as answer:
            assert answer.status == 200
        with urllib.request.urlopen(f"{url}/static/htmx.min.js", timeout=10) as answer:
            assert answer.headers["content-type"].startswith("text/javascript")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
