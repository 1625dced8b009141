"""Browser tests of the web UI: a live ``freezer-api`` and Debian's headless Chromium driven by Playwright.

The browser is the system one (``/usr/bin/chromium``, or ``$FREEZER_CHROMIUM``): nothing is
downloaded.  Screenshots of every page land in ``$FREEZER_TEST_ARTIFACTS/ui`` (default
``/tmp/freezer-artifacts/ui``), at a laptop and at a phone size.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from tests.api.server import ApiServer, member_token, start_api, stop_api

CHROMIUM = os.environ.get("FREEZER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--headless", "--disable-dev-shm-usage"]
LAPTOP = {"width": 1366, "height": 860}
PHONE = {"width": 390, "height": 844}
ARTIFACTS = Path(os.environ.get("FREEZER_TEST_ARTIFACTS", "/tmp/freezer-artifacts")) / "ui"
TIMEOUT_MS = 20_000


@pytest.fixture(scope="session")
def ui_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """One freezer-api (SQLite, embedded tokens) for every UI test; each test takes its own project."""
    directory = tmp_path_factory.mktemp("ui-api")
    server = start_api(directory, f"sqlite:///{directory / 'freezer.sqlite'}", "sqlite")
    try:
        yield server
    finally:
        stop_api(server)


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    """The system Chromium; a browser that cannot start fails the tests (no skip)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (scripts/system-deps.sh)", pytrace=False)
    launched = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    try:
        yield launched
    finally:
        launched.close()


class Project:
    """A project of its own on the shared server, its token, and API calls for setting the scene."""

    def __init__(self, api: ApiServer) -> None:
        self.api = api
        self.id = api.new_project()
        self.token = member_token(self.id)

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        r = self.api.call(method, f"/v2/{self.id}/{path}", self.token, body, **params)
        assert r.status_code < 300, (method, path, r.status_code, r.text)
        return r.json() if r.content else None


@pytest.fixture
def project(ui_api: ApiServer) -> Project:
    return Project(ui_api)


def _context(browser: Browser, viewport: dict[str, int], mobile: bool) -> BrowserContext:
    context = browser.new_context(viewport=viewport, is_mobile=mobile, has_touch=mobile,
                                  device_scale_factor=2 if mobile else 1)
    context.set_default_timeout(TIMEOUT_MS)
    return context


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A laptop-sized page; its console errors fail the test."""
    context = _context(browser, LAPTOP, mobile=False)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield tab
    finally:
        context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context = _context(browser, PHONE, mobile=True)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Callable[[Page, str], Path]:
    """``shot(page, "jobs")`` saves a full-page PNG as a test artifact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    test = re.sub(r"[^\w]+", "_", request.node.name).strip("_")

    def take(tab: Page, name: str) -> Path:
        path = ARTIFACTS / f"{test}-{name}.png"
        tab.screenshot(path=str(path), full_page=True)
        return path
    return take


def login(tab: Page, url: str, token: str) -> None:
    """Through the login form, as a user does."""
    tab.goto(f"{url}/ui/")
    tab.get_by_label("Token").fill(token)
    tab.get_by_role("button", name="Log in").click()
    expect(tab.get_by_role("heading", name="Dashboard")).to_be_visible()


def flash(tab: Page) -> Any:
    return expect(tab.locator("#flash"))
