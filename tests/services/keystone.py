"""The ``keystone_server`` session fixture: a real OpenStack Keystone on 127.0.0.1.

Keystone (pinned by ``keystone-constraints.txt``) is installed by :func:`tests.venvs.cached_venv`
into ``$FREEZER_SERVICES_CACHE/keystone-venv`` (default ``~/.cache/freezer-services``), outside the
repository and cached across runs; ``keystone_start.sh`` bootstraps it on SQLite with fernet tokens
and creates two projects with a member, a reader and a service user (see the script's header).
``env`` holds ``OS_AUTH_URL``, ``KEYSTONE_ADMIN_PASSWORD``, ``KEYSTONE_PASSWORD`` (every test
user's) and the project ids.  Failing to start fails the tests that need it: never a skip.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.services import HERE, Service, free_port, start_service
from tests.venvs import VenvBuildError, cached_venv, services_cache

#: Test users: name -> (project name, role).  "admin" is Keystone's bootstrap admin.
USERS = {"a-member": ("backup-a", "member"), "a-reader": ("backup-a", "reader"),
         "b-member": ("backup-b", "member"), "freezer": ("service", "service"), "admin": ("admin", "admin")}


def keystone_venv() -> Path:
    """Keystone and gunicorn under the pins of ``keystone-constraints.txt``, built on first use."""
    constraints = [line.strip() for line in (HERE / "keystone-constraints.txt").read_text().splitlines()
                   if line.strip() and not line.startswith("#")]
    cache = services_cache()
    try:
        return cached_venv(cache / "keystone-venv", ("keystone", "gunicorn"), constraints=constraints,
                           provides="gunicorn", pip_cache=cache / "pipcache")
    except VenvBuildError as exc:
        pytest.fail(f"building the keystone venv failed: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def keystone_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    directory = tmp_path_factory.mktemp("keystone")
    env = {"KEYSTONE_DIR": str(directory), "KEYSTONE_PORT": str(free_port()),
           "KEYSTONE_VENV": str(keystone_venv())}
    with start_service("keystone", directory, env, timeout=900) as service:
        yield service


def password(service: Service, user: str) -> str:
    return service.env["KEYSTONE_ADMIN_PASSWORD" if user == "admin" else "KEYSTONE_PASSWORD"]


def issue_token(service: Service, user: str) -> tuple[str, dict[str, Any]]:
    """A project-scoped token of ``user`` (one of :data:`USERS`) and Keystone's token body."""
    body: dict[str, Any] = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "password": password(service, user), "domain": {"id": "default"}}}},
        "scope": {"project": {"name": USERS[user][0], "domain": {"id": "default"}}}}}
    r = requests.post(service.env["OS_AUTH_URL"] + "/auth/tokens", json=body, timeout=30)
    r.raise_for_status()
    return r.headers["X-Subject-Token"], r.json()["token"]


def revoke_token(service: Service, token: str) -> None:
    admin, _ = issue_token(service, "admin")
    r = requests.delete(service.env["OS_AUTH_URL"] + "/auth/tokens", timeout=30,
                        headers={"X-Auth-Token": admin, "X-Subject-Token": token})
    r.raise_for_status()


def register_backup_endpoint(service: Service, url: str) -> None:
    """Put ``url`` in the catalog as the ``backup`` service (replacing an earlier one)."""
    admin, _ = issue_token(service, "admin")
    base, headers = service.env["OS_AUTH_URL"], {"X-Auth-Token": admin}
    found = requests.get(f"{base}/services?type=backup", headers=headers, timeout=30).json()["services"]
    if found:
        service_id = found[0]["id"]
        for ep in requests.get(f"{base}/endpoints?service_id={service_id}", headers=headers,
                               timeout=30).json()["endpoints"]:
            requests.delete(f"{base}/endpoints/{ep['id']}", headers=headers, timeout=30).raise_for_status()
    else:
        r = requests.post(f"{base}/services", headers=headers, timeout=30,
                          json={"service": {"type": "backup", "name": "freezer"}})
        r.raise_for_status()
        service_id = r.json()["service"]["id"]
    for interface in ("public", "internal", "admin"):
        requests.post(f"{base}/endpoints", headers=headers, timeout=30, json={"endpoint": {
            "service_id": service_id, "interface": interface, "url": url, "region_id": "RegionOne"}}
                      ).raise_for_status()
