"""Key custody checks of a node folder: modes, pins, and rows its keys open."""

from __future__ import annotations

import stat
from pathlib import Path

from biometric_exchange.config import DATABASE_PATH, load_config
from biometric_exchange.crypto.keyring import RETIRED_DIR, DataKeyring
from biometric_exchange.crypto.keys import PRIVATE_KEY_FILES, keys_dir, load_keys
from biometric_exchange.exceptions import ExchangeError
from biometric_exchange.node.runtime import check_adoptable, load_agreements
from biometric_exchange.store.backend import open_database
from biometric_exchange.store.database import Database, database_files
from biometric_exchange.store.disclosed import clear_disclosures
from biometric_exchange.store.personal import clear_row_counts
from biometric_exchange.store.rekey import sealed_counts, unreadable_rows


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _mode_problems(node_dir: Path) -> list[str]:
    problems: list[str] = []
    keys = keys_dir(node_dir)
    data = (node_dir / DATABASE_PATH).parent
    folders = [keys, keys / RETIRED_DIR, data]
    for folder in folders:
        if folder.is_dir() and _mode(folder) & 0o077:
            problems.append(f"folder {folder} has mode {_mode(folder):o}; expected 700")
    if not keys.is_dir():
        problems.append(f"no keys folder {keys}")
    files = [keys / name for name in PRIVATE_KEY_FILES]
    missing = [path for path in files if not path.exists()]
    problems += [f"missing key file {path}" for path in missing]
    present = [path for path in files if path not in missing]
    present += sorted((keys / RETIRED_DIR).glob("*.key"))
    present += database_files(node_dir / DATABASE_PATH)
    problems += [
        f"file {path} has mode {_mode(path):o}; expected 600"
        for path in present
        if _mode(path) & 0o077
    ]
    return problems


def _store(node_dir: Path) -> Database | None:
    """The node's database: its ``[store] url``, else the SQLite file if there is one."""
    path = node_dir / DATABASE_PATH
    try:
        url = load_config(node_dir).store.url
    except ExchangeError:
        url = None
    if url is None and not path.exists():
        return None
    return open_database(path, url)


def held_records(node_dir: Path) -> dict[str, int]:
    """Sealed templates per table in the node's database (none without one)."""
    database = _store(node_dir)
    if database is None:
        return {}
    try:
        return sealed_counts(database)
    finally:
        database.close()


def custody_problems(node_dir: Path) -> list[str]:
    """Everything wrong with the custody of a node's keys; empty when all is well.

    Modes (key files and database files 0600, keys/ and data/ 0700), the keys
    against the pins of every agreement held, every sealed template, personal field
    and the lookup key opening with the keyring, and no personal field left in clear."""
    problems = _mode_problems(node_dir)
    try:
        config = load_config(node_dir)
        keys = load_keys(node_dir)
        for document in load_agreements(node_dir, config.node.country).values():
            try:
                check_adoptable(node_dir, config, keys, document)
            except ExchangeError as exc:
                problems.append(f"agreement {document.id}: {exc}")
    except ExchangeError as exc:
        problems.append(str(exc))
    database = _store(node_dir)
    if database is not None:
        try:
            ring = DataKeyring(keys_dir(node_dir))
        except ExchangeError as exc:
            database.close()
            return [*problems, f"rows not checked: {exc}"]
        try:
            problems += unreadable_rows(database, ring)
            clear = {**clear_row_counts(database), "details_sent": clear_disclosures(database)}
            problems += [
                f"{count} {table} rows hold personal fields in clear; opening the node "
                f"seals them (e.g. `bx status -n {node_dir}`)"
                for table, count in clear.items()
                if count
            ]
        finally:
            database.close()
    return problems
