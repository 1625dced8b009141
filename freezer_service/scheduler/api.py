"""The Freezer API as a :class:`~.source.JobSource`: upstream's v2 wire format over HTTP.

Only what the scheduler needs, spoken exactly as upstream freezer-scheduler
speaks it (``GET jobs`` with a search body, ``PATCH jobs/{id}`` with
``job_schedule``, ``POST clients``, ``POST backups``, ``POST
sessions/{id}/action``), so it also works against upstream's API, minus
exactly-once (see :attr:`HttpSource.versioned`).

Optimistic concurrency: when the API returns a job with an integer
``_version``, a schedule update is sent with ``If-Match: "<version>"`` and a
409 or 412 answer is a :class:`~.source.Conflict`.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import Any

import requests

from freezer_core.errors import ConfigError
from freezer_service.scheduler.source import Conflict, Snapshot, SourceError

LOG = logging.getLogger("freezer.scheduler.api")
PAGE = 100


@dataclass
class Credentials:
    """How to reach the API: a URL and a token, or Keystone v3 credentials (``[service_auth]``/``OS_*``)."""

    backup_url: str | None = None
    token: str | None = None
    auth_url: str | None = None
    username: str | None = None
    password: str | None = None
    project_id: str | None = None
    project_name: str | None = None
    user_domain_name: str = "Default"
    project_domain_name: str = "Default"
    interface: str = "public"
    insecure: bool = False
    cacert: str | None = None


class HttpSource:
    """Jobs, clients, backups and sessions of one project through the REST API."""

    def __init__(self, creds: Credentials, timeout: float = 30) -> None:
        self.creds = creds
        self.timeout = timeout
        self.session = requests.Session()
        self.session.verify = False if creds.insecure else (creds.cacert or True)
        self._lock = threading.Lock()
        self._token: str | None = None
        self._base: str | None = None
        self.versioned = False

    # ------------------------------------------------------------ plumbing

    def _authenticate(self) -> None:
        c = self.creds
        if c.backup_url and (c.token or not c.auth_url):
            self._token, self._base = c.token, _versioned(c.backup_url, c.project_id)
            return
        if not c.auth_url:
            raise ConfigError("no Freezer API given: set OS_BACKUP_URL (and OS_TOKEN) or OS_AUTH_URL with "
                              "credentials ([service_auth] in the config file), or run with --no-api")
        if c.password:
            identity: dict[str, Any] = {"methods": ["password"], "password": {"user": {
                "name": c.username, "password": c.password, "domain": {"name": c.user_domain_name}}}}
        elif c.token:
            identity = {"methods": ["token"], "token": {"id": c.token}}
        else:
            raise ConfigError("OS_AUTH_URL is set but neither a password nor a token is")
        project = {"id": c.project_id} if c.project_id else {
            "name": c.project_name, "domain": {"name": c.project_domain_name}}
        body = {"auth": {"identity": identity, "scope": {"project": project}}}
        try:
            r = self.session.post(c.auth_url.rstrip("/") + "/auth/tokens", json=body, timeout=self.timeout)
        except requests.RequestException as exc:
            raise SourceError(f"cannot reach Keystone at {c.auth_url}: {exc}") from None
        if r.status_code != 201:
            raise SourceError(f"Keystone refused the scheduler's credentials (HTTP {r.status_code})")
        token = r.json()["token"]
        self._token = r.headers.get("X-Subject-Token")
        project_id = token.get("project", {}).get("id")
        if c.backup_url:
            self._base = _versioned(c.backup_url, project_id)
            return
        for service in token.get("catalog", []):
            if service.get("type") == "backup":
                for endpoint in service.get("endpoints", []):
                    if endpoint.get("interface") == c.interface.replace("URL", ""):
                        self._base = _versioned(endpoint["url"], project_id)
                        return
        raise ConfigError("the Keystone catalog has no 'backup' endpoint: set OS_BACKUP_URL")

    @property
    def project_id(self) -> str:
        self._ensure()
        assert self._base is not None
        return self._base.rstrip("/").rsplit("/", 1)[-1]

    def _ensure(self) -> None:
        with self._lock:
            if self._base is None:
                self._authenticate()

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
             **params: Any) -> requests.Response:
        """One request; re-authenticates once on 401 when Keystone is used."""
        self._ensure()
        for attempt in (0, 1):
            sent = {"Accept": "application/json", "Content-Type": "application/json", **(headers or {})}
            if self._token:
                sent["X-Auth-Token"] = self._token
            try:
                r = self.session.request(method, f"{self._base}/{path}", headers=sent, params=params or None,
                                         data=json.dumps(body) if body is not None else None, timeout=self.timeout)
            except requests.RequestException as exc:
                raise SourceError(f"cannot reach the Freezer API at {self._base}: {exc}") from None
            if r.status_code == 401 and attempt == 0 and self.creds.auth_url:
                with self._lock:
                    self._authenticate()
                continue
            return r
        return r

    def _expect(self, r: requests.Response, *codes: int) -> Any:
        if r.status_code not in codes:
            try:
                detail = r.json().get("description") or r.json().get("title")
            except ValueError:
                detail = r.text[:200] or r.reason
            raise SourceError(f"{r.request.method} {r.url}: HTTP {r.status_code}: {detail}")
        return r.json() if r.content else None

    # ------------------------------------------------------------ JobSource

    def register(self, client: dict[str, Any]) -> None:
        r = self.call("POST", "clients/", client)
        if r.status_code == 409:
            LOG.info("client %s is already registered", client.get("client_id"))
            return
        self._expect(r, 201)
        LOG.info("registered client %s", client.get("client_id"))

    def jobs(self, client_id: str) -> list[Snapshot]:
        search = {"match": [{"client_id": client_id}], "match_not": [{"status": "completed"}]}
        found: list[Snapshot] = []
        offset = 0
        while True:
            page = self._expect(self.call("GET", "jobs/", search, limit=PAGE, offset=offset), 200)["jobs"]
            found.extend(Snapshot.of(doc) for doc in page if doc.get("client_id") == client_id)
            if len(page) < PAGE:
                break
            offset += PAGE
        self.versioned = bool(found) and all(s.version is not None for s in found) or self.versioned
        return found

    def job(self, job_id: str) -> Snapshot | None:
        r = self.call("GET", f"jobs/{job_id}")
        if r.status_code == 404:
            return None
        return Snapshot.of(self._expect(r, 200))

    def update_schedule(self, snap: Snapshot, schedule: dict[str, Any], *,
                        session_tag: int | None = None) -> Snapshot:
        body: dict[str, Any] = {"job_schedule": schedule}
        if session_tag is not None:
            body.update(session_id=snap.job.session_id or "", session_tag=session_tag)
        headers = {"If-Match": f'"{snap.version}"'} if snap.version is not None else None
        r = self.call("PATCH", f"jobs/{snap.job_id}", body, headers=headers)
        if r.status_code in (409, 412):
            raise Conflict(f"job {snap.job_id} changed since version {snap.version}")
        if r.status_code == 404:
            raise Conflict(f"job {snap.job_id} was deleted")
        answer = self._expect(r, 200) or {}
        new = Snapshot.of({**snap.raw, "job_schedule": schedule, **({"session_tag": session_tag}
                                                                    if session_tag is not None else {})})
        version = answer.get("version")
        new.version = version if isinstance(version, int) and snap.version is not None else None
        return new

    def store_backup(self, record: dict[str, Any]) -> None:
        search = {"match": [{"job_id": record.get("job_id")}, {"time_stamp": record.get("time_stamp")},
                            {"backup_name": record.get("backup_name")}]}
        existing = self._expect(self.call("GET", "backups/", search, limit=1), 200)["backups"]
        if existing:
            return
        self._expect(self.call("POST", "backups/", record), 201)

    def remove_backups(self, record: dict[str, Any]) -> int:
        ids = list(record.get("deleted_freezer_backup_ids") or [])
        stamps = {b.get("time_stamp") for b in record.get("removed_backups") or [] if isinstance(b, dict)}
        if stamps:
            search = {"match": [{"backup_name": record.get("backup_name")}, {"container": record.get("container")},
                                {"hostname": record.get("hostname")}]}
            offset = 0
            while True:
                page = self._expect(self.call("GET", "backups/", search, limit=PAGE, offset=offset), 200)["backups"]
                ids += [b["backup_id"] for b in page
                        if b.get("backup_metadata", {}).get("time_stamp") in stamps]
                if len(page) < PAGE:
                    break
                offset += PAGE
        for backup_id in ids:
            self._expect(self.call("DELETE", f"backups/{backup_id}"), 204, 404)
        return len(ids)

    def session_start(self, session_id: str, job_id: str, tag: int) -> tuple[str, int]:
        body = {"start": {"job_id": job_id, "current_tag": tag}}
        answer = self._expect(self.call("POST", f"sessions/{session_id}/action", body), 202)
        return str(answer.get("result")), int(answer.get("session_tag") or 0)

    def session_end(self, session_id: str, job_id: str, tag: int, result: str) -> None:
        body = {"end": {"job_id": job_id, "current_tag": tag, "result": result}}
        self._expect(self.call("POST", f"sessions/{session_id}/action", body), 202)

    def report_run(self, job_id: str, schedule: dict[str, Any], results: list[dict[str, Any]]) -> None:
        """The API holds the job's status and the backup records: nothing more to write."""


def _versioned(url: str, project_id: str | None) -> str:
    if "/v2" in url:
        return url.rstrip("/")
    if not project_id:
        raise ConfigError("the project is unknown: set OS_PROJECT_ID or use a backup URL ending in /v2/<project>")
    return f"{url.rstrip('/')}/v2/{project_id}"
