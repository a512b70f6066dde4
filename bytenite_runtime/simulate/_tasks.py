"""The app's tasks: one per chunk, ``parallelism`` at once, each retried up to
``maxTaskRetries`` times within ``taskTimeout``; a failed task cancels the others."""

from __future__ import annotations

import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..errors import JobFailed, listed
from ..settings import app_environment
from ._process import run_process
from ._report import Attempt, TaskRecord
from ._state import JobState

__all__ = ["run_tasks"]


def _run_task(job: JobState, task: TaskRecord) -> None:
    sink = job.sink(f"task-{task.chunk:05d}")
    try:
        for number in range(1, job.config.max_task_retries + 2):
            if job.halt.is_set():
                break
            attempt = Attempt(number, time.time())
            task.attempts.append(attempt)
            task.state = "Running"
            base = job.root / "tasks" / f"{task.chunk:05d}" / f"attempt-{number}"
            task_dir, results_dir = base / "task", base / "results"
            task_dir.mkdir(parents=True)
            results_dir.mkdir()
            shutil.copyfile(task.chunk_file, task_dir / "data.bin")
            contract = app_environment(
                task_dir, results_dir, job.plan.template.params.app,
                job.user_cache(), job.shared_cache(),
                task.chunk if job.options.chunk_number else None,
            )  # fmt: skip
            outcome = run_process(
                job.plan.app.command, job.env(job.plan.app, contract), job.plan.app.cwd,
                job.timeout(job.config.task_timeout), sink, number, job.halt,
                job.stop.hurry,
            )  # fmt: skip
            attempt.outcome = outcome
            if outcome.ok:
                task.state, task.results_dir = "Completed", results_dir
                return
            attempt.reason = job.reason(outcome, f"task {task.chunk}")
            if outcome.cancelled and job.stop.is_set():
                with job.lock:
                    job.stopped += 1
            if outcome.cancelled or job.past_deadline():
                break  # jobTimeout stops the job: no retry starts after it
        last = task.attempts[-1].outcome if task.attempts else None
        if job.halt.is_set() and (last is None or last.cancelled):
            # Stopped (or never started) because another task failed the job, or the
            # job was stopped: not a failure of its own.
            task.state = "Cancelled"
            return
        task.state = "Failed"
        with job.lock:
            if not job.failure and task.attempts:
                tries = len(task.attempts)
                job.failure = (
                    f"{task.attempts[-1].reason} (after {tries} attempt{'s' * (tries > 1)})"
                )
            job.cancel.set()
    finally:
        sink.close()
        if sink.showed_secret:
            with job.lock:
                job.showed_secret.append(task.chunk)


def run_tasks(job: JobState, chunks: list[Path]) -> None:
    """One task per chunk; JobFailed once one fails for good, the job is stopped or its
    ``jobTimeout`` is past."""
    job.tasks = [TaskRecord(i, path) for i, path in enumerate(chunks)]
    done = failed = 0
    total = len(job.tasks)

    running = 0

    def one(task: TaskRecord) -> None:
        nonlocal done, failed, running
        with job.lock:
            running += 1
            job.progress.update(done, failed, total, running)
        _run_task(job, task)
        with job.lock:
            running -= 1
            done += task.state == "Completed"
            failed += task.state == "Failed"
            job.progress.update(done, failed, total, running)

    job.progress.update(0, 0, total, 0)
    with ThreadPoolExecutor(max_workers=job.options.parallelism) as pool:
        list(pool.map(one, job.tasks))
    if job.showed_secret:
        shown = [str(i) for i in sorted(job.showed_secret)]
        job.warn_secret_shown("app", f"task{'s' * (len(shown) > 1)} {listed(shown, 5)}")
    job.stop_orphans("app")
    job.check_stop()
    if job.failure:
        raise JobFailed(job.failure)
    if job.past_deadline():
        raise JobFailed(f"jobTimeout of {job.config.job_timeout:g}s exceeded")
