"""glance mode: names the image; the glance engine does the streaming.

The mode resolves ``--glance-image-id`` / ``--glance-image-name`` to one
active image before anything is written, so a wrong id fails fast with one
line, and shares its lazily made connection with the engine.  A restore
creates a new image, so the mode gives the engine only a scratch directory.
``--project-id`` alone names every active image that project owns (the
engine writes one backup holding them all).
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from freezer_openstack import Cloud, OpenStackError, check
from freezer_openstack.images import find_image

from freezer_core.contract import Mode, Options, Source

__all__ = ["GlanceMode"]

LOG = logging.getLogger("freezer.mode.glance")


class GlanceMode(Mode):
    name = "glance"

    @classmethod
    def preferred_engine(cls, options: Options) -> str | None:
        return "glance"

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self.cloud = Cloud(options)

    @contextlib.contextmanager
    def prepare(self) -> Iterator[Source]:
        project_id = self.options.get("project_id")
        if project_id and not (self.options.get("glance_image_id") or self.options.get("glance_image_name")):
            try:
                images = self._project_images(str(project_id))
                LOG.info("backing up the %d images of project %s", len(images), project_id)
                yield Source(None, resource_id=str(project_id), extra={"cloud": self.cloud, "project_images": images})
            finally:
                self.cloud.close()
            return
        try:
            image = find_image(self.cloud, self.options.get("glance_image_id"), self.options.get("glance_image_name"))
            if image.get("status") != "active":
                raise OpenStackError(f"image {image['id']} is {image.get('status')}, not active: nothing to back up")
            yield Source(None, resource_id=image["id"], extra={"cloud": self.cloud, "image": image})
        finally:
            self.cloud.close()

    def _project_images(self, project_id: str) -> list[dict[str, Any]]:
        images: list[dict[str, Any]] = []
        url: str | None = "/images"
        params: dict[str, Any] | None = {"owner": project_id, "status": "active", "limit": 100}
        while url:
            page = check(self.cloud.conn.image.get(url, params=params, raise_exc=False),
                         f"listing the images of project {project_id}").json()
            images += page.get("images", [])
            nxt = page.get("next")
            url, params = (nxt.removeprefix("/v2"), None) if nxt else (None, None)
        if not images:
            raise OpenStackError(f"project {project_id} owns no active image to back up: check --project-id")
        return sorted(images, key=lambda i: str(i["id"]))

    @contextlib.contextmanager
    def restoring(self) -> Iterator[Path]:
        with tempfile.TemporaryDirectory(prefix="freezer-glance-") as scratch:
            yield Path(scratch)
