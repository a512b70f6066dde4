"""Results collected flat, as the platform does: every task's top-level result files in
one folder, prefixed like a platform might, a name two tasks share renamed (or failing)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Collection
from pathlib import Path

from .._copy import link_or_copy
from .._names import NAME_MAX, is_utf8, shown_name
from .._staging import STAGING_PREFIX
from ..chunks import parse_result_name
from ..errors import JobFailed
from ._state import JobState

__all__ = ["collect"]


def collect(job: JobState) -> Path:
    """All tasks' top-level result files into one flat folder, as the platform does."""
    flat = job.root / "results"
    flat.mkdir()
    taken: dict[str, int] = {}
    uncommitted = False
    for task in job.tasks:
        assert task.results_dir is not None
        _materialize_links(task.results_dir)
        for entry in sorted(task.results_dir.iterdir()):
            if entry.name.startswith(STAGING_PREFIX) and entry.is_dir():
                # Left by an app that ended without the library's commit: os._exit(), which
                # skips the return into main.run(), or a thread that ended the process.
                uncommitted = True
                job.events.setdefault("warnings", []).append(
                    f"task {task.chunk}: exited with code 0 before its results were "
                    f"committed ({entry.name!r}, the library's staging folder, is left): they "
                    "are lost, as on the platform; os._exit() skips the commit main.run() "
                    "makes, so return from the app function or call sys.exit() instead"
                )
                continue
            if not entry.is_file():
                job.events.setdefault("warnings", []).append(
                    f"task {task.chunk}: {entry.name!r} is not a file; "
                    "only top-level files are results"
                )
                continue
            name = entry.name
            if not is_utf8(name):
                # Object stores name files in UTF-8, and so does the report (JSON).
                raise JobFailed(
                    f"task {task.chunk}: result {shown_name(name)} is not named in valid UTF-8"
                )
            if job.options.prefix_results:
                name = (
                    hashlib.blake2s(f"{job.id}/{task.chunk}".encode()).hexdigest()[:8] + "_" + name
                )
            if name in taken:
                if job.options.on_collision == "fail":
                    raise JobFailed(
                        f"task {task.chunk}: result {name!r} collides with task {taken[name]}'s"
                    )
                renamed = _free_name(taken, name, task.chunk)
                job.collisions.append(
                    {
                        "chunk": task.chunk,
                        "name": name,
                        "renamedTo": renamed,
                        "firstChunk": taken[name],
                    }
                )
                name = renamed
            size = len(name.encode("utf-8"))
            if size > NAME_MAX:
                # Prefixed or renamed past the limit: no file could take that name.
                raise JobFailed(
                    f"task {task.chunk}: result {shown_name(entry.name)} would be collected as "
                    f"{shown_name(name)}, which is {size} bytes in UTF-8, over the "
                    f"{NAME_MAX}-byte file-name limit; keep result names shorter"
                )
            taken[name] = task.chunk
            entry.replace(flat / name)
            task.results.append(name)
    if not taken and not uncommitted:
        # Every task succeeded and none wrote a file: most often an app script that defines
        # its entry point but never runs it.
        job.events.setdefault("warnings", []).append(
            f"app: none of the {len(job.tasks)} task(s) wrote a result; does the app's "
            "entrypoint call main.run() (under if __name__ == '__main__')?"
        )
    return flat


def _materialize_links(folder: Path) -> None:
    """Each symbolic link to a file in ``folder`` replaced by that file (hard-linked or
    copied), all before any result moves: the platform uploads a result's bytes, and the
    link may name a file in the task folder (gone while the assembler runs) or one beside
    it, which the move and a collision rename would swap for another task's file."""
    # scandir's entry types cost no system call: only links are looked at further.
    with os.scandir(folder) as entries:
        links = [Path(e.path) for e in entries if e.is_symlink() and e.is_file()]
    targets = [link.resolve() for link in links]
    for number, (link, target) in enumerate(zip(links, targets, strict=True)):
        # Made beside the results folder, where no result's name can be taken.
        partial = folder.parent / f"link-{number}.partial"
        link_or_copy(target, partial)
        partial.replace(link)


def _free_name(taken: Collection[str], name: str, chunk: int) -> str:
    # The names collected so far, not the folder: a name past the limit cannot be looked up.
    parsed = parse_result_name(name)
    stem, dot, ext = name.partition(".") if parsed.index is None else (name, "", "")
    candidate = f"{stem}~task{chunk}{dot}{ext}"
    n = 2
    while candidate in taken:
        candidate = f"{stem}~task{chunk}-{n}{dot}{ext}"
        n += 1
    return candidate
