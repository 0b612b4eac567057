"""The operator console in a real browser (headless Chromium): sign in, the demo's alerts,
four eyes across two officers, a step-2 approval, a new alert arriving live, and the
README's screenshots (written to BX_SCREENSHOTS_DIR when set, e.g. by make screenshots)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from biometric_exchange.console.context import Console
from biometric_exchange.domain import AlertKind, AlertStatus, RequestStatus
from biometric_exchange.node.send.details import poll_pending
from biometric_exchange.store.alerts import AlertFilter, new_alert_id
from biometric_exchange.store.audit import AuditEvent
from biometric_exchange.store.details import ReceivedRequests, SentRequests
from biometric_exchange.synthetic import DemoDataset
from tests.browser import WAIT_MS, browser, sign_in
from tests.console_demo import PASSWORD, DemoPair, build_demo, serving_console
from tests.wiring import in_memory

__all__ = ["browser"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, dataset: DemoDataset) -> Iterator[DemoPair]:
    pair = build_demo(tmp_path_factory.mktemp("console"), dataset)
    yield pair
    pair.close()


@pytest.fixture(scope="module")
def base_url(demo: DemoPair) -> Iterator[str]:
    with serving_console(Console.of(demo.chile)) as running:
        yield running.url


@pytest.fixture
def officers(browser: Browser, base_url: str) -> Iterator[dict[str, Page]]:
    """Signed-in pages by officer id, made on first use, closed after the test."""
    pages: dict[str, Page] = {}

    class Signed(dict[str, Page]):
        def __missing__(self, officer_id: str) -> Page:
            page = sign_in(browser, base_url, officer_id, PASSWORD)
            pages[officer_id] = page
            self[officer_id] = page
            return page

    yield Signed()
    for page in pages.values():
        page.context.close()


def _local_hit(demo: DemoPair) -> str:
    """Chile's own watchlist hit: the alert whose faces Chile keeps."""
    return next(
        a.alert_id
        for a in demo.chile.alerts.list(kind=AlertKind.WATCHLIST_HIT)
        if a.partner is None and a.watchlist_entry_id
    )


def test_signing_in_shows_the_demos_open_alerts_most_urgent_first(
    officers: dict[str, Page], demo: DemoPair
) -> None:
    page = officers["ana.rojas"]

    expect(page.locator("#signed-in")).to_contain_text("ana.rojas · officer")
    open_alerts = demo.chile.alerts.list(AlertFilter(open_only=True))
    assert len(open_alerts) >= 3, "the demo raises alerts on Chile"
    rows = page.locator("#queue-rows tr[data-alert]")
    expect(rows).to_have_count(len(open_alerts))
    shown = rows.evaluate_all("rows => rows.map(r => r.dataset.alert)")
    assert set(shown) == {a.alert_id for a in open_alerts}
    critical = {a.alert_id for a in open_alerts if a.severity.value == "critical"}
    assert set(shown[: len(critical)]) == critical  # all NEW: the tightest SLA first
    expect(page.locator(".countdown").first).to_contain_text("due in")


def test_four_eyes_one_officer_acknowledges_another_confirms(
    officers: dict[str, Page], demo: DemoPair
) -> None:
    alert_id = _local_hit(demo)
    ana = officers["ana.rojas"]
    ana.goto(f"/alerts/{alert_id}")
    faces = ana.locator(".faces img")
    expect(faces).to_have_count(2)
    assert all(width > 0 for width in faces.evaluate_all("imgs => imgs.map(i => i.naturalWidth)"))

    ana.click("#step-acknowledged")
    expect(ana.locator("#alert-status")).to_have_text("ACKNOWLEDGED")
    ana.click("#step-confirmed")
    expect(ana.locator("#action-error")).to_contain_text("four eyes")
    expect(ana.locator("#alert-status")).to_have_text("ACKNOWLEDGED")

    luis = officers["luis.soto"]
    luis.goto(f"/alerts/{alert_id}")
    luis.fill("textarea[name=comment]", "same face on both drawings")
    luis.click("#step-confirmed")
    expect(luis.locator("#alert-status")).to_have_text("CONFIRMED")
    expect(luis.locator("#history")).to_contain_text("luis.soto")

    stored = demo.chile.alerts.get(alert_id)
    assert stored is not None and stored.status is AlertStatus.CONFIRMED
    assert stored.acknowledged_by == "ana.rojas"
    steps = Console.of(demo.chile).review.history(alert_id)
    assert [(s.to_status, s.operator) for s in steps] == [
        (AlertStatus.ACKNOWLEDGED, "ana.rojas"),
        (AlertStatus.CONFIRMED, "luis.soto"),
    ]
    audited = [
        (e.officer, e.decision)
        for e in demo.chile.audit.entries()
        if e.event == AuditEvent.ALERT_TRANSITION.value and e.detail.get("alert_id") == alert_id
    ]
    assert audited == [("ana.rojas", "ACKNOWLEDGED"), ("luis.soto", "CONFIRMED")]


def test_an_officer_approves_a_step2_request_and_the_partner_gets_the_fields(
    officers: dict[str, Page], demo: DemoPair
) -> None:
    request_id = demo.request.request_id
    luis = officers["luis.soto"]
    luis.goto("/requests")
    row = luis.locator(f'tr[data-request="{request_id}"]')
    expect(row.locator(".status")).to_have_text("pending")
    row.locator("input[name=comment]").fill("identity check approved")
    row.locator("button.approve").click()
    expect(row.locator(".status")).to_have_text("approved")

    decided = ReceivedRequests(demo.chile.database).get("PAN", request_id)
    assert decided is not None and decided.decided_by == "luis.soto"
    assert poll_pending(demo.panama.link("CHL"), in_memory(demo.chile, "PAN"), due_only=False)
    answer = SentRequests(demo.panama.database, demo.panama.records.data_keys).get(request_id)
    assert answer is not None and answer.status is RequestStatus.APPROVED
    assert {"given_name", "family_name", "document_number"} <= set(answer.disclosed)


def test_screenshots_of_the_queue_and_an_alert(
    officers: dict[str, Page], demo: DemoPair, tmp_path: Path
) -> None:
    out = Path(os.environ.get("BX_SCREENSHOTS_DIR") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    page = officers["marta.vidal"]
    page.goto("/queue")
    expect(page.locator("#queue-rows tr[data-alert]").first).to_be_visible()
    page.screenshot(path=str(out / "console-queue.png"), full_page=True)
    page.goto(f"/alerts/{_local_hit(demo)}")
    expect(page.locator(".faces img")).to_have_count(2)
    page.screenshot(path=str(out / "console-alert.png"), full_page=True)
    for name in ("console-queue.png", "console-alert.png"):
        assert (out / name).read_bytes().startswith(b"\x89PNG")


def test_a_new_alert_appears_in_the_open_queue_without_a_reload(
    officers: dict[str, Page], demo: DemoPair
) -> None:
    page = officers["ana.rojas"]
    page.goto("/queue")
    expect(page.locator("#queue-rows tr[data-alert]").first).to_be_visible()
    marker = page.evaluate("() => { window.notReloaded = true; return window.notReloaded; }")
    assert marker is True
    template = demo.chile.alerts.list(kind=AlertKind.SUBJECT_ENCOUNTERED_BY_PARTNER)[0]
    fresh = dataclasses.replace(
        template,
        alert_id=new_alert_id(),
        subject_key=f"{template.subject_key}:live-test",
        status=AlertStatus.NEW,
        acknowledged_by=None,
        due_at=None,
    )
    demo.chile.alerts.raise_alert(fresh)

    expect(page.locator(f'#queue-rows tr[data-alert="{fresh.alert_id}"]')).to_be_visible(
        timeout=WAIT_MS
    )
    assert page.evaluate("() => window.notReloaded") is True
