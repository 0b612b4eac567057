"""Whether a node process serves a folder, and what it runs.

A serving process holds an exclusive lock on ``data/node.lock`` for its whole
life (the kernel releases it when the process dies, even by ``kill -9``), so a
second process on the same folder is refused and the CLI can tell a running
node from a stopped one without guessing from stale files. Beside it,
``data/running.json`` says what the process runs: its pid, the agreements it
has loaded (by hash) and the outcome of its last reload. The file is replaced
atomically; readers never see half of it.

A node whose store is shared (PostgreSQL, ``[store] url``) may be served by
several processes at once: each holds a lock of its own, the first free of
``node.lock``, ``node-2.lock``, ``node-3.lock``… and publishes beside it
(``running.json``, ``running-2.json``…). ``read_states`` reads every serving
process's file (``bx node reload`` signals them all, ``bx status`` lists them);
``read_state`` the first serving one, whichever slot it holds.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from biometric_exchange.config import DATABASE_PATH
from biometric_exchange.exceptions import ConfigError

LOCK_NAME = "node.lock"
STATE_NAME = "running.json"
MAX_PROCESSES = 16
"""Most processes serving one node with a shared store."""


def _slot_names(slot: int) -> tuple[str, str]:
    """(lock, state) file names of process ``slot`` (1: the CLI's)."""
    if slot == 1:
        return LOCK_NAME, STATE_NAME
    return f"node-{slot}.lock", f"running-{slot}.json"


def _data_dir(node_dir: Path) -> Path:
    return (node_dir / DATABASE_PATH).parent


@dataclass(frozen=True)
class LoadedAgreement:
    """One agreement as a running process holds it."""

    agreement_id: str
    hash: str


@dataclass(frozen=True)
class ReloadOutcome:
    """What one reload changed, or why it changed nothing."""

    at_ms: int
    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    error: str | None = None

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


@dataclass(frozen=True)
class RunningState:
    """What ``data/running.json`` says about the serving process."""

    pid: int
    started_ms: int
    listen: str
    agreements: Mapping[str, LoadedAgreement]
    """By partner code."""
    reloads: int = 0
    """How many reloads the process has attempted (successful or not)."""
    last_reload: ReloadOutcome | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, indent=2)

    @classmethod
    def from_json(cls, text: str) -> RunningState:
        raw = json.loads(text)
        last = raw.get("last_reload")
        return cls(
            pid=int(raw["pid"]),
            started_ms=int(raw["started_ms"]),
            listen=str(raw["listen"]),
            agreements={
                code: LoadedAgreement(str(item["agreement_id"]), str(item["hash"]))
                for code, item in raw["agreements"].items()
            },
            reloads=int(raw.get("reloads", 0)),
            last_reload=(
                ReloadOutcome(
                    at_ms=int(last["at_ms"]),
                    added=tuple(last["added"]),
                    updated=tuple(last["updated"]),
                    removed=tuple(last["removed"]),
                    error=last["error"],
                )
                if last
                else None
            ),
        )


class Presence:
    """The serving process's hold on its folder; ``publish`` says what it runs."""

    def __init__(self, node_dir: Path, handle: IO[str], slot: int = 1) -> None:
        self._node_dir = node_dir
        self._handle = handle
        self.slot = slot
        """1 for the only (or first) process; 2, 3… for further ones of a shared store."""

    @classmethod
    @contextlib.contextmanager
    def claim(cls, node_dir: Path, *, shared: bool = False) -> Iterator[Presence]:
        """Hold the folder for this process; refused while another process serves it,
        unless ``shared`` (the store takes several processes): then the first free
        slot of ``MAX_PROCESSES``."""
        data = _data_dir(node_dir)
        data.mkdir(mode=0o700, parents=True, exist_ok=True)
        for slot in range(1, (MAX_PROCESSES if shared else 1) + 1):
            lock_name, state_name = _slot_names(slot)
            handle = _open_lock(data / lock_name)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            try:
                yield cls(node_dir, handle, slot)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    (data / state_name).unlink()
                handle.close()
            return
        if shared:
            raise ConfigError(f"{node_dir}: {MAX_PROCESSES} node processes already serve it")
        state = read_state(node_dir, check_lock=False)
        pid = f" (pid {state.pid})" if state else ""
        raise ConfigError(
            f"{node_dir}: a node process already serves this folder{pid}; its store is "
            "SQLite, which one process serves ([store] url takes several)"
        )

    def publish(self, state: RunningState) -> None:
        """Replace this process's ``running.json`` atomically (0600)."""
        path = _data_dir(self._node_dir) / _slot_names(self.slot)[1]
        staging = path.with_suffix(".json.tmp")
        descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(state.to_json())
        os.replace(staging, path)


def _open_lock(path: Path) -> IO[str]:
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    return os.fdopen(descriptor, "r+", encoding="utf-8")


def serving_slots(node_dir: Path) -> list[int]:
    """The slots whose lock a process holds now, in order (``[1]`` for a lone process)."""
    data = _data_dir(node_dir)
    found = []
    for slot in range(1, MAX_PROCESSES + 1):
        path = data / _slot_names(slot)[0]
        if not path.exists():
            continue
        with _open_lock(path) as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                found.append(slot)
                continue
            fcntl.flock(handle, fcntl.LOCK_UN)
    return found


def is_serving(node_dir: Path) -> bool:
    """True while a process holds one of the folder's locks."""
    return bool(serving_slots(node_dir))


def read_state(node_dir: Path, *, check_lock: bool = True) -> RunningState | None:
    """What the first serving process runs; None when no process serves the folder
    (or it has not published yet). Without ``check_lock``: ``running.json`` as it is."""
    if not check_lock:
        return _read_slot(node_dir, 1)
    states = read_states(node_dir)
    return states[0] if states else None


def read_states(node_dir: Path) -> list[RunningState]:
    """What each serving process runs, by slot (those that have published)."""
    found = []
    for slot in serving_slots(node_dir):
        state = _read_slot(node_dir, slot)
        if state is not None:
            found.append(state)
    return found


def _read_slot(node_dir: Path, slot: int) -> RunningState | None:
    name = _slot_names(slot)[1]
    try:
        text = (_data_dir(node_dir) / name).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        return RunningState.from_json(text)
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{node_dir}: unreadable {name} ({type(exc).__name__})") from exc
