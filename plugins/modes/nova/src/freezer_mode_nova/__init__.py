"""nova mode: names the instance; the nova engine snapshots, streams and boots.

``--nova-inst-id`` or ``--nova-inst-name`` is resolved to one instance
before anything is written, so a wrong id fails fast with one line, and the
lazily made connection is shared with the engine.  ``--project-id`` alone
names every instance of that project (listed across projects when it is not
the one logged into, which needs an admin role): the engine then writes one
backup holding them all.  A restore boots a new
instance, so the mode gives the engine only a scratch directory.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from freezer_engine_nova import get_server
from freezer_openstack import Cloud, OpenStackError, check

from freezer_core.contract import Mode, Options, Source
from freezer_core.errors import ValidationError

__all__ = ["NovaMode"]

LOG = logging.getLogger("freezer.mode.nova")


class NovaMode(Mode):
    name = "nova"

    @classmethod
    def preferred_engine(cls, options: Options) -> str | None:
        return "nova"

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self.cloud = Cloud(options)

    def _server(self) -> dict[str, Any]:
        server_id, name = self.options.get("nova_inst_id"), self.options.get("nova_inst_name")
        if server_id:
            found = get_server(self.cloud, str(server_id))
            if found is None:
                raise OpenStackError(f"instance {server_id} not found in Nova: check --nova-inst-id")
            return found
        if not name:
            raise ValidationError("--mode nova needs --nova-inst-id, --nova-inst-name or --project-id")
        resp = check(self.cloud.conn.compute.get("/servers", params={"name": f"^{name}$"}, raise_exc=False),
                     f"looking up instance {name}")
        servers = resp.json().get("servers", [])
        if len(servers) != 1:
            raise OpenStackError(f"{len(servers)} instances are named {name!r}: give --nova-inst-id instead"
                                 if servers else f"no instance is named {name!r}: check --nova-inst-name")
        return self._by_id(servers[0]["id"])

    def _by_id(self, server_id: str) -> dict[str, Any]:
        found = get_server(self.cloud, server_id)
        if found is None:
            raise OpenStackError(f"instance {server_id} disappeared")
        return found

    def _project_servers(self, project_id: str) -> list[str]:
        params: dict[str, Any] = {}
        if project_id != self.cloud.conn.current_project_id:
            params = {"all_tenants": 1, "project_id": project_id}
        resp = check(self.cloud.conn.compute.get("/servers", params=params, raise_exc=False),
                     f"listing the instances of project {project_id}")
        ids = sorted(s["id"] for s in resp.json().get("servers", []))
        if not ids:
            raise OpenStackError(f"project {project_id} has no instance to back up: check --project-id")
        return ids

    @contextlib.contextmanager
    def prepare(self) -> Iterator[Source]:
        project_id = self.options.get("project_id")
        if project_id and not (self.options.get("nova_inst_id") or self.options.get("nova_inst_name")):
            try:
                servers = self._project_servers(str(project_id))
                LOG.info("backing up the %d instances of project %s", len(servers), project_id)
                yield Source(None, resource_id=str(project_id),
                             extra={"cloud": self.cloud, "project_servers": servers})
            finally:
                self.cloud.close()
            return
        try:
            server = self._server()
            yield Source(None, resource_id=server["id"], extra={"cloud": self.cloud, "server": server})
        finally:
            self.cloud.close()

    @contextlib.contextmanager
    def restoring(self) -> Iterator[Path]:
        with tempfile.TemporaryDirectory(prefix="freezer-nova-") as scratch:
            yield Path(scratch)
