"""Discovery documents: ``/`` (versions), ``/v2`` (JSON home), ``/healthcheck``."""

from __future__ import annotations

import json
from pathlib import Path

import falcon

UPDATED = "2018-02-21T13:30:00"
HEALTHCHECK_DISABLE_FILE = Path("/etc/freezer/healthcheck_disable")


def _template(path: str, allow: list[str], **variables: str) -> dict[str, object]:
    return {"href-template": path, "href-vars": variables,
            "hints": {"allow": allow, "formats": {"application/json": {}}}}


JSON_HOME = {"resources": {
    "rel/backups": _template("/v2/{project_id}/backups/{backup_id}", ["GET"],
                             project_id="param/project_id", backup_id="param/backup_id"),
    "rel/jobs": _template("/v2/{project_id}/jobs{?all_projects,offset,limit}", ["GET", "POST"],
                          project_id="param/project_id"),
    "rel/job": _template("/v2/{project_id}/jobs/{job_id}", ["GET", "PATCH", "POST", "DELETE"],
                         project_id="param/project_id", job_id="param/job_id"),
}}


class Versions:
    """``GET /``: 300 Multiple Choices with the one API version."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        if not req.client_accepts_json:
            resp.status = falcon.HTTP_406
            resp.text = ""
            return
        base = f"{req.forwarded_scheme}://{req.forwarded_host}"
        prefix = req.env.get("SCRIPT_NAME", "")
        resp.status = falcon.HTTP_300
        resp.media = {"versions": [{"id": "v2", "status": "CURRENT", "updated": UPDATED,
                                    "links": [{"href": f"{base}{prefix}/v2/", "rel": "self"}]}]}


class JsonHome:
    """``GET /v2``: the JSON home document (``application/json-home``)."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = "application/json-home"
        resp.text = json.dumps(JSON_HOME, indent=4)


class Healthcheck:
    """``/healthcheck``: ``OK`` unless an operator disabled it with a file."""

    def __init__(self, disable_file: Path = HEALTHCHECK_DISABLE_FILE) -> None:
        self.disable_file = disable_file

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        disabled = self.disable_file.exists()
        reason = "DISABLED BY FILE" if disabled else "OK"
        resp.status = falcon.HTTP_503 if disabled else falcon.HTTP_200
        if "application/json" in (req.accept or ""):
            resp.media = {"detailed": False, "reasons": [reason]}
        else:
            resp.content_type = falcon.MEDIA_TEXT
            resp.text = reason

    def on_head(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.status = falcon.HTTP_503 if self.disable_file.exists() else falcon.HTTP_204
