"""Headless Chromium for the console's browser tests: Debian's /usr/bin/chromium driven by
Playwright (``executable_path``), never a browser Playwright downloads.

A machine without it fails the tests with the package to install (``.ci/run``
installs it); nothing is skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = Path(os.environ.get("BX_CHROMIUM", "/usr/bin/chromium"))
MISSING = (
    f"the console's browser tests drive Debian's Chromium at {CHROMIUM}, which is missing: "
    "install it with `apt-get install -y chromium` (.ci/run does), or point BX_CHROMIUM "
    "at a Chromium binary"
)
WAIT_MS = 30_000
"""The longest any expectation waits for the page (a bound, not a pause)."""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium per test module."""
    if not CHROMIUM.is_file():
        pytest.fail(MISSING, pytrace=False)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield launched
        finally:
            launched.close()


def sign_in(browser: Browser, base_url: str, officer_id: str, password: str) -> Page:
    """A fresh browser context (its own cookies) signed in as ``officer_id``."""
    context = browser.new_context(base_url=base_url, viewport={"width": 1440, "height": 900})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    page.goto("/queue")
    page.wait_for_url("**/login?next=/queue")
    page.fill("input[name=officer_id]", officer_id)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/queue")
    return page
