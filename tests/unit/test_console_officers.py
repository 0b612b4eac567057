"""``bx officers`` (accounts with Argon2id hashes, audited), the images a node keeps for
the console (``bx watchlist attach-image``), and what the console serves of them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image
from starlette.testclient import TestClient
from typer.testing import CliRunner, Result

from biometric_exchange.cli import console as console_cli
from biometric_exchange.cli.main import app
from biometric_exchange.console.app import build_app
from biometric_exchange.console.context import Console
from biometric_exchange.exceptions import ConfigError
from biometric_exchange.images import face_image_path
from biometric_exchange.node.runtime import Node
from biometric_exchange.store.audit import AuditEvent
from biometric_exchange.store.officers import OfficerStore, Role
from biometric_exchange.synthetic.faces import draw_face, save_face

PASSWORD = "another long password"
runner = CliRunner()


def _bx(*args: object, password: str | None = PASSWORD) -> Result:
    env = {"BX_OFFICER_PASSWORD": password, "BX_OPERATOR": "admin-1"}
    return runner.invoke(app, [str(a) for a in args], env=env)


@pytest.fixture
def chl(nodes: dict[str, Node]) -> Node:
    return nodes["CHL"]


def test_officers_are_added_listed_disabled_and_audited(chl: Node) -> None:
    node = chl.node_dir
    added = _bx("officers", "add", "maria.lopez", "--node", node, "--role", "supervisor")
    assert added.exit_code == 0, added.stderr
    assert "officer maria.lopez added: supervisor, queues enforcement, protection" in added.stdout
    _bx("officers", "add", "jo", "--node", node, "--queue", "protection")

    listing = _bx("officers", "list", "--node", node)
    assert "maria.lopez" in listing.stdout and "protection" in listing.stdout
    assert _bx("officers", "disable", "MARIA.LOPEZ", "--node", node).exit_code == 0

    store = OfficerStore(chl.database)
    maria = store.get("maria.lopez")
    assert maria is not None and maria.disabled and maria.role is Role.SUPERVISOR
    stored = store.password_hash("maria.lopez")
    assert stored is not None and stored.startswith("$argon2id$") and PASSWORD not in stored
    changes = [
        (e.officer, e.decision, e.detail["officer_id"])
        for e in chl.audit.entries()
        if e.event == AuditEvent.OFFICER_CHANGED.value
    ]
    assert changes == [
        ("admin-1", "added", "maria.lopez"),
        ("admin-1", "added", "jo"),
        ("admin-1", "disabled", "maria.lopez"),
    ]
    assert all(PASSWORD not in str(e.detail) for e in chl.audit.entries())


@pytest.mark.parametrize(
    ("args", "password", "fragment"),
    [
        (("bad id!",), PASSWORD, "officer id 'bad id!'"),
        (("ana",), "too short", "password: at least 12 characters"),
        (("ana", "--role", "root"), PASSWORD, "root"),
    ],
)
def test_bad_accounts_are_refused_naming_the_problem(
    chl: Node, args: tuple[str, ...], password: str, fragment: str
) -> None:
    result = _bx("officers", "add", *args, "--node", chl.node_dir, password=password)
    assert result.exit_code == 2
    assert fragment in result.stderr
    assert OfficerStore(chl.database).list() == []


def test_an_officer_id_is_taken_in_any_letter_case(chl: Node) -> None:
    assert _bx("officers", "add", "Ana", "--node", chl.node_dir).exit_code == 0
    again = _bx("officers", "add", "ana", "--node", chl.node_dir)
    assert again.exit_code == 2 and "already exists" in again.stderr


def test_without_the_console_extra_the_commands_say_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def missing(name: str) -> object:
        raise ModuleNotFoundError("No module named 'starlette'", name="starlette")

    monkeypatch.setattr("importlib.import_module", missing)
    with pytest.raises(ConfigError, match=re.escape("biometric-exchange[console]")):
        console_cli._needs_extra("biometric_exchange.console.app")


def _drawn(path: Path) -> Path:
    save_face(draw_face(11, 0, size=128), path, identity=11, capture=0)
    return path


def test_a_watchlist_image_is_kept_and_served_only_while_marked_synthetic(
    chl: Node, tmp_path: Path
) -> None:
    entry_id = next(iter(chl.records.watchlist())).entry_id
    kept = _bx(
        "watchlist", "attach-image", entry_id, _drawn(tmp_path / "f.png"), "--node", chl.node_dir
    )
    assert kept.exit_code == 0, kept.stderr
    path = face_image_path(chl.node_dir, "watchlist", entry_id)
    assert path is not None and path.stat().st_mode & 0o077 == 0
    plain = tmp_path / "plain.png"
    Image.new("RGB", (8, 8)).save(plain)
    refused = _bx("watchlist", "attach-image", entry_id, plain, "--node", chl.node_dir)
    assert refused.exit_code == 2 and "not a PNG marked synthetic" in refused.stderr
    unknown = _bx(
        "watchlist", "attach-image", "NO-SUCH", _drawn(tmp_path / "g.png"), "--node", chl.node_dir
    )
    assert unknown.exit_code == 2 and "no such watchlist entry" in unknown.stderr

    _bx("officers", "add", "ana", "--node", chl.node_dir)
    with TestClient(build_app(Console.of(chl), notifications=False)) as client:
        page = client.get("/login")
        token = re.search(r'name="login_token" value="([^"]+)"', page.text)
        assert token
        client.post(
            "/login", data={"login_token": token[1], "officer_id": "ana", "password": PASSWORD}
        )
        served = client.get(f"/faces/watchlist/{entry_id}")
        assert served.status_code == 200 and served.headers["content-type"] == "image/png"
        for bad in ("../../keys/tls.key", "..%2F..%2Fkeys%2Ftls", ".hidden", "x/../y"):
            assert client.get(f"/faces/watchlist/{bad}").status_code == 404, bad
        path.write_bytes(plain.read_bytes())  # the marker gone: no longer served
        assert client.get(f"/faces/watchlist/{entry_id}").status_code == 404
