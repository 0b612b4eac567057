"""The console without a browser (Starlette's test client): no page or action without a
session, a CSRF token on every POST, disabled officers refused, sessions that expire
(injected clock), roles and queues, nothing beyond loopback without TLS; then the pages
behind the guard (assignment, bulk acknowledgement, step-2 denial, the node page)."""

from __future__ import annotations

import datetime as dt
import re
import ssl
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from biometric_exchange.cli.main import app as bx
from biometric_exchange.console import server
from biometric_exchange.console.app import SECURITY_HEADERS, build_app
from biometric_exchange.console.context import Console
from biometric_exchange.console.officers import add_officer, set_disabled
from biometric_exchange.console.server import Running, bind, choose_tls, exposure_check
from biometric_exchange.domain import (
    Alert,
    AlertKind,
    AlertQueue,
    AlertStatus,
    RequestStatus,
    Severity,
)
from biometric_exchange.exceptions import ConfigError
from biometric_exchange.node.runtime import Node
from biometric_exchange.store.alerts import new_alert_id
from biometric_exchange.store.details import ReceivedRequest, ReceivedRequests
from biometric_exchange.store.officers import Role

PASSWORD = "a long synthetic password"
LOGIN_TOKEN = re.compile(r'name="login_token" value="([^"]+)"')
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
START = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


def _alert(queue: AlertQueue, severity: Severity = Severity.HIGH) -> Alert:
    return Alert(
        alert_id=new_alert_id(),
        kind=AlertKind.WATCHLIST_HIT,
        severity=severity,
        created_at=START,
        summary=f"encounter CHL-ENC-{queue.value} matches our watchlist entry",
        subject_key=f"local:{queue.value}",
        queue=queue,
        encounter_id=f"CHL-ENC-{queue.value}",
        evidence=({"key": f"encounter:{queue.value}", "rule": "WATCHLIST_HIT"},),
    )


@dataclass
class Site:
    node: Node
    clock: Clock
    client: TestClient
    enforcement: str
    protection: str

    def sign_in(self, officer_id: str, password: str = PASSWORD) -> str:
        """Sign in; the session's CSRF token (from the queue page)."""
        page = self.client.get("/login")
        token = LOGIN_TOKEN.search(page.text)
        assert token
        answer = self.client.post(
            "/login",
            data={"login_token": token[1], "officer_id": officer_id, "password": password},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
        queue = self.client.get("/queue")
        csrf = CSRF.search(queue.text)
        assert csrf
        return csrf[1]

    def status(self, alert_id: str) -> AlertStatus:
        found = self.node.alerts.get(alert_id)
        assert found is not None
        return found.status


@pytest.fixture
def site(nodes: dict[str, Node]) -> Iterator[Site]:
    node = nodes["CHL"]
    clock = Clock()
    add_officer(node, "ana", PASSWORD)
    add_officer(node, "luis", PASSWORD)
    add_officer(node, "vera", PASSWORD, role=Role.VIEWER)
    add_officer(node, "eno", PASSWORD, queues=(AlertQueue.ENFORCEMENT,))
    enforcement = _alert(AlertQueue.ENFORCEMENT)
    protection = _alert(AlertQueue.PROTECTION)
    for alert in (enforcement, protection):
        node.alerts.raise_alert(alert)
    with TestClient(build_app(Console.of(node, clock=clock))) as client:
        yield Site(node, clock, client, enforcement.alert_id, protection.alert_id)


def _pages(site: Site) -> list[str]:
    return [
        "/",
        "/queue",
        "/queue/rows",
        f"/alerts/{site.enforcement}",
        "/requests",
        "/node",
        "/faces/encounters/CHL-ENC-1",
        "/reports/run/report.md",
    ]


def _actions(site: Site) -> list[str]:
    return [
        "/logout",
        "/queue/acknowledge",
        f"/alerts/{site.enforcement}/review",
        f"/alerts/{site.enforcement}/assign",
        "/requests/PAN/DR-1/approve",
    ]


def test_no_page_or_action_without_a_session(site: Site) -> None:
    for path in _pages(site):
        answer = site.client.get(path, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/login?next=/"), path
    for path in _actions(site):
        answer = site.client.post(path, data={"to": "ACKNOWLEDGED"}, follow_redirects=False)
        assert answer.status_code == 401, path
    htmx = site.client.get("/queue/rows", headers={"HX-Request": "true"})
    assert (htmx.status_code, htmx.headers["hx-redirect"]) == (401, "/login")
    events = site.client.get("/events", headers={"Accept": "text/event-stream"})
    assert events.status_code == 401
    site.client.cookies.set("bx_session", "forged")
    assert site.client.get("/queue", follow_redirects=False).status_code == 303
    assert site.status(site.enforcement) is AlertStatus.NEW


def test_every_post_needs_the_sessions_csrf_token(site: Site) -> None:
    csrf = site.sign_in("ana")
    review = f"/alerts/{site.enforcement}/review"

    assert site.client.post(review, data={"to": "ACKNOWLEDGED"}).status_code == 403
    wrong = {"to": "ACKNOWLEDGED", "csrf_token": "x" * len(csrf)}
    assert site.client.post(review, data=wrong).status_code == 403
    other = site.client.post("/queue/acknowledge", data={"alert_id": site.enforcement})
    assert other.status_code == 403
    assert site.status(site.enforcement) is AlertStatus.NEW

    by_header = site.client.post(
        review,
        data={"to": "ACKNOWLEDGED"},
        headers={"X-CSRF-Token": csrf},
        follow_redirects=False,
    )
    assert by_header.status_code == 303
    assert site.status(site.enforcement) is AlertStatus.ACKNOWLEDGED


def test_signing_in_needs_the_forms_own_token_and_the_right_password(site: Site) -> None:
    no_token = site.client.post("/login", data={"officer_id": "ana", "password": PASSWORD})
    assert no_token.status_code == 403 and "bx_session" not in site.client.cookies
    for officer_id, password in (("ana", "wrong password!!"), ("nobody", PASSWORD)):
        token = LOGIN_TOKEN.search(site.client.get("/login").text)
        assert token
        refused = site.client.post(
            "/login", data={"login_token": token[1], "officer_id": officer_id, "password": password}
        )
        assert refused.status_code == 401
        assert "unknown officer, wrong password or account disabled" in refused.text


def test_a_disabled_officer_is_refused_and_their_session_ends(site: Site) -> None:
    site.sign_in("ana")
    assert site.client.get("/queue").status_code == 200
    set_disabled(site.node, "ana", True)
    assert site.client.get("/queue", follow_redirects=False).status_code == 303
    page = site.client.get("/login")
    token = LOGIN_TOKEN.search(page.text)
    assert token
    refused = site.client.post(
        "/login", data={"login_token": token[1], "officer_id": "ana", "password": PASSWORD}
    )
    assert refused.status_code == 401


def test_sessions_expire_when_idle_and_after_their_longest_life(site: Site) -> None:
    settings = site.node.config.console
    site.sign_in("ana")
    site.clock.advance(minutes=settings.session_idle_minutes - 1)
    assert site.client.get("/queue").status_code == 200  # used: the idle clock restarts
    site.clock.advance(minutes=settings.session_idle_minutes - 1)
    assert site.client.get("/queue").status_code == 200
    site.clock.advance(minutes=settings.session_idle_minutes)
    assert site.client.get("/queue", follow_redirects=False).status_code == 303

    signed_in = site.clock.now
    site.sign_in("luis")
    step = dt.timedelta(minutes=settings.session_idle_minutes - 1)
    longest = dt.timedelta(hours=settings.session_max_hours)
    while site.client.get("/queue", follow_redirects=False).status_code == 200:
        assert site.clock.now - signed_in < longest, "a session in use outlived its longest life"
        site.clock.advance(seconds=step.total_seconds())
    assert site.clock.now - signed_in >= longest
    assert site.clock.now - signed_in < longest + step  # ended at its first use past it


def test_viewers_read_but_do_not_act(site: Site) -> None:
    csrf = site.sign_in("vera")
    assert site.client.get(f"/alerts/{site.enforcement}").status_code == 200
    refused = site.client.post(
        f"/alerts/{site.enforcement}/review", data={"to": "ACKNOWLEDGED", "csrf_token": csrf}
    )
    assert refused.status_code == 403
    assert site.status(site.enforcement) is AlertStatus.NEW


def test_an_officer_sees_only_the_queues_of_their_account(site: Site) -> None:
    csrf = site.sign_in("eno")
    queue = site.client.get("/queue").text
    assert site.enforcement in queue and site.protection not in queue
    assert site.client.get(f"/alerts/{site.protection}").status_code == 404
    site.client.post("/queue/acknowledge", data={"alert_id": site.protection, "csrf_token": csrf})
    assert site.status(site.protection) is AlertStatus.NEW


def test_four_eyes_holds_in_the_console_as_on_the_command_line(site: Site) -> None:
    csrf = site.sign_in("ana")
    review = f"/alerts/{site.enforcement}/review"
    site.client.post(review, data={"to": "ACKNOWLEDGED", "csrf_token": csrf})
    own = site.client.post(review, data={"to": "CONFIRMED", "csrf_token": csrf})
    assert own.status_code == 409 and "four eyes" in own.text
    dismissal = site.client.post(review, data={"to": "DISMISSED", "csrf_token": csrf})
    assert dismissal.status_code == 409 and "needs a reason code" in dismissal.text
    assert site.status(site.enforcement) is AlertStatus.ACKNOWLEDGED


def test_pages_carry_a_strict_content_security_policy_and_no_open_redirect(site: Site) -> None:
    login = site.client.get("/login?next=//elsewhere.example/")
    for name, value in SECURITY_HEADERS.items():
        assert login.headers[name] == value
    assert 'name="next" value="/queue"' in login.text
    cookie = login.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "::", "console.example", "192.168.1.5"])
def test_nothing_listens_beyond_loopback_without_tls(host: str) -> None:
    with pytest.raises(ConfigError, match="not a loopback address, without TLS"):
        exposure_check(host, None)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_needs_no_tls(host: str) -> None:
    exposure_check(host, None)


def test_the_command_refuses_a_public_address_before_opening_a_socket(
    nodes: dict[str, Node], monkeypatch: pytest.MonkeyPatch
) -> None:
    bound: list[object] = []
    monkeypatch.setattr(server, "bind", lambda *args: bound.append(args))
    result = CliRunner().invoke(
        bx, ["console", "--node", str(nodes["PAN"].node_dir), "--listen", "0.0.0.0:8443"]
    )
    assert result.exit_code == 2
    assert "not a loopback address, without TLS" in result.stderr
    assert bound == []


def test_the_console_serves_https_with_the_nodes_tls_certificate(nodes: dict[str, Node]) -> None:
    node = nodes["PAN"]
    tls = choose_tls(node.node_dir, node.config.console, node_tls=True)
    assert tls is not None
    exposure_check("0.0.0.0", tls)  # allowed with TLS; served here on loopback only
    context = ssl.create_default_context(cadata=node.keys.ca_certificate_pem.decode())
    with Running(
        build_app(Console.of(node), notifications=False), bind("127.0.0.1", 0), tls
    ) as running:
        assert running.url.startswith("https://localhost:")
        with urllib.request.urlopen(f"{running.url}/login", context=context, timeout=10) as answer:
            assert answer.status == 200
            assert "secure" in answer.headers["set-cookie"].lower()


# --- the pages behind the guard ------------------------------------------------------------


def test_assignment_officers_take_alerts_supervisors_assign_them(site: Site) -> None:
    add_officer(site.node, "sara", PASSWORD, role=Role.SUPERVISOR)
    assign = f"/alerts/{site.enforcement}/assign"
    csrf = site.sign_in("ana")
    site.client.post(assign, data={"officer": "me", "csrf_token": csrf})
    other = site.client.post(assign, data={"assignee": "luis", "csrf_token": csrf})
    assert other.status_code == 409 and "only a supervisor" in other.text
    mine = site.client.get("/queue?mine=1").text
    assert site.enforcement in mine

    csrf = site.sign_in("sara")
    assert site.client.post(assign, data={"assignee": "eno", "csrf_token": csrf}).status_code == 200
    refused = site.client.post(
        f"/alerts/{site.protection}/assign", data={"assignee": "eno", "csrf_token": csrf}
    )
    assert refused.status_code == 409 and "not an active officer of the protection queue" in (
        refused.text
    )
    held = Console.of(site.node).assignments.current()
    assert held == {site.enforcement: "eno"}
    audited = [
        (e.officer, e.decision) for e in site.node.audit.entries() if e.event == "alert.assigned"
    ]
    assert audited == [("ana", "ana"), ("sara", "eno")]


def test_bulk_acknowledgement_takes_one_review_step_per_alert(site: Site) -> None:
    csrf = site.sign_in("ana")
    answer = site.client.post(
        "/queue/acknowledge",
        data={"alert_id": [site.enforcement, site.protection, "ALR-NONE"], "csrf_token": csrf},
    )
    assert answer.status_code == 200
    assert "no such alert in your queues" in answer.text
    assert site.status(site.enforcement) is AlertStatus.ACKNOWLEDGED
    assert site.status(site.protection) is AlertStatus.ACKNOWLEDGED
    history = Console.of(site.node).review.history(site.enforcement)
    assert [(t.to_status, t.operator) for t in history] == [(AlertStatus.ACKNOWLEDGED, "ana")]


def test_a_step2_denial_needs_a_reason_and_is_recorded_with_the_officer(site: Site) -> None:
    now = site.clock.now
    requests = ReceivedRequests(site.node.database)
    requests.add(
        ReceivedRequest(
            partner="PAN",
            request_id="DR-TEST-0001",
            hit_reference="HIT-test",
            entry_id="CHL-WL-0001",
            purpose="anti_trafficking",
            justification="synthetic test",
            officer_id="PAN-OFFICER-1",
            fields=("names",),
            status=RequestStatus.PENDING,
            received_at=now,
            due_at=now + dt.timedelta(hours=48),
        )
    )
    csrf = site.sign_in("ana")
    page = site.client.get("/requests").text
    assert "DR-TEST-0001" in page and "due in 48 h 00 min" in page
    deny = "/requests/PAN/DR-TEST-0001/deny"
    bare = site.client.post(deny, data={"csrf_token": csrf})
    assert bare.status_code == 409 and "needs a reason" in bare.text
    assert site.client.post(deny, data={"reason": "not enough grounds", "csrf_token": csrf})
    decided = requests.get("PAN", "DR-TEST-0001")
    assert decided is not None and decided.status is RequestStatus.DENIED
    assert decided.decided_by == "ana" and decided.reason == "not enough grounds"
    again = site.client.post(deny, data={"reason": "twice", "csrf_token": csrf})
    assert again.status_code == 409 and "only a pending request" in again.text


def test_the_node_page_reports_agreements_the_outbox_and_the_audit_chain(site: Site) -> None:
    site.sign_in("vera")
    page = site.client.get("/node").text
    assert "agreement with PAN" in page and "days left" in page
    assert 'id="audit-chain">intact' in page
    assert "none serves this folder" in page
