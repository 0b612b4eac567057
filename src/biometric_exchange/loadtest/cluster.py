"""A throwaway PostgreSQL cluster (for ``bx loadtest --store postgresql`` and the
tests): ``initdb`` and ``pg_ctl`` from the installed server binaries, on a free
loopback port, one fresh database per node folder.

As root (``initdb`` refuses to run as root) the server runs as the ``postgres``
user, in a folder that user owns. Durability is off (``fsync``): the cluster is
thrown away at the end of the session.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from biometric_exchange.exceptions import ConfigError
from biometric_exchange.workspace import free_port

SERVER_USER = "postgres"
MISSING = (
    "a throwaway PostgreSQL cluster needs the server binaries (initdb, pg_ctl): "
    "install Debian's package: apt-get install -y postgresql"
)


def server_bindir() -> Path | None:
    """Where ``initdb`` and ``pg_ctl`` are: ``pg_config --bindir`` or Debian's folders."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        found = subprocess.run(  # noqa: S603 - the installed pg_config
            [pg_config, "--bindir"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if found:
            candidates.append(Path(found))
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def new_database(server_url: str) -> str:
    """A new, empty database on the server ``server_url`` reaches; its URL."""
    import psycopg  # noqa: PLC0415 - the postgres extra, only when used

    name = f"bx_{os.getpid()}_{next(_NAMES)}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"'.encode())
    return urlsplit(server_url)._replace(path=f"/{name}").geturl()


_NAMES = itertools.count(1)


@dataclass
class Cluster:
    """A running cluster; ``new_url`` makes a fresh database on it."""

    bindir: Path
    root: Path
    port: int

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://bx@127.0.0.1:{self.port}/{database}"

    def new_url(self) -> str:
        """A new, empty database (each node folder gets its own)."""
        return new_database(self.url())

    def _run(self, *command: str) -> None:
        argv = list(command)
        if os.geteuid() == 0:
            argv = ["runuser", "-u", SERVER_USER, "--", *argv]
        subprocess.run(argv, check=True, capture_output=True, cwd=self.root)  # noqa: S603

    def start(self) -> None:
        self._run(
            str(self.bindir / "initdb"),
            "-D", str(self.data), "-U", "bx", "-A", "trust",
            "--encoding", "UTF8", "--locale", "C", "--no-sync",
        )  # fmt: skip
        options = " ".join(
            [
                f"-p {self.port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={self.root}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=400",
                "-c shared_buffers=32MB",
            ]
        )
        self._run(
            str(self.bindir / "pg_ctl"), "start", "-w", "-t", "60",
            "-D", str(self.data), "-l", str(self.root / "server.log"), "-o", options,
        )  # fmt: skip

    def stop(self) -> None:
        try:
            self._run(str(self.bindir / "pg_ctl"), "stop", "-m", "immediate", "-D", str(self.data))
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def throwaway_cluster() -> Iterator[Cluster]:
    """A running cluster for the block, stopped and removed afterwards."""
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


def start_cluster() -> Cluster:
    """A running throwaway cluster (the caller stops it)."""
    bindir = server_bindir()
    if bindir is None:
        raise ConfigError(MISSING)
    root = Path(tempfile.mkdtemp(prefix="bx-pg-"))
    if os.geteuid() == 0:
        user = pwd.getpwnam(SERVER_USER)
        os.chown(root, user.pw_uid, user.pw_gid)
    cluster = Cluster(bindir, root, free_port())
    try:
        cluster.start()
    except subprocess.CalledProcessError as exc:
        log = root / "server.log"
        detail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        raise ConfigError(f"the throwaway cluster did not start: {exc.stderr!r} {detail}") from exc
    return cluster
