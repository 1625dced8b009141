"""The UI is served by freezer-api, logs in with a token, and every page renders on a laptop and a phone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import requests
from playwright.sync_api import Page, expect

from freezer_service.ui import static_file
from tests.api.server import ApiServer
from tests.ui.conftest import Project, login

PAGES = [("dashboard", "#/", "Dashboard"), ("clients", "#/clients", "Clients"), ("jobs", "#/jobs", "Jobs"),
         ("actions", "#/actions", "Actions"), ("sessions", "#/sessions", "Sessions"),
         ("backups", "#/backups", "Backups")]


def test_served_by_the_api_without_a_token(ui_api: ApiServer, project: Project) -> None:
    page = requests.get(f"{ui_api.url}/ui/", timeout=10)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert '<script type="module" src="js/app.js">' in page.text
    assert requests.get(f"{ui_api.url}/ui/js/app.js", timeout=10).headers["Content-Type"].startswith("text/javascript")
    assert requests.get(f"{ui_api.url}/ui", allow_redirects=False, timeout=10).headers["Location"] == "/ui/"
    assert static_file("../__init__.py") is None and static_file("/etc/passwd") is None
    assert requests.get(f"{ui_api.url}/ui/%2e%2e/__init__.py", timeout=10).status_code == 404
    assert requests.get(f"{ui_api.url}/ui/config.json", timeout=10).json() == {"login": "token"}
    assert requests.post(f"{ui_api.url}/ui/login", json={}, timeout=10).status_code == 501
    # whoami goes through the API's authentication: no token, no identity
    assert requests.get(f"{ui_api.url}/ui/whoami", timeout=10).status_code == 401
    who = requests.get(f"{ui_api.url}/ui/whoami", headers={"X-Auth-Token": project.token}, timeout=10).json()
    assert who["project_id"] == project.id and who["roles"] == ["member"]
    # the API itself is unchanged behind the UI
    assert requests.get(f"{ui_api.url}/v2/{project.id}/jobs", timeout=10).status_code == 401


def test_bad_token_is_refused_with_the_api_message(page: Page, ui_api: ApiServer,
                                                   shot: Callable[[Page, str], Path]) -> None:
    page.goto(f"{ui_api.url}/ui/")
    expect(page.get_by_role("heading", name="Log in to Freezer")).to_be_visible()
    expect(page.get_by_label("Token")).to_be_focused()
    page.get_by_label("Token").fill("not-a-token")
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("requires authentication")
    shot(page, "login-refused")
    expect(page.locator("#nav")).to_be_hidden()


def test_every_page_on_a_laptop_and_a_phone(page: Page, phone: Page, ui_api: ApiServer, project: Project,
                                            shot: Callable[[Page, str], Path]) -> None:
    project.call("POST", "clients", {"client_id": "web1.example.org", "hostname": "web1", "description": "web"})
    job = project.call("POST", "jobs", {
        "client_id": "web1.example.org", "description": "nightly etc",
        "job_schedule": {"schedule_hour": "2", "schedule_start_date": "2024-01-01T00:00:00"},
        "job_actions": [{"freezer_action": {"action": "backup", "mode": "fs", "path_to_backup": "/etc",
                                            "backup_name": "etc", "container": "/srv/store", "storage": "local"},
                         "max_retries": 2}]})["job_id"]
    project.call("POST", "backups", {"backup_name": "etc", "container": "/srv/store", "hostname": "web1",
                                     "time_stamp": 1700000000, "curr_backup_level": 0, "storage": "local",
                                     "path_to_backup": "/etc", "job_id": job})
    project.call("POST", "sessions", {"description": "weekly set", "schedule": {"schedule_interval": "7 days"}})
    for tab, size in ((page, "laptop"), (phone, "phone")):
        login(tab, ui_api.url, project.token)
        for name, hash_, heading in PAGES:
            tab.goto(f"{ui_api.url}/ui/{hash_}")
            expect(tab.get_by_role("heading", name=heading, exact=True)).to_be_visible()
            expect(tab.locator("main")).not_to_have_attribute("aria-busy", "true")
            assert tab.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), \
                f"{name} scrolls sideways on a {size}"
            shot(tab, f"{name}-{size}")
        tab.goto(f"{ui_api.url}/ui/#/jobs/{job}")
        expect(tab.get_by_role("heading", name="nightly etc")).to_be_visible()
        expect(tab.locator("main")).to_contain_text("cron hour=2")
        shot(tab, f"job-detail-{size}")
    expect(page.get_by_role("link", name="Jobs")).to_have_attribute("aria-current", "page")
