"""The restore action: pick the chain for the date, apply its levels in order.

Each level's data is fetched ahead in parallel, checked segment by segment
against the checksums recorded at backup time, decrypted (the format is told
by the data itself) and decompressed before the engine sees it.
"""

from __future__ import annotations

import logging
from typing import Any

from freezer_core.actions.common import (
    catalog_for,
    counting,
    decrypting,
    open_engine,
    open_mode,
    open_storage,
    passphrase_of,
    read_metadata,
    result_record,
)
from freezer_core.catalog import parse_date
from freezer_core.errors import IntegrityError
from freezer_core.models import Action
from freezer_core.pipeline import apply, read_ahead
from freezer_core.pipeline.compression import COMPRESSIONS, decompressor
from freezer_core.pipeline.transfer import Segment, download

LOG = logging.getLogger("freezer.restore")


def run(action: Action, progress: Any = None) -> dict[str, Any]:
    storage = open_storage(action)
    engine = open_engine(action)
    mode = open_mode(action)
    passphrase = passphrase_of(action)
    date = parse_date(action.restore_from_date) if action.restore_from_date else None
    try:
        chain = catalog_for(action, storage).restore_chain(date)
        metas = [read_metadata(storage, ref) for ref in chain]
        total = sum(int(m.get("stored_size") or storage.size(r.data_name) or 0)
                    for r, m in zip(chain, metas, strict=True))
        tally = [0]
        with mode.restoring() as target:
            for ref, meta in zip(chain, metas, strict=True):
                compression = meta.get("compression") or "gzip"
                if compression not in COMPRESSIONS:
                    raise IntegrityError(f"{ref.metadata_name} names an unknown compression {compression!r}")
                segments = [Segment.from_dict(s) for s in meta["segments"]] if "segments" in meta else None
                LOG.info("restoring level %d (%s) into %s", ref.level, ref.data_dir, target)
                chunks = download(storage, ref.data_name, segments, segment_size=action.max_segment_size)
                plain = decrypting(counting(chunks, progress, total, tally), passphrase,
                                   f"backup level {ref.level}")
                engine.restore(read_ahead(apply(plain, decompressor(compression))), target, ref.level)
    finally:
        storage.close()
    newest = chain[-1]
    return result_record(action, curr_backup_level=newest.level, time_stamp=newest.ts,
                         restore_abs_path=str(target), restored_levels=[r.level for r in chain])
