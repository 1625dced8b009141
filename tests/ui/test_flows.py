"""Forms and operations through the browser against the API alone (no scheduler): jobs, sessions, backups."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.api.server import ApiServer
from tests.ui.conftest import Project, flash, login

CLIENT = "node7.example.org"


def _backup_job(project: Project, description: str) -> str:
    action = {"action": "backup", "mode": "fs", "path_to_backup": "/srv", "backup_name": "srv", "container": "/store",
              "storage": "local"}
    return str(project.call("POST", "jobs", {
        "client_id": CLIENT, "description": description, "job_schedule": {"schedule_interval": "1 days"},
        "job_actions": [{"freezer_action": action}]})["job_id"])


def test_job_form_create_bad_input_edit_start_clone_delete(page: Page, ui_api: ApiServer, project: Project,
                                                           shot: Callable[[Page, str], Path]) -> None:
    login(page, ui_api.url, project.token)
    # register the client through the clients page
    page.get_by_role("link", name="Clients").click()
    page.get_by_label("Client id", exact=True).fill(CLIENT)
    page.get_by_label("Host name", exact=True).fill("node7")
    page.get_by_role("button", name="Register").click()
    flash(page).to_contain_text(f"Client {CLIENT} registered")
    expect(page.get_by_role("cell", name=CLIENT, exact=True)).to_be_visible()

    page.get_by_role("link", name="Jobs").click()
    page.get_by_role("link", name="New job").click()
    page.get_by_label("Description", exact=True).fill("srv every day")
    page.get_by_label("Path to back up", exact=True).fill("/srv/data")
    page.get_by_label("Backup name", exact=True).fill("srv")
    page.get_by_label("Container", exact=True).fill("/srv/store")
    page.get_by_label("Every interval", exact=True).check()
    page.get_by_label("Interval", exact=True).fill("every tuesday")
    page.get_by_label("Start date (UTC)", exact=True).fill("2030-01-02T03:04:05")
    shot(page, "job-form")
    page.get_by_role("button", name="Create job").click()
    # the API's own message, shown in the page
    expect(page.get_by_role("alert")).to_contain_text("Bad request format")
    expect(page.get_by_role("alert")).to_contain_text("every tuesday")
    expect(page.get_by_role("alert")).to_contain_text("HTTP 400")
    shot(page, "job-form-error")
    assert project.call("GET", "jobs")["jobs"] == []

    page.get_by_label("Interval", exact=True).fill("1 days")
    page.get_by_role("button", name="Create job").click()
    flash(page).to_contain_text("Job created")
    expect(page.get_by_role("heading", name="srv every day")).to_be_visible()
    expect(page.locator("main")).to_contain_text("every 1 days, from 2030-01-02T03:04:05")
    expect(page.locator("main")).to_contain_text("2030-01-02 03:04:05 UTC")  # next run: the start date
    [job] = project.call("GET", "jobs")["jobs"]
    assert job["client_id"] == CLIENT
    assert job["job_schedule"]["schedule_interval"] == "1 days"
    assert job["job_schedule"]["schedule_start_date"] == "2030-01-02T03:04:05"
    assert job["job_actions"][0]["freezer_action"] == {**job["job_actions"][0]["freezer_action"], **{
        "action": "backup", "mode": "fs", "path_to_backup": "/srv/data", "backup_name": "srv",
        "container": "/srv/store", "storage": "local", "engine_name": "tar"}}

    page.get_by_role("button", name="Start").click()
    flash(page).to_contain_text("Start: success")
    assert project.call("GET", f"jobs/{job['job_id']}")["job_schedule"]["event"] == "start"
    page.get_by_role("button", name="Start").click()
    flash(page).to_contain_text("Start: start already requested")
    page.get_by_role("button", name="Stop").click()
    flash(page).to_contain_text("Stop: success")

    # edit: a calendar schedule and a second action
    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Calendar (cron)", exact=True).check()
    page.get_by_label("hour", exact=True).fill("3")
    page.get_by_label("day of week", exact=True).fill("mon-fri")
    page.get_by_role("button", name="Add action").click()
    page.get_by_label("Backup name", exact=True).nth(1).fill("srv-info")
    page.locator(".action-editor").nth(1).get_by_label("Action", exact=True).select_option("info")
    page.get_by_role("button", name="Save job").click()
    flash(page).to_contain_text("Job saved")
    edited = project.call("GET", f"jobs/{job['job_id']}")
    assert {k: v for k, v in edited["job_schedule"].items() if k.startswith("schedule_")} == {
        "schedule_hour": "3", "schedule_day_of_week": "mon-fri", "schedule_start_date": "2030-01-02T03:04:05"}
    assert [a["freezer_action"]["action"] for a in edited["job_actions"]] == ["backup", "info"]
    expect(page.locator("main")).to_contain_text("cron day_of_week=mon-fri hour=3")

    page.get_by_role("link", name="Clone").click()
    expect(page.get_by_label("Description", exact=True)).to_have_value("Copy of srv every day")
    page.get_by_role("button", name="Create job").click()
    flash(page).to_contain_text("Job created")
    jobs = project.call("GET", "jobs")["jobs"]
    assert sorted(j["description"] for j in jobs) == ["Copy of srv every day", "srv every day"]

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete").click()
    flash(page).to_contain_text("Job deleted")
    expect(page.get_by_role("link", name="srv every day", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Copy of srv every day")).to_have_count(0)
    shot(page, "jobs-after-delete")


def test_actions_create_edit_delete(page: Page, ui_api: ApiServer, project: Project) -> None:
    login(page, ui_api.url, project.token)
    page.goto(f"{ui_api.url}/ui/#/actions/new")
    page.get_by_label("Backup name", exact=True).fill("db")
    page.get_by_label("Mode", exact=True).fill("mysql")
    page.get_by_label("Other options (JSON object)", exact=True).fill("{not json")
    page.get_by_role("button", name="Create action").click()
    expect(page.get_by_role("alert")).to_contain_text("not valid JSON")
    page.get_by_label("Other options (JSON object)", exact=True).fill('{"compression": "zstd"}')
    page.get_by_role("button", name="Create action").click()
    flash(page).to_contain_text("created")
    [action] = project.call("GET", "actions")["actions"]
    assert action["freezer_action"]["compression"] == "zstd" and action["freezer_action"]["mode"] == "mysql"
    page.get_by_role("link", name=action["action_id"]).click()
    page.get_by_label("Backup name", exact=True).fill("db2")
    page.get_by_role("button", name="Save action").click()
    flash(page).to_contain_text("Action saved")
    assert project.call("GET", f"actions/{action['action_id']}")["freezer_action"]["backup_name"] == "db2"
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"Delete action {action['action_id']}").click()
    flash(page).to_contain_text("Action deleted")
    assert project.call("GET", "actions")["actions"] == []


def test_session_create_attach_start_detach(page: Page, ui_api: ApiServer, project: Project,
                                            shot: Callable[[Page, str], Path]) -> None:
    project.call("POST", "clients", {"client_id": CLIENT, "hostname": "node7"})
    first, second = _backup_job(project, "first"), _backup_job(project, "second")
    login(page, ui_api.url, project.token)
    page.get_by_role("link", name="Sessions").click()
    page.get_by_label("Description", exact=True).fill("nightly pair")
    page.get_by_label("Every interval", exact=True).check()
    page.get_by_label("Interval", exact=True).fill("1 days")
    page.get_by_role("button", name="Create session").click()
    flash(page).to_contain_text("Session created")
    expect(page.get_by_role("heading", name="nightly pair")).to_be_visible()
    [session] = project.call("GET", "sessions")["sessions"]
    assert session["schedule"] == {"schedule_interval": "1 days"}
    for job in ("first", "second"):
        page.get_by_label("Job", exact=True).select_option(label=f"{job} ({CLIENT})")
        page.get_by_role("button", name="Attach job").click()
        flash(page).to_contain_text("Job attached")
        # The flash of the previous attach may still show: wait for this job's row instead.
        expect(page.get_by_role("button", name=f"Detach {job}", exact=True)).to_be_visible()
    assert set(project.call("GET", f"sessions/{session['session_id']}")["jobs"]) == {first, second}
    assert project.call("GET", f"jobs/{first}")["session_id"] == session["session_id"]
    page.get_by_role("button", name="Start session").click()
    flash(page).to_contain_text("2 job(s) asked to start")
    assert project.call("GET", f"jobs/{second}")["job_schedule"]["event"] == "start"
    shot(page, "session")
    page.get_by_role("button", name="Detach first").click()
    flash(page).to_contain_text("Job detached")
    assert set(project.call("GET", f"sessions/{session['session_id']}")["jobs"]) == {second}


def test_backups_filter_detail_restore_job_and_delete(page: Page, ui_api: ApiServer, project: Project,
                                                     shot: Callable[[Page, str], Path]) -> None:
    project.call("POST", "clients", {"client_id": CLIENT, "hostname": "node7"})
    project.call("POST", "clients", {"client_id": "other.example.org", "hostname": "other"})
    job = _backup_job(project, "srv daily")
    for name, stamp, host, job_id in (("srv", 1700000000, "node7", job), ("srv", 1700086400, "node7", job),
                                      ("home", 1700090000, "other", None)):
        project.call("POST", "backups", {"backup_name": name, "container": "/store", "hostname": host,
                                         "time_stamp": stamp, "storage": "local", "engine_name": "tar",
                                         "mode": "fs", "curr_backup_level": 0, "path_to_backup": f"/{name}",
                                         **({"job_id": job_id} if job_id else {})})
    login(page, ui_api.url, project.token)
    page.get_by_role("link", name="Backups").click()
    expect(page.locator("main")).to_contain_text("3 of 3 backup(s)")
    page.get_by_label("Client", exact=True).select_option(CLIENT)
    expect(page.locator("main")).to_contain_text("2 of 3 backup(s)")
    page.get_by_label("From (UTC)", exact=True).fill("2023-11-15T00:00:00")
    expect(page.locator("main")).to_contain_text("1 of 3 backup(s)")
    page.get_by_label("Client", exact=True).select_option("")
    page.get_by_label("Name", exact=True).fill("home")
    expect(page.locator("main")).to_contain_text("1 of 3 backup(s)")
    expect(page.get_by_role("link", name="home")).to_be_visible()
    page.get_by_label("Name", exact=True).fill("")
    page.get_by_label("From (UTC)", exact=True).fill("")
    page.get_by_label("To (UTC)", exact=True).fill("2023-11-14T23:00:00")
    expect(page.locator("main")).to_contain_text("1 of 3 backup(s)")
    shot(page, "backups-filtered")

    page.get_by_role("link", name="srv").click()
    expect(page.get_by_role("heading", name="Backup srv")).to_be_visible()
    expect(page.get_by_label("Restore on client", exact=True)).to_have_value(CLIENT)
    expect(page.get_by_label("Point in time (UTC)", exact=True)).to_have_value("2023-11-14T22:13:20")
    page.get_by_label("Target directory", exact=True).fill("relative/path")
    page.get_by_role("button", name="Restore").click()
    restore = page.get_by_role("heading", name=f"Restore srv for {CLIENT}")
    expect(restore).to_be_visible()
    flash(page).to_contain_text("Restore job created and started")
    [created] = [j for j in project.call("GET", "jobs")["jobs"] if j["description"].startswith("Restore")]
    assert created["job_schedule"]["event"] == "start"
    assert created["job_actions"][0]["freezer_action"] == {**created["job_actions"][0]["freezer_action"], **{
        "action": "restore", "backup_name": "srv", "container": "/store", "storage": "local", "hostname": "node7",
        "restore_abs_path": "relative/path", "restore_from_date": "2023-11-14T22:13:20", "engine_name": "tar"}}

    page.go_back()
    expect(page.get_by_role("heading", name="Backup srv")).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete record").click()
    flash(page).to_contain_text("Backup record deleted")
    expect(page.locator("main")).to_contain_text("2 of 2 backup(s)")
