"""Serving the console with uvicorn: loopback over HTTP, anything else only over TLS.

``exposure_check`` refuses a non-loopback address without a certificate and key
(given, from ``[console]``, or the node's own ``keys/tls.crt``), before any
socket is opened. ``bind`` opens the listening socket (a busy port is one clear
error); ``serve`` runs uvicorn on it until interrupted; ``Running`` serves in a
thread (tests, screenshots).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import signal
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from starlette.applications import Starlette

from biometric_exchange.config import ConsoleSection
from biometric_exchange.exceptions import ConfigError, InvalidInput

log = logging.getLogger(__name__)

GRACEFUL_S = 3
"""Open event streams are given this long to end when the console stops."""


@dataclass(frozen=True)
class Tls:
    cert: Path
    key: Path


def parse_listen(listen: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` too) as a host and a port."""
    host, sep, port = listen.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise InvalidInput(f"--listen: {listen!r} is not host:port")
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve anywhere


def choose_tls(
    node_dir: Path,
    settings: ConsoleSection,
    *,
    cert: Path | None = None,
    key: Path | None = None,
    node_tls: bool = False,
) -> Tls | None:
    """The certificate and key to serve with: given, the node's own, from ``[console]``,
    or none."""
    if (cert is None) != (key is None):
        raise InvalidInput("--tls-cert and --tls-key: give both or neither")
    if cert is not None and key is not None:
        chosen = Tls(cert, key)
    elif node_tls:
        chosen = Tls(node_dir / "keys" / "tls.crt", node_dir / "keys" / "tls.key")
    elif settings.tls_cert and settings.tls_key:
        chosen = Tls(node_dir / settings.tls_cert, node_dir / settings.tls_key)
    else:
        return None
    for path in (chosen.cert, chosen.key):
        if not path.is_file():
            raise ConfigError(f"TLS file {path} not found")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(chosen.cert, chosen.key)
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(f"TLS: {chosen.cert} and {chosen.key} do not load: {exc}") from exc
    return chosen


def exposure_check(host: str, tls: Tls | None) -> None:
    """Refuse to listen beyond loopback without TLS."""
    if tls is None and not is_loopback(host):
        raise ConfigError(
            f"the console would listen on {host}, which is not a loopback address, without "
            "TLS; give --tls-cert and --tls-key (or --node-tls for the node's keys/tls.crt, or "
            "[console] tls_cert and tls_key), or listen on 127.0.0.1"
        )


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: the port is in use or unavailable"
        ) from exc
    sock.listen(128)
    return sock


class _Server(uvicorn.Server):
    """uvicorn's server, stopping on SIGINT or SIGTERM with exit status 0 (uvicorn re-raises
    the signal once stopped, which would end the process by it)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def uvicorn_server(app: Starlette, tls: Tls | None) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=GRACEFUL_S,
        ssl_certfile=str(tls.cert) if tls else None,
        ssl_keyfile=str(tls.key) if tls else None,
    )
    return _Server(config)


def url_of(sock: socket.socket, tls: Tls | None) -> str:
    host, port = sock.getsockname()[:2]
    shown = "localhost" if tls is not None and is_loopback(host) else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"{'https' if tls else 'http'}://{shown}:{port}"


def serve(app: Starlette, sock: socket.socket, tls: Tls | None) -> None:
    """Serve until SIGINT or SIGTERM."""
    uvicorn_server(app, tls).run(sockets=[sock])


class Running:
    """The console served by uvicorn in a thread of this process, on ``sock``."""

    def __init__(self, app: Starlette, sock: socket.socket, tls: Tls | None = None) -> None:
        self.url = url_of(sock, tls)
        self._sock = sock
        self._server = uvicorn_server(app, tls)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="bx-console", daemon=True
        )

    def __enter__(self) -> Running:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ConfigError("the console did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=GRACEFUL_S + 10)
        self._sock.close()
