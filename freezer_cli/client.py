"""``freezer <resource>-<verb>``: the API client commands, as python-freezerclient names them.

Commands, arguments and output columns follow python-freezerclient 6.5.0 so
that scripts and habits carry over; ``--format json`` prints the same rows as
JSON.  The server is found like freezerclient finds it: ``--os-backup-url`` /
``OS_BACKUP_URL`` (a URL containing ``/v2`` is used as is, otherwise
``/v2/<project>`` is appended), else the ``backup`` entry of the Keystone
catalog when ``OS_AUTH_URL`` and credentials are set.  ``--os-token`` /
``OS_TOKEN`` is sent as ``X-Auth-Token`` (the embedded freezer-api tokens).

Job files are read as people write them: ``"job-action"``, dashed option
names, repeated keys, ``""`` for an unset date, an empty ``job_schedule``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from freezer_cli import client_output as out
from freezer_cli.client_output import show_item, show_rows
from freezer_core.errors import ConfigError, FreezerError, ValidationError
from freezer_core.models import Job

DATE_KEYS = ("schedule_date", "schedule_start_date", "schedule_end_date")


class ApiError(FreezerError):
    """The API answered with an unexpected status."""

    exit_code = 1


class DashCommand(click.Command):
    """Options may be spelled with underscores: ``--job_id`` is ``--job-id``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        fixed = []
        for arg in args:
            if arg == "--":
                fixed.extend(args[len(fixed):])
                break
            if arg.startswith("--"):
                name, eq, value = arg.partition("=")
                arg = name.replace("_", "-") + eq + value
            fixed.append(arg)
        return super().parse_args(ctx, fixed)


@dataclass
class Api:
    base: str
    token: str | None

    def url(self, resource: str) -> str:
        return f"{self.base.rstrip('/')}/{resource}"

    def request(self, method: str, path: str, expect: int, body: Any = None, **params: Any) -> Any:
        import requests

        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if self.token:
            headers["X-Auth-Token"] = self.token
        try:
            r = requests.request(method, self.url(path), headers=headers, params=params or None, timeout=60,
                                 data=json.dumps(body) if body is not None else None)
        except requests.RequestException as exc:
            raise ApiError(f"cannot reach the Freezer API at {self.base}: {exc}") from exc
        if r.status_code != expect:
            try:
                detail = r.json().get("description") or r.json().get("title") or r.text
            except ValueError:
                detail = r.text or r.reason
            raise ApiError(f"Error {r.status_code}: {detail}")
        return r.json() if r.content else None

    def list(self, resource: str, search: dict[str, Any] | None = None, limit: int = 100, offset: int = 0,
             **params: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.request("GET", f"{resource}/", 200, search or None, limit=limit,
                                                   offset=offset, **params)[resource]
        return found


def _keystone(auth_url: str) -> tuple[str, str]:
    """A token and the backup endpoint from Keystone v3 (password or token in OS_* variables)."""
    import requests

    env = os.environ
    if env.get("OS_PASSWORD"):
        identity = {"methods": ["password"], "password": {"user": {
            "name": env.get("OS_USERNAME"), "password": env["OS_PASSWORD"],
            "domain": {"name": env.get("OS_USER_DOMAIN_NAME", "Default")}}}}
    elif env.get("OS_TOKEN"):
        identity = {"methods": ["token"], "token": {"id": env["OS_TOKEN"]}}
    else:
        raise ConfigError("OS_AUTH_URL is set but neither OS_PASSWORD nor OS_TOKEN is")
    project = ({"id": env["OS_PROJECT_ID"]} if env.get("OS_PROJECT_ID") else
               {"name": env.get("OS_PROJECT_NAME") or env.get("OS_TENANT_NAME"),
                "domain": {"name": env.get("OS_PROJECT_DOMAIN_NAME", "Default")}})
    body = {"auth": {"identity": identity, "scope": {"project": project}}}
    try:
        r = requests.post(auth_url.rstrip("/") + "/auth/tokens", json=body, timeout=60)
    except requests.RequestException as exc:
        raise ApiError(f"cannot reach Keystone at {auth_url}: {exc}") from exc
    if r.status_code != 201:
        raise ApiError(f"Keystone refused the credentials: {r.status_code}")
    token = r.json()["token"]
    interface = env.get("OS_INTERFACE", env.get("OS_ENDPOINT_TYPE", "public")).replace("URL", "")
    for service in token.get("catalog", []):
        if service.get("type") == "backup":
            for endpoint in service.get("endpoints", []):
                if endpoint.get("interface") == interface:
                    return r.headers["X-Subject-Token"], _versioned(endpoint["url"], token["project"]["id"])
    raise ConfigError("the Keystone catalog has no 'backup' endpoint: set OS_BACKUP_URL")


def _versioned(url: str, project_id: str | None) -> str:
    if "/v2" in url:
        return url
    if not project_id:
        raise ConfigError("the project is unknown: set OS_PROJECT_ID or use a URL ending in /v2/<project>")
    return f"{url.rstrip('/')}/v2/{project_id}"


def connect(ctx: click.Context) -> Api:
    opts = ctx.params
    url = opts.get("os_backup_url") or os.environ.get("OS_BACKUP_URL")
    token = opts.get("os_token") or os.environ.get("OS_TOKEN")
    project = opts.get("os_project_id") or os.environ.get("OS_PROJECT_ID")
    auth_url = os.environ.get("OS_AUTH_URL")
    if auth_url and not (url and token):
        ks_token, endpoint = _keystone(auth_url)
        return Api(_versioned(url, project) if url else endpoint, ks_token)
    if not url:
        raise ConfigError("no Freezer API given: set OS_BACKUP_URL (or --os-backup-url), or OS_AUTH_URL")
    return Api(_versioned(url, project), token)


def api_command(group: click.Group, name: str) -> Callable[[Callable[..., Any]], click.Command]:
    """Register ``name`` with the connection and ``--format`` options, and one-line error reporting."""
    def wrap(fn: Callable[..., Any]) -> click.Command:
        def run(**kwargs: Any) -> None:
            ctx = click.get_current_context()
            try:
                fn(connect(ctx), kwargs.pop("fmt"), **{k: v for k, v in kwargs.items() if not k.startswith("os_")})
            except FreezerError as exc:
                click.echo(f"[*] {exc}", err=True)
                sys.exit(exc.exit_code)
        run.__doc__ = fn.__doc__
        run.__click_params__ = list(getattr(fn, "__click_params__", []))  # type: ignore[attr-defined]
        for decorator in (click.option("--os-backup-url", help="Freezer API URL [OS_BACKUP_URL]"),
                          click.option("--os-token", help="Token sent as X-Auth-Token [OS_TOKEN]"),
                          click.option("--os-project-id", help="Project [OS_PROJECT_ID]"),
                          click.option("-f", "--format", "fmt", type=click.Choice(["table", "json"]),
                                       default="table", show_default=True)):
            run = decorator(run)
        return group.command(name, cls=DashCommand)(run)
    return wrap


def read_file(path: str) -> dict[str, Any]:
    """A JSON document from a file (later repeated keys win, as in any JSON reader)."""
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise ValidationError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise ValidationError(f"{path} must hold a JSON object")
    return doc


def job_from_file(path: str) -> dict[str, Any]:
    """A job file, normalised: upstream key names, underscores, unset dates dropped."""
    doc: dict[str, Any] = Job.from_dict(read_file(path)).to_dict()
    schedule = doc.get("job_schedule") or {}
    doc["job_schedule"] = {k: v for k, v in schedule.items() if not (k in DATE_KEYS and v in ("", None))}
    for entry in doc.get("job_actions", []):
        if isinstance(entry.get("freezer_action"), dict):
            entry["freezer_action"] = {k.replace("-", "_"): v for k, v in entry["freezer_action"].items()}
    return doc


def search_body(search: str | None, **match: Any) -> dict[str, Any] | None:
    terms = [{k: v} for k, v in match.items() if v]
    if search:
        terms.append({"_all": search})
    return {"match": terms} if terms else None


# ------------------------------------------------------------------------------------------ commands


def register(cli: click.Group) -> None:
    """Add the API commands to the ``freezer`` group."""
    page = [click.option("--limit", type=int, default=100, show_default=True),
            click.option("--offset", type=int, default=0, show_default=True),
            click.option("--search", help="Text to look for, or a JSON list of {key: value}")]

    def paged(fn: Callable[..., Any]) -> Callable[..., Any]:
        for decorator in page:
            fn = decorator(fn)
        return fn

    # clients
    @api_command(cli, "client-register")
    @click.option("--file", "path", required=True, help="JSON client document")
    def client_register(api: Api, fmt: str, path: str) -> None:
        """Register a client."""
        client_id = api.request("POST", "clients/", 201, read_file(path))["client_id"]
        api.request("GET", f"clients/{client_id}", 200)
        click.echo(f"Client {client_id} registered")

    @api_command(cli, "client-list")
    @paged
    def client_list(api: Api, fmt: str, limit: int, offset: int, search: str | None) -> None:
        """List clients."""
        rows = [c.get("client", {}) for c in api.list("clients", search_body(search), limit, offset)]
        show_rows(fmt, out.CLIENT_COLUMNS, [out.client_row(c) for c in rows])

    @api_command(cli, "client-show")
    @click.argument("client_id")
    def client_show(api: Api, fmt: str, client_id: str) -> None:
        """Show a client."""
        show_item(fmt, out.client_item(api.request("GET", f"clients/{client_id}", 200)["client"]))

    @api_command(cli, "client-delete")
    @click.argument("client_id")
    def client_delete(api: Api, fmt: str, client_id: str) -> None:
        """Delete a client."""
        api.request("DELETE", f"clients/{client_id}", 204)
        click.echo(f"Client {client_id} deleted")

    # jobs
    @api_command(cli, "job-create")
    @click.option("--file", "path", required=True, help="JSON job file")
    @click.option("--client", "-C", "client_id", required=True, help="Client the job runs on")
    def job_create(api: Api, fmt: str, path: str, client_id: str) -> None:
        """Create a job from a file, for a client."""
        doc = job_from_file(path) | {"client_id": client_id}
        target = f"jobs/{doc['job_id']}" if doc.get("job_id") else "jobs/"
        job_id = api.request("POST", target, 201, doc)["job_id"]
        api.request("GET", f"jobs/{job_id}", 200)
        click.echo(f"Job {job_id} created")

    @api_command(cli, "job-list")
    @paged
    @click.option("--client", "-C", "client_id", help="Only the jobs of this client")
    @click.option("--all-projects", is_flag=True, help="Every project (admin)")
    def job_list(api: Api, fmt: str, limit: int, offset: int, search: str | None, client_id: str | None,
                 all_projects: bool) -> None:
        """List jobs."""
        jobs = api.list("jobs", search_body(search, client_id=client_id), limit, offset,
                        all_projects=str(all_projects))
        show_rows(fmt, out.JOB_COLUMNS, [out.job_row(j) for j in jobs])

    def _job(api: Api, fmt: str, job_id: str) -> None:
        show_item(fmt, out.job_item(api.request("GET", f"jobs/{job_id}", 200), fmt))

    @api_command(cli, "job-show")
    @click.argument("job_id")
    def job_show(api: Api, fmt: str, job_id: str) -> None:
        """Show a job."""
        _job(api, fmt, job_id)

    @api_command(cli, "job-get")
    @click.argument("job_id")
    def job_get(api: Api, fmt: str, job_id: str) -> None:
        """Print a job's whole document as JSON."""
        click.echo(json.dumps(api.request("GET", f"jobs/{job_id}", 200), indent=4))

    for verb in ("start", "stop", "abort"):
        def event(api: Api, fmt: str, job_id: str, _verb: str = verb) -> None:
            result = api.request("POST", f"jobs/{job_id}/event", 202, {_verb: None})["result"]
            click.echo(f"Job {job_id} {'requested to ' + _verb if result == 'success' else result}")
        event.__doc__ = f"Ask the scheduler to {verb} a job."
        api_command(cli, f"job-{verb}")(click.argument("job_id")(event))

    @api_command(cli, "job-update")
    @click.argument("job_id")
    @click.argument("path")
    def job_update(api: Api, fmt: str, job_id: str, path: str) -> None:
        """Update a job from a file."""
        api.request("PATCH", f"jobs/{job_id}", 200, job_from_file(path))
        api.request("GET", f"jobs/{job_id}", 200)
        click.echo(f"Job {job_id} updated")

    @api_command(cli, "job-delete")
    @click.argument("job_id")
    def job_delete(api: Api, fmt: str, job_id: str) -> None:
        """Delete a job."""
        api.request("DELETE", f"jobs/{job_id}", 204)
        click.echo(f"Job {job_id} deleted")

    # actions
    @api_command(cli, "action-create")
    @click.option("--file", "path", required=True, help="JSON action document")
    def action_create(api: Api, fmt: str, path: str) -> None:
        """Create an action."""
        action_id = api.request("POST", "actions/", 201, read_file(path))["action_id"]
        click.echo(f"Action {action_id} created")

    @api_command(cli, "action-list")
    @paged
    def action_list(api: Api, fmt: str, limit: int, offset: int, search: str | None) -> None:
        """List actions."""
        show_rows(fmt, out.ACTION_COLUMNS, [out.action_row(a) for a in api.list("actions", search_body(search),
                                                                                  limit, offset)])

    @api_command(cli, "action-show")
    @click.argument("action_id")
    def action_show(api: Api, fmt: str, action_id: str) -> None:
        """Show an action."""
        show_item(fmt, out.action_item(api.request("GET", f"actions/{action_id}", 200)))

    @api_command(cli, "action-update")
    @click.argument("action_id")
    @click.argument("path")
    def action_update(api: Api, fmt: str, action_id: str, path: str) -> None:
        """Update an action from a file."""
        api.request("PATCH", f"actions/{action_id}", 200, read_file(path))
        click.echo(f"Action {action_id} updated")

    @api_command(cli, "action-delete")
    @click.argument("action_id")
    def action_delete(api: Api, fmt: str, action_id: str) -> None:
        """Delete an action."""
        api.request("DELETE", f"actions/{action_id}", 204)
        click.echo(f"Action {action_id} deleted")

    _register_sessions_and_backups(cli, paged)


def _register_sessions_and_backups(cli: click.Group, paged: Callable[..., Any]) -> None:
    @api_command(cli, "session-create")
    @click.option("--description", help="Description (overrides the file's)")
    @click.option("--file", "path", help="JSON session document (description, schedule, hold_off, ...)")
    def session_create(api: Api, fmt: str, description: str | None, path: str | None) -> None:
        """Create a session from a file (as python-freezerclient) and/or a description."""
        if not (path or description):
            raise ConfigError("give --file or --description")
        doc = (read_file(path) if path else {}) | ({"description": description} if description else {})
        click.echo(f"Session {api.request('POST', 'sessions/', 201, doc)['session_id']} created")

    @api_command(cli, "session-list")
    @paged
    def session_list(api: Api, fmt: str, limit: int, offset: int, search: str | None) -> None:
        """List sessions."""
        show_rows(fmt, out.SESSION_COLUMNS,
                  [out.session_row(s) for s in api.list("sessions", search_body(search), limit, offset)])

    @api_command(cli, "session-show")
    @click.argument("session_id")
    def session_show(api: Api, fmt: str, session_id: str) -> None:
        """Show a session."""
        show_item(fmt, out.session_item(api.request("GET", f"sessions/{session_id}", 200), fmt))

    @api_command(cli, "session-update")
    @click.argument("session_id")
    @click.argument("path")
    def session_update(api: Api, fmt: str, session_id: str, path: str) -> None:
        """Update a session from a file."""
        api.request("PATCH", f"sessions/{session_id}", 200, read_file(path))
        click.echo(f"Session {session_id} updated")

    @api_command(cli, "session-delete")
    @click.argument("session_id")
    def session_delete(api: Api, fmt: str, session_id: str) -> None:
        """Delete a session."""
        api.request("GET", f"sessions/{session_id}", 200)
        api.request("DELETE", f"sessions/{session_id}", 204)
        click.echo(f"Session {session_id} deleted")

    def session_job(verb: str, method: str) -> None:
        def run(api: Api, fmt: str, session_id: str, job_id: str) -> None:
            api.request(method, f"sessions/{session_id}/jobs/{job_id}", 204)
            click.echo(f"Job {job_id} {'added to' if method == 'PUT' else 'removed from'} session {session_id}")
        run.__doc__ = "Add a job to a session." if method == "PUT" else "Remove a job from a session."
        api_command(cli, f"session-{verb}")(click.option("--session-id", required=True)(
            click.option("--job-id", required=True)(run)))

    session_job("add-job", "PUT")
    session_job("remove-job", "DELETE")

    @api_command(cli, "session-start")
    @click.option("--session-id", required=True)
    @click.option("--job-id", required=True)
    @click.option("--job-tag", required=True, type=int)
    def session_start(api: Api, fmt: str, session_id: str, job_id: str, job_tag: int) -> None:
        """A job of the session starts (the scheduler does this)."""
        api.request("GET", f"sessions/{session_id}", 200)
        r = api.request("POST", f"sessions/{session_id}/action", 202,
                        {"start": {"job_id": job_id, "current_tag": job_tag}})
        show_item(fmt, [("result", r["result"]), ("session_tag", r["session_tag"])])

    @api_command(cli, "session-end")
    @click.option("--session-id", required=True)
    @click.option("--job-id", required=True)
    @click.option("--job-tag", required=True, type=int)
    @click.option("--result", required=True, type=click.Choice(["success", "fail", "aborted"]))
    def session_end(api: Api, fmt: str, session_id: str, job_id: str, job_tag: int, result: str) -> None:
        """A job of the session ended (the scheduler does this)."""
        r = api.request("POST", f"sessions/{session_id}/action", 202,
                        {"end": {"job_id": job_id, "current_tag": job_tag, "result": result}})
        show_item(fmt, [("result", r["result"]), ("session_tag", r["session_tag"])])

    # backups
    @api_command(cli, "backup-list")
    @paged
    def backup_list(api: Api, fmt: str, limit: int, offset: int, search: str | None) -> None:
        """List backups, oldest first."""
        show_rows(fmt, out.BACKUP_COLUMNS, out.backup_rows(api.list("backups", search_body(search), limit, offset)))

    @api_command(cli, "backup-show")
    @click.argument("backup_id")
    def backup_show(api: Api, fmt: str, backup_id: str) -> None:
        """Show a backup."""
        show_item(fmt, out.backup_item(api.request("GET", f"backups/{backup_id}", 200), fmt))

    @api_command(cli, "backup-delete")
    @click.argument("backup_id")
    def backup_delete(api: Api, fmt: str, backup_id: str) -> None:
        """Delete a backup's record."""
        api.request("DELETE", f"backups/{backup_id}", 204)
        click.echo(f"Backup {backup_id} deleted")
