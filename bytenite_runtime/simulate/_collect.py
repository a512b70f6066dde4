"""Results collected flat, as the platform does: every task's top-level result files in
one folder, prefixed like a platform might, a name two tasks share renamed (or failing)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..chunks import parse_result_name
from ..errors import JobFailed
from ._state import JobState

__all__ = ["collect"]


def collect(job: JobState) -> Path:
    """All tasks' top-level result files into one flat folder, as the platform does."""
    flat = job.root / "results"
    flat.mkdir()
    taken: dict[str, int] = {}
    for task in job.tasks:
        assert task.results_dir is not None
        for entry in sorted(task.results_dir.iterdir()):
            if not entry.is_file():
                job.events.setdefault("warnings", []).append(
                    f"task {task.chunk}: {entry.name!r} is not a file; "
                    "only top-level files are results"
                )
                continue
            name = entry.name
            if job.options.prefix_results:
                name = (
                    hashlib.blake2s(f"{job.id}/{task.chunk}".encode()).hexdigest()[:8] + "_" + name
                )
            if name in taken:
                if job.options.on_collision == "fail":
                    raise JobFailed(
                        f"task {task.chunk}: result {name!r} collides with task {taken[name]}'s"
                    )
                renamed = _free_name(flat, name, task.chunk)
                job.collisions.append(
                    {
                        "chunk": task.chunk,
                        "name": name,
                        "renamedTo": renamed,
                        "firstChunk": taken[name],
                    }
                )
                name = renamed
            taken[name] = task.chunk
            entry.replace(flat / name)
            task.results.append(name)
    return flat


def _free_name(folder: Path, name: str, chunk: int) -> str:
    parsed = parse_result_name(name)
    stem, dot, ext = name.partition(".") if parsed.index is None else (name, "", "")
    candidate = f"{stem}~task{chunk}{dot}{ext}"
    n = 2
    while (folder / candidate).exists():
        candidate = f"{stem}~task{chunk}-{n}{dot}{ext}"
        n += 1
    return candidate
