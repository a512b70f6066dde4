"""Run a whole job the way the platform does: partitioner, parallel tasks with retries and
timeouts, flat result collection, assembler, delivery; and record it all in a report."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from .._log import Redactor
from ..chunks import chunk_index_of, parse_result_name
from ..errors import ByteniteError, ConfigError, JobFailed, listed
from ..settings import (
    CONTRACT_VARIABLES,
    app_environment,
    assembler_environment,
    partitioner_environment,
    secret_environment,
    secret_variable_names,
)
from ._process import Flag, LogSink, Outcome, run_process
from ._report import Attempt, Progress, TaskRecord, iso, span
from ._request import Template
from ._resolve import Component
from ._shared_cache import Listing, changes, listing
from ._sources import deliver, fetch_source, os_reason

__all__ = ["JobOptions", "JobPlan", "Stop", "run_job"]

# What a container's process needs to start at all; every other variable of the caller
# stays out, contract variables above all.
_BASE_VARIABLES = (
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR",
    "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "CONDA_PREFIX", "SYSTEMROOT",
)  # fmt: skip


@dataclass(frozen=True)
class JobPlan:
    """Everything resolved before a job starts."""

    name: str
    template: Template
    partitioner: Component
    app: Component
    assembler: Component
    base_dir: Path
    destination: Path | None
    """Output folder; None discards output (bypass); a final ``{job}`` becomes the job id."""
    warnings: tuple[str, ...] = ()
    """Found while planning (unknown fields of the request); the report lists them."""


@dataclass(frozen=True)
class JobOptions:
    """How to run: parallelism, folders, and the platform behaviours one may vary."""

    workdir: Path
    parallelism: int = max(1, os.cpu_count() or 1)
    chunk_number: bool = True
    prefix_results: bool = False
    on_collision: str = "rename"
    user_cache: Path | None = None
    shared_cache: Path | None = None
    secrets: Mapping[str, str | tuple[str, str]] = field(default_factory=dict)
    pass_env: Sequence[str] = ()
    keep: bool = False


class Stop:
    """A request from outside the job (a signal handler) to stop it: no task starts after
    it, running components are stopped as ``jobTimeout`` stops them, nothing is delivered,
    and the job ends ``Cancelled`` with ``reason``. A second request kills the running
    components at once, without their grace for cleaning up. Requesting only stores
    values, so a signal handler may do it at any moment."""

    def __init__(self) -> None:
        self.reason = ""
        self.hurry = _Hurry()

    def request(self, reason: str) -> None:
        if self.reason:
            self.hurry.requested = True
        else:
            self.reason = reason

    def is_set(self) -> bool:
        return bool(self.reason)


class _Hurry:
    """Set by a second stop request."""

    def __init__(self) -> None:
        self.requested = False

    def is_set(self) -> bool:
        return self.requested


class _Either:
    """Set when any of ``flags`` is."""

    def __init__(self, *flags: Flag) -> None:
        self.flags = flags

    def is_set(self) -> bool:
        return any(flag.is_set() for flag in self.flags)


class _Job:
    def __init__(
        self, plan: JobPlan, options: JobOptions, progress: Progress, stop: Stop | None = None
    ) -> None:
        self.plan = plan
        self.options = options
        self.progress = progress
        self.config = plan.template.config
        self.id = "job-" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + os.urandom(3).hex()
        self.root = options.workdir / self.id
        self.logs = self.root / "logs"
        self.redactor = Redactor(
            v
            for value in options.secrets.values()
            for v in (value if isinstance(value, tuple) else (value,))
        )
        self.cancel = threading.Event()
        self.stop = stop or Stop()
        self.halt = _Either(self.cancel, self.stop)
        self.stopped = 0
        self.deadline = (
            None if self.config.job_timeout is None else time.time() + self.config.job_timeout
        )
        self.failure = ""
        self.tasks: list[TaskRecord] = []
        self.events: dict[str, Any] = {"warnings": list(plan.warnings)} if plan.warnings else {}
        self.collisions: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.shared: Listing | None = None
        destination = plan.destination
        if destination is not None and destination.name == "{job}":
            destination = destination.with_name(self.id)
        self.destination = destination

    # -- environment ----------------------------------------------------------

    def _env(self, component: Component, contract: Mapping[str, str]) -> dict[str, str]:
        hidden = set(CONTRACT_VARIABLES)
        for secret_id in self.options.secrets:
            hidden.update(secret_variable_names(secret_id))
        wanted = (*_BASE_VARIABLES, *self.options.pass_env)
        env = {k: os.environ[k] for k in wanted if k in os.environ and k not in hidden}
        env.update({k: v for k, v in os.environ.items() if k.startswith("LC_")})
        declared = {
            i: self.options.secrets[i] for i in component.secret_ids if i in self.options.secrets
        }
        env.update(secret_environment(declared))
        env.update(contract)
        return env

    def _warn(self, component: str, message: str) -> None:
        """Record a warning of the simulator's about ``component`` in the report and in the
        component's log (the app's tasks have one log each: the report only)."""
        self.events.setdefault("warnings", []).append(f"{component}: {message}")
        if component == "app":
            return
        sink = self._sink(component)
        try:
            sink.write("simulate", f"warning: {message}".encode(), None)
        finally:
            sink.close()

    def _check_shared_cache(self, component: str) -> None:
        """Warn when ``component`` (the stage just run) wrote to SHARED_CACHE_DIR."""
        if self.shared is None:
            return
        now = listing(self._shared_cache())
        found = [] if now is None else changes(self.shared, now)
        self.shared = now
        if found:
            self._warn(
                component,
                f"wrote to SHARED_CACHE_DIR, read-only on the platform, where the write "
                f"fails: {listed(found, 5)}",
            )

    def _past_deadline(self) -> bool:
        return self.deadline is not None and time.time() >= self.deadline

    def _timeout(self, limit: float | None) -> float | None:
        remaining = None if self.deadline is None else max(0.0, self.deadline - time.time())
        if limit is None:
            return remaining
        return limit if remaining is None else min(limit, remaining)

    def _sink(self, name: str) -> LogSink:
        return LogSink(self.logs / f"{name}.jsonl", name, self.redactor.redact)

    def _single(self, component: Component, name: str, contract: Mapping[str, str]) -> Outcome:
        sink = self._sink(name)
        try:
            outcome = run_process(
                component.command, self._env(component, contract), component.cwd,
                self._timeout(None), sink, None, self.stop, self.stop.hurry,
            )  # fmt: skip
        finally:
            sink.close()
        self.events[name] = {
            "state": "Completed" if outcome.ok else "Cancelled" if outcome.cancelled else "Failed",
            **span(outcome.started, outcome.finished),
            "exitCode": outcome.exit_code,
            "log": str(sink.path),
        }
        if not outcome.ok:
            reason = self._reason(outcome, name)
            self.events[name]["reason"] = reason
            raise JobFailed(reason)
        return outcome

    def _reason(self, outcome: Outcome, name: str) -> str:
        if outcome.timed_out:
            if self._past_deadline():
                return f"{name}: jobTimeout of {self.config.job_timeout:g}s exceeded"
            return f"{name}: taskTimeout of {self.config.task_timeout:g}s exceeded"
        if outcome.cancelled:
            if self.stop.is_set():
                return f"{name}: stopped, job {self.stop.reason}"
            return f"{name}: cancelled because the job failed"
        detail = f": {outcome.last_error}" if outcome.last_error else ""
        return f"{name}: exited with code {outcome.exit_code}{detail}"

    # -- stages ---------------------------------------------------------------

    def partition(self) -> list[Path]:
        source_dir, chunks_dir = self.root / "source", self.root / "chunks"
        source_dir.mkdir()
        chunks_dir.mkdir()
        fetch_source(self.plan.template.data_source, source_dir, self.plan.base_dir, stop=self.stop)
        contract = partitioner_environment(
            source_dir, chunks_dir, self.plan.template.params.partitioner, self.options.shared_cache
        )
        self._single(self.plan.partitioner, "partitioner", contract)
        chunks = [p for p in chunks_dir.iterdir() if p.is_file()]
        # The contract names chunks data_<i>.bin in CHUNKS_DIR and is silent on subfolders:
        # a file there is not a task here, and may not be one on the platform either, so
        # it is named rather than dropped in silence (as a task's nested results are).
        nested = sorted(
            p.relative_to(chunks_dir).as_posix()
            for p in chunks_dir.rglob("*")
            if p.parent != chunks_dir and p.is_file()
        )
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
        odd = [p.name for p in chunks if chunk_index_of(p.name) is None]
        if odd:
            self._warn("partitioner", f"files not named data_<i>.bin became tasks too: {odd[:5]}")
        # Every file becomes a task; data_<i>.bin in index order, anything else after.
        chunks.sort(
            key=lambda p: (chunk_index_of(p.name) is None, chunk_index_of(p.name) or 0, p.name)
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

    def run_task(self, task: TaskRecord) -> None:
        sink = self._sink(f"task-{task.chunk:05d}")
        try:
            for number in range(1, self.config.max_task_retries + 2):
                if self.halt.is_set():
                    break
                attempt = Attempt(number, time.time())
                task.attempts.append(attempt)
                task.state = "Running"
                base = self.root / "tasks" / f"{task.chunk:05d}" / f"attempt-{number}"
                task_dir, results_dir = base / "task", base / "results"
                task_dir.mkdir(parents=True)
                results_dir.mkdir()
                shutil.copyfile(task.chunk_file, task_dir / "data.bin")
                contract = app_environment(
                    task_dir, results_dir, self.plan.template.params.app,
                    self._user_cache(), self._shared_cache(),
                    task.chunk if self.options.chunk_number else None,
                )  # fmt: skip
                outcome = run_process(
                    self.plan.app.command, self._env(self.plan.app, contract), self.plan.app.cwd,
                    self._timeout(self.config.task_timeout), sink, number, self.halt,
                    self.stop.hurry,
                )  # fmt: skip
                attempt.outcome = outcome
                if outcome.ok:
                    task.state, task.results_dir = "Completed", results_dir
                    return
                attempt.reason = self._reason(outcome, f"task {task.chunk}")
                if outcome.cancelled and self.stop.is_set():
                    with self.lock:
                        self.stopped += 1
                if outcome.cancelled or self._past_deadline():
                    break  # jobTimeout stops the job: no retry starts after it
            last = task.attempts[-1].outcome if task.attempts else None
            if self.halt.is_set() and (last is None or last.cancelled):
                # Stopped (or never started) because another task failed the job, or the
                # job was stopped: not a failure of its own.
                task.state = "Cancelled"
                return
            task.state = "Failed"
            with self.lock:
                if not self.failure and task.attempts:
                    tries = len(task.attempts)
                    self.failure = (
                        f"{task.attempts[-1].reason} (after {tries} attempt{'s' * (tries > 1)})"
                    )
                self.cancel.set()
        finally:
            sink.close()

    def run_tasks(self, chunks: list[Path]) -> None:
        self.tasks = [TaskRecord(i, path) for i, path in enumerate(chunks)]
        done = failed = 0
        total = len(self.tasks)

        running = 0

        def one(task: TaskRecord) -> None:
            nonlocal done, failed, running
            with self.lock:
                running += 1
                self.progress.update(done, failed, total, running)
            self.run_task(task)
            with self.lock:
                running -= 1
                done += task.state == "Completed"
                failed += task.state == "Failed"
                self.progress.update(done, failed, total, running)

        self.progress.update(0, 0, total, 0)
        with ThreadPoolExecutor(max_workers=self.options.parallelism) as pool:
            list(pool.map(one, self.tasks))
        self._check_stop()
        if self.failure:
            raise JobFailed(self.failure)
        if self._past_deadline():
            raise JobFailed(f"jobTimeout of {self.config.job_timeout:g}s exceeded")

    def _check_stop(self) -> None:
        if self.stop.is_set():
            raise JobFailed(self.stop.reason)

    def collect(self) -> Path:
        """All tasks' top-level result files into one flat folder, as the platform does."""
        flat = self.root / "results"
        flat.mkdir()
        taken: dict[str, int] = {}
        for task in self.tasks:
            assert task.results_dir is not None
            for entry in sorted(task.results_dir.iterdir()):
                if not entry.is_file():
                    self.events.setdefault("warnings", []).append(
                        f"task {task.chunk}: {entry.name!r} is not a file; "
                        "only top-level files are results"
                    )
                    continue
                name = entry.name
                if self.options.prefix_results:
                    name = (
                        hashlib.blake2s(f"{self.id}/{task.chunk}".encode()).hexdigest()[:8]
                        + "_"
                        + name
                    )
                if name in taken:
                    if self.options.on_collision == "fail":
                        raise JobFailed(
                            f"task {task.chunk}: result {name!r} collides with task {taken[name]}'s"
                        )
                    renamed = _free_name(flat, name, task.chunk)
                    self.collisions.append(
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

    def assemble(self, results: Path) -> Path:
        output = self.root / "output"
        output.mkdir()
        contract = assembler_environment(
            results, output, self.plan.template.params.assembler, self.options.shared_cache
        )
        self._single(self.plan.assembler, "assembler", contract)
        return output

    def _user_cache(self) -> Path:
        return self.options.user_cache or self.root / "cache" / "user"

    def _shared_cache(self) -> Path:
        return self.options.shared_cache or self.root / "cache" / "shared"

    # -- whole job ------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        created = time.time()
        _make_folder(self._user_cache(), "--user-cache")
        _make_folder(self._shared_cache(), "--shared-cache")
        _make_folder(self.logs, "--workdir")
        self.shared = listing(self._shared_cache())
        state, files = "Running", []
        cleanup: threading.Thread | None = None
        try:
            chunks = self.partition()
            self._check_shared_cache("partitioner")
            self._check_stop()
            self.run_tasks(chunks)
            self._check_shared_cache("app")
            results = self.collect()
            cleanup = self._discard_in_background(("source", "chunks", "tasks"))
            output = self.assemble(results)
            self._check_shared_cache("assembler")
            self._check_stop()
            files = deliver(output, self.destination)
            state = "Complete"
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
        report: dict[str, Any] = _redacted(
            self._report(state, created, time.time(), files), self.redactor
        )
        (self.root / "report.json").write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
        if not self.options.keep:
            _discard([self.root / f for f in ("source", "chunks", "tasks", "results", "output")])
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


def _redacted(value: Any, redactor: Redactor) -> Any:
    """``value`` (JSON-like) with every string in it redacted."""
    if isinstance(value, str):
        return redactor.redact(value)
    if isinstance(value, dict):
        return {key: _redacted(item, redactor) for key, item in value.items()}
    if isinstance(value, list):
        return [_redacted(item, redactor) for item in value]
    return value


def _discard(folders: Iterable[Path]) -> None:
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def _free_name(folder: Path, name: str, chunk: int) -> str:
    parsed = parse_result_name(name)
    stem, dot, ext = name.partition(".") if parsed.index is None else (name, "", "")
    candidate = f"{stem}~task{chunk}{dot}{ext}"
    n = 2
    while (folder / candidate).exists():
        candidate = f"{stem}~task{chunk}-{n}{dot}{ext}"
        n += 1
    return candidate


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
