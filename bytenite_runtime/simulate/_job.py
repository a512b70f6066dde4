"""Run a whole job the way the platform does: partitioner, parallel tasks with retries and
timeouts, flat result collection, assembler, delivery; and record it all in a report.

Here: the stages in order (the partitioner's and the assembler's in full) and the
report. The tasks run in :mod:`._tasks`, their results are collected in
:mod:`._collect`, and what every stage shares (folders, limits, environments, logs) is
the :mod:`._state` the job is built on.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import orjson

from ..chunks import chunk_files, chunk_index_of
from ..errors import ByteniteError, ConfigError, JobFailed, ResourceError, listed
from ..settings import assembler_environment, partitioner_environment
from ._collect import collect
from ._destination import deliver
from ._options import JobOptions, JobPlan, Stop
from ._report import Progress, iso, span
from ._shared_cache import listing
from ._sources import fetch_source, os_reason
from ._state import JobState
from ._tasks import run_tasks

__all__ = ["run_job"]


class _Job(JobState):
    """The stages, in the order the platform runs them, and the whole job."""

    # -- stages ---------------------------------------------------------------

    def partition(self) -> list[Path]:
        source_dir, chunks_dir = self.root / "source", self.root / "chunks"
        source_dir.mkdir()
        chunks_dir.mkdir()
        fetch_source(self.plan.template.data_source, source_dir, self.plan.base_dir, stop=self.stop)
        contract = partitioner_environment(
            source_dir, chunks_dir, self.plan.template.params.partitioner, self.shared_cache()
        )
        self._single(self.plan.partitioner, "partitioner", contract)
        # Every file becomes a task; data_<i>.bin in index order, anything else after.
        found = chunk_files(chunks_dir)
        chunks, nested = found.tasks, found.nested
        # The contract names chunks data_<i>.bin in CHUNKS_DIR and is silent on subfolders:
        # a file there is not a task here, and may not be one on the platform either, so
        # it is named rather than dropped in silence (as a task's nested results are).
        if nested:
            self._warn(
                "partitioner",
                f"{listed([repr(f'CHUNKS_DIR/{n}') for n in nested], 5)}: in a subfolder of "
                "CHUNKS_DIR, so not a task; "
                "only top-level files of CHUNKS_DIR are chunks",
            )
        if not chunks:
            hint = " (only files in subfolders, which are not chunks)" if nested else ""
            raise JobFailed(f"partitioner: wrote no chunks into CHUNKS_DIR{hint}")
        if found.odd:
            self._warn(
                "partitioner", f"files not named data_<i>.bin became tasks too: {found.odd[:5]}"
            )
        # Tasks are numbered 0…N-1 whatever the names say: a gap (or 1-based names) would
        # give a task a CHUNK_NUMBER its chunk's name does not, without a word.
        for task, chunk in enumerate(chunks):
            index = chunk_index_of(chunk.name)
            if index is not None and index != task:
                self._warn(
                    "partitioner",
                    f"chunk files are not numbered data_0.bin, data_1.bin, … without a gap: "
                    f"{chunk.name} became task {task}",
                )
                break
        return chunks

    def assemble(self, results: Path) -> Path:
        output = self.root / "output"
        output.mkdir()
        contract = assembler_environment(
            results, output, self.plan.template.params.assembler, self.shared_cache()
        )
        self._single(self.plan.assembler, "assembler", contract)
        return output

    # -- whole job ------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        created = time.time()
        _make_folder(self.user_cache(), "--user-cache")
        _make_folder(self.shared_cache(), "--shared-cache")
        _make_folder(self.logs, "--workdir")
        self.shared = listing(self.shared_cache())
        state, files = "Running", []
        cleanup: threading.Thread | None = None
        try:
            chunks = self.partition()
            self._check_shared_cache("partitioner")
            self.check_stop()
            run_tasks(self, chunks)
            self._check_shared_cache("app")
            results = collect(self)
            cleanup = self._discard_in_background(("source", "chunks", "tasks"))
            output = self.assemble(results)
            self._check_shared_cache("assembler")
            self.check_stop()
            files = deliver(
                output,
                self.destination,
                self.id,
                self.redactor.redact,
                self.check_stop,
                self.plan.overwrite,
            )
            state = "Complete"
            if self.stop.is_set():
                # Too late to undo: the output is whole where the user asked for it.
                self.events.setdefault("warnings", []).append(
                    f"job: {self.stop.reason} once its output was delivered whole; the job "
                    "is complete"
                )
        except ByteniteError as exc:
            # Bad data met mid-job (a download that fails…) fails the job like a component
            # would: a report, and no half-delivered output. A stopped job is not a failed
            # one: it is Cancelled, whatever its components said as they were stopped.
            state, self.failure = "Failed", str(exc)
            if self.stop.is_set():
                state, self.failure = "Cancelled", self.stop.reason
        finally:
            self.progress.close()
            if cleanup is not None:
                cleanup.join()
        # The report names what components chose (result names, output files, reasons
        # quoting their output): a secret there is masked as in the logs.
        report: dict[str, Any] = self.redactor.redact_all(
            self._report(state, created, time.time(), files)
        )
        # The job's own files go first: on a full disk that is what makes room for the report.
        if not self.options.keep:
            _discard([self.root / f for f in ("source", "chunks", "tasks", "results", "output")])
        path = self.root / "report.json"
        try:
            path.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
        except OSError as exc:
            path.unlink(missing_ok=True)  # half a report is not one
            outcome = f"failed: {self.failure}" if state != "Complete" else state.lower()
            raise ResourceError(
                f"job {self.id} {outcome}; its report cannot be written to {str(path)!r} "
                f"({os_reason(path, exc)})"
            ) from None
        return report

    def _discard_in_background(self, names: Sequence[str]) -> threading.Thread | None:
        """Remove folders the assembler never reads while it runs: the assembler keeps one
        core busy and leaves the rest idle, so the cleanup leaves the job's critical path
        (about 2% of a job of 200 short tasks)."""
        if self.options.keep:
            return None
        thread = threading.Thread(
            target=_discard, args=([self.root / n for n in names],), name="discard", daemon=True
        )
        thread.start()
        return thread

    def _report(
        self, state: str, created: float, finished: float, files: list[Path]
    ) -> dict[str, Any]:
        plan = self.plan
        return {
            "job": {
                "id": self.id,
                "name": plan.name,
                "state": state,
                "reason": self.failure or None,
                "createdAt": iso(created),
                **span(created, finished),
                "chunks": len(self.tasks),
                "stoppedTasks": self.stopped,
                "parallelism": self.options.parallelism,
                "template": {
                    "app": plan.app.tag,
                    "partitioner": plan.partitioner.tag,
                    "assembler": plan.assembler.tag,
                },
                "config": plan.template.config.model_dump(by_alias=True),
                "folder": str(self.root),
            },
            "partitioner": self.events.get("partitioner"),
            "tasks": [t.report() for t in self.tasks],
            "assembler": self.events.get("assembler"),
            "collisions": self.collisions,
            "warnings": self.events.get("warnings", []),
            "output": {
                "destination": plan.template.data_destination.descriptor
                if plan.template.data_destination
                else "bucket",
                "folder": str(self.destination) if self.destination else None,
                "files": [str(f) for f in files],
            },
        }


def _discard(folders: Iterable[Path]) -> None:
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def _make_folder(path: Path, option: str) -> None:
    """Create a folder the job needs; a ConfigError naming the option when it cannot be."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        # os_reason names a file in the way above the folder; mkdir's own word for a file
        # at the folder's place is only "File exists".
        reason = f"{str(path)!r} is not a folder" if path.is_file() else os_reason(path, exc)
        raise ConfigError(f"{option}: folder {str(path)!r} cannot be created ({reason})") from None


def run_job(
    plan: JobPlan,
    options: JobOptions,
    progress: Callable[[], Progress] | None = None,
    stop: Stop | None = None,
) -> dict[str, Any]:
    """Run ``plan`` and return the job report (also written to ``<job folder>/report.json``);
    ``stop``, once requested, stops the job early (state ``Cancelled``)."""
    return _Job(plan, options, progress() if progress else Progress(False), stop).run()
