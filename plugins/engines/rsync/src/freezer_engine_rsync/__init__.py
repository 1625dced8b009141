"""Freezer's rsync engine: block-level incremental backups with a real rolling match.

Level 0 stores every file whole with its metadata; each higher level stores,
for the files that changed, a delta against the previous level's block
signatures (found with a rolling weak checksum confirmed by a strong hash),
plus new files whole and the paths that were deleted.  The stream format is
our own and versioned (docs/rsync-engine.md); the core compresses and
encrypts it like any engine's.
"""

from __future__ import annotations

from freezer_engine_rsync.engine import RsyncEngine

__all__ = ["RsyncEngine"]
