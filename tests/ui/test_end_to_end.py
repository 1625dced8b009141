"""The whole loop from a browser: a live freezer-api and freezer-scheduler, a backup job made in the form,
started, its backup listed, restored from the backup page, and the restored files checked on disk."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.api.server import ApiServer
from tests.scheduler.conftest import SchedulerProcess, make_tree, tree, wait_for
from tests.ui.conftest import Project, flash, login

CLIENT = "ui-node.example.org"


@pytest.fixture
def scheduler(tmp_path: Path, ui_api: ApiServer, project: Project) -> Iterator[SchedulerProcess]:
    env = {"OS_BACKUP_URL": ui_api.url, "OS_TOKEN": project.token, "OS_PROJECT_ID": project.id,
           "OS_AUTH_URL": "", "OS_PASSWORD": ""}
    proc = SchedulerProcess(tmp_path, ["-c", CLIENT], env, "ui").start()
    try:
        yield proc
    finally:
        proc.stop()


def test_register_create_start_backup_restore(page: Page, tmp_path: Path, ui_api: ApiServer, project: Project,
                                              scheduler: SchedulerProcess,
                                              shot: Callable[[Page, str], Path]) -> None:
    src, store, out = make_tree(tmp_path / "src"), tmp_path / "store", tmp_path / "restored"
    login(page, ui_api.url, project.token)
    wait_for("the scheduler to register its client",
             lambda: any(c["client"]["client_id"] == CLIENT for c in project.call("GET", "clients")["clients"]))
    page.get_by_role("link", name="Clients").click()
    expect(page.get_by_role("link", name=CLIENT)).to_be_visible()

    page.get_by_role("link", name="Jobs").click()
    page.get_by_role("link", name="New job").click()
    expect(page.get_by_label("Client", exact=True)).to_have_value(CLIENT)
    page.get_by_label("Description", exact=True).fill("daily src")
    page.get_by_label("Path to back up", exact=True).fill(f"{src}/")
    page.get_by_label("Backup name", exact=True).fill("src")
    page.get_by_label("Container", exact=True).fill(str(store))
    page.get_by_label("Every interval", exact=True).check()
    page.get_by_label("Interval", exact=True).fill("1 days")
    page.get_by_role("button", name="Create job").click()
    flash(page).to_contain_text("Job created")
    page.get_by_role("button", name="Start").click()
    flash(page).to_contain_text("Start: success")
    job_id = page.url.rsplit("/", 1)[-1]

    def backups() -> list[dict]:
        return [b for b in project.call("GET", "backups", limit=100)["backups"]
                if b["backup_metadata"].get("job_id") == job_id]
    wait_for("the backup record", backups, timeout=90)
    page.get_by_role("link", name="Backups").click()
    expect(page.get_by_role("link", name="src", exact=True).first).to_be_visible()
    shot(page, "backups")
    page.get_by_role("link", name="Dashboard", exact=True).click()
    expect(page.get_by_role("link", name="src ·")).to_be_visible()
    shot(page, "dashboard")

    page.get_by_role("link", name="Backups").click()
    page.get_by_role("link", name="src", exact=True).first.click()
    expect(page.get_by_label("Restore on client", exact=True)).to_have_value(CLIENT)
    page.get_by_label("Target directory", exact=True).fill(str(out))
    shot(page, "restore-form")
    page.get_by_role("button", name="Restore").click()
    flash(page).to_contain_text("Restore job created and started")
    restore_id = page.url.rsplit("/", 1)[-1]
    done = wait_for("the restore job to complete",
                    lambda: (job := project.call("GET", f"jobs/{restore_id}"))["job_schedule"].get("status")
                    == "completed" and job, timeout=90)
    assert done["job_schedule"]["result"] == "success", scheduler.text()
    assert tree(out) == tree(src)
    page.reload()
    expect(page.locator("main")).to_contain_text("completed")
    shot(page, "restore-job")
