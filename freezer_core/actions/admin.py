"""The admin action: remove old backups, chain by chain.

A chain (a level 0 and its increments) is removed only when every backup in
it is older than the cutoff: nothing newer than the cutoff is ever deleted,
and no kept increment ever loses its parent.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from freezer_core.actions.common import catalog_for, open_storage, result_record
from freezer_core.catalog import days_ago, format_date, parse_date
from freezer_core.models import Action

LOG = logging.getLogger("freezer.admin")


def cutoff_of(action: Action, now: int) -> int:
    if action.remove_older_than is not None and action.remove_older_than != "":
        return days_ago(float(action.remove_older_than), now)
    if action.remove_before_date:
        return parse_date(action.remove_before_date, "--remove-before-date")
    return parse_date(action.remove_from_date, "--remove-from-date")


def run(action: Action, progress: Any = None) -> dict[str, Any]:
    storage = open_storage(action)
    try:
        catalog = catalog_for(action, storage)
        cutoff = cutoff_of(action, int(time.time()))
        chains = catalog.removable(cutoff)
        removed = []
        for chain in chains:
            LOG.info("removing chain %s (%d backups, newest %s)", chain.level0_ts, len(chain.backups),
                     format_date(chain.newest_ts))
            if not action.dry_run:
                catalog.remove(chain)
            removed.extend({"level": b.level, "time_stamp": b.ts} for b in chain.backups)
    finally:
        storage.close()
    return result_record(action, remove_cutoff=format_date(cutoff), removed_backups=removed)
