"""Writes to ``SHARED_CACHE_DIR``, read-only on the platform, found after each stage.

The simulator cannot make the folder read-only for its components (a root user writes
through any mode, and changing the user's modes would outlive a killed simulator), so it
lists the folder before the job and compares after each stage: a write that fails on the
platform is named, with the stage that made it, instead of passing unseen.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["Listing", "changes", "listing"]

_LIMIT = 100_000
"""Entries above which the folder is not watched: listing it after each stage would cost
more than the warning is worth."""

Listing = dict[str, tuple[int, int]]
"""Relative path (folders end in ``/``) to size and modification time (0, 0 for folders,
whose times change with their entries)."""


def listing(root: Path) -> Listing | None:
    """Every entry under ``root``, or None when there are more than ``_LIMIT``."""
    found: Listing = {}
    pending = [root]
    while pending:
        folder = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            relative = Path(entry.path).relative_to(root).as_posix()
            try:
                if entry.is_dir(follow_symlinks=False):
                    found[relative + "/"] = (0, 0)
                    pending.append(Path(entry.path))
                else:
                    status = entry.stat(follow_symlinks=False)
                    found[relative] = (status.st_size, status.st_mtime_ns)
            except OSError:
                continue
        if len(found) > _LIMIT:
            return None
    return found


def changes(before: Listing, after: Listing) -> list[str]:
    """What differs, as ``'path' created``, ``changed`` or ``removed``, sorted by path."""
    found = [(p, "created") for p in after.keys() - before.keys()]
    found += [(p, "removed") for p in before.keys() - after.keys()]
    found += [(p, "changed") for p in before.keys() & after.keys() if before[p] != after[p]]
    return [f"{path!r} {what}" for path, what in sorted(found)]
