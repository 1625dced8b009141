"""The info action: what a storage holds, per backup name.

Works the same on every storage because it uses only the storage contract:
names, levels, chains, sizes and object counts.
"""

from __future__ import annotations

from typing import Any

from freezer_core.actions.common import open_storage
from freezer_core.catalog import Catalog, format_date, list_backup_names
from freezer_core.models import Action


def run(action: Action, progress: Any = None) -> dict[str, Any]:
    storage = open_storage(action)
    try:
        backups = []
        for engine, prefix in list_backup_names(storage):
            chains = Catalog(storage, engine, prefix).chains()
            objects = [o for root in ("data", "metadata")
                       for o in storage.walk(f"{root}/{engine}/{prefix}")]
            backups.append({
                "backup_name": prefix,
                "engine_name": engine,
                "chains": len(chains),
                "backups": sum(len(c.backups) for c in chains),
                "latest": format_date(max(c.newest_ts for c in chains)) if chains else "",
                "size": sum(o.size for o in objects),
                "objects": len(objects),
            })
        total = [o for o in storage.walk()]
    finally:
        storage.close()
    return {
        "action": "info", "storage": action.storage, "container": action.container,
        "size": sum(o.size for o in total), "objects": len(total), "backups": backups,
    }
