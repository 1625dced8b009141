"""The web UI on a ``freezer-api`` with ``auth_strategy = keystone``, against the real Keystone.

The login page offers a username/password form (the server exchanges them for a project-scoped
Keystone token) and keeps pasting a Keystone token as an alternative; every page then talks to the
API with that token, which keystonemiddleware validates like any other.  Keystone takes seconds
(password hashing, the middleware's first validation), so waits after a login use ``TIMEOUT_MS``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.api.server import ApiServer, start_api, stop_api
from tests.services import Service
from tests.services.keystone import issue_token, password
from tests.ui.conftest import TIMEOUT_MS

CLIENT = "ks-web1.example.org"
JOB = "project A nightly etc"


@pytest.fixture(scope="module")
def keystone_ui(keystone_server: Service, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """freezer-api (SQLite) validating Keystone tokens through keystonemiddleware, with the UI's password login."""
    directory = tmp_path_factory.mktemp("freezer-api-keystone-ui")
    url = keystone_server.env["OS_AUTH_URL"]
    extra = ("[DEFAULT]\nauth_strategy = keystone\n"
             f"[keystone_authtoken]\nwww_authenticate_uri = {url}\nauth_url = {url}\nauth_type = password\n"
             f"username = freezer\npassword = {keystone_server.env['KEYSTONE_PASSWORD']}\nproject_name = service\n"
             "user_domain_id = default\nproject_domain_id = default\n")
    server = start_api(directory, f"sqlite:///{directory / 'freezer.sqlite'}", "sqlite", extra)
    try:
        yield server
    finally:
        stop_api(server)


@pytest.fixture(scope="module")
def project_a_job(keystone_ui: ApiServer, keystone_server: Service) -> str:
    """A client and a job in project A, created through the API with a-member's Keystone token."""
    token, _ = issue_token(keystone_server, "a-member")
    project = keystone_server.env["KEYSTONE_PROJECT_A_ID"]

    def call(method: str, path: str, body: Any) -> Any:
        r = keystone_ui.call(method, f"/v2/{project}/{path}", token, body)
        assert r.status_code < 300, (method, path, r.status_code, r.text)
        return r.json()

    call("POST", "clients", {"client_id": CLIENT, "hostname": "ks-web1", "description": "web"})
    return str(call("POST", "jobs", {
        "client_id": CLIENT, "description": JOB,
        "job_schedule": {"schedule_hour": "2", "schedule_start_date": "2024-01-01T00:00:00"},
        "job_actions": [{"freezer_action": {"action": "backup", "mode": "fs", "path_to_backup": "/etc",
                                            "backup_name": "etc", "container": "/srv/store", "storage": "local"}}]
    })["job_id"])


def password_login(tab: Page, url: str, username: str, secret: str, project: str = "") -> None:
    tab.goto(f"{url}/ui/")
    expect(tab.get_by_role("heading", name="Log in to Freezer")).to_be_visible()
    expect(tab.get_by_label("Username")).to_be_focused()
    tab.get_by_label("Username").fill(username)
    tab.get_by_label("Password").fill(secret)
    tab.get_by_label("Project").fill(project)
    tab.get_by_role("button", name="Log in", exact=True).click()


def test_password_login_shows_project_a(page: Page, keystone_ui: ApiServer, keystone_server: Service,
                                        project_a_job: str, shot: Callable[[Page, str], Path]) -> None:
    assert requests.get(f"{keystone_ui.url}/ui/config.json", timeout=10).json() == {"login": "password"}
    secret = password(keystone_server, "a-member")
    # no project typed: a-member has a role on backup-a only, so the token is scoped to it
    password_login(page, keystone_ui.url, "a-member", secret)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.locator("#who-name")).to_have_text("a-member · project backup-a")
    expect(page.get_by_role("link", name=CLIENT)).to_be_visible()
    shot(page, "dashboard")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Jobs").click()
    expect(page.get_by_role("link", name=JOB)).to_be_visible()
    # the tab keeps the token and identity only; the server never writes the password down
    stored = page.evaluate("JSON.stringify(sessionStorage)")
    assert secret not in stored and keystone_server.env["KEYSTONE_PROJECT_A_ID"] in stored
    assert secret not in keystone_ui.log.read_text()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in to Freezer")).to_be_visible()
    # naming the project works as well
    password_login(page, keystone_ui.url, "a-member", secret, "backup-a")
    expect(page.get_by_role("link", name=CLIENT)).to_be_visible(timeout=TIMEOUT_MS)


def test_wrong_password_is_refused_in_the_page(page: Page, keystone_ui: ApiServer, keystone_server: Service,
                                               shot: Callable[[Page, str], Path]) -> None:
    password_login(page, keystone_ui.url, "a-member", "not-the-password")
    expect(page.get_by_role("alert")).to_contain_text("Keystone refused these credentials", timeout=TIMEOUT_MS)
    shot(page, "wrong-password")
    expect(page.locator("#nav")).to_be_hidden()
    assert page.evaluate("sessionStorage.length") == 0
    # a project the user has no role on is refused the same way
    password_login(page, keystone_ui.url, "a-member", password(keystone_server, "a-member"), "backup-b")
    expect(page.get_by_role("alert")).to_contain_text("Keystone refused these credentials", timeout=TIMEOUT_MS)
    r = requests.post(f"{keystone_ui.url}/ui/login", timeout=30,
                      json={"username": "a-member", "password": "not-the-password", "project": "backup-a"})
    assert r.status_code == 401 and "token" not in r.json()


def test_pasted_keystone_token_logs_in(page: Page, keystone_ui: ApiServer, keystone_server: Service,
                                       project_a_job: str) -> None:
    token, _ = issue_token(keystone_server, "a-member")
    page.goto(f"{keystone_ui.url}/ui/")
    page.get_by_text("Use a token instead").click()
    page.get_by_label("Token", exact=True).fill(token)
    page.get_by_role("button", name="Log in with token").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.locator("#who-name")).to_have_text("a-member · project backup-a")
    page.goto(f"{keystone_ui.url}/ui/#/jobs/{project_a_job}")
    expect(page.get_by_role("heading", name=JOB)).to_be_visible(timeout=TIMEOUT_MS)


def test_b_member_cannot_see_project_a_jobs(page: Page, keystone_ui: ApiServer, keystone_server: Service,
                                            project_a_job: str, shot: Callable[[Page, str], Path]) -> None:
    password_login(page, keystone_ui.url, "b-member", password(keystone_server, "b-member"), "backup-b")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.locator("#who-name")).to_have_text("b-member · project backup-b")
    expect(page.get_by_role("link", name=CLIENT)).to_have_count(0)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Jobs").click()
    expect(page.get_by_role("heading", name="Jobs", exact=True)).to_be_visible()
    expect(page.locator("main")).not_to_have_attribute("aria-busy", "true")
    expect(page.get_by_text(JOB)).to_have_count(0)
    shot(page, "b-member-jobs")
    # A's job by its id, through project B's API: not there
    page.goto(f"{keystone_ui.url}/ui/#/jobs/{project_a_job}")
    expect(page.get_by_role("alert")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_text(JOB)).to_have_count(0)
    # and B's token cannot address project A's API at all
    token, _ = issue_token(keystone_server, "b-member")
    a = keystone_server.env["KEYSTONE_PROJECT_A_ID"]
    assert keystone_ui.call("GET", f"/v2/{a}/jobs", token).status_code == 403
