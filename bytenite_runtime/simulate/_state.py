"""What a running job holds, and the helpers its stages share: each component's
environment, its log, the time left before ``jobTimeout``, and why a process failed."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .._log import Redactor
from ..errors import JobFailed, listed
from ..settings import CONTRACT_VARIABLES, secret_environment, secret_variable_names
from ._logsink import LogSink
from ._options import JobOptions, JobPlan, Stop
from ._orphans import stop_orphans
from ._process import Flag, Outcome, run_process
from ._report import Progress, TaskRecord, span
from ._resolve import Component
from ._shared_cache import Listing, changes, listing

__all__ = ["JobState"]

# What a container's process needs to start at all; every other variable of the caller
# stays out, contract variables above all.
_BASE_VARIABLES = (
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR",
    "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "CONDA_PREFIX", "SYSTEMROOT",
)  # fmt: skip


def _ended(outcome: Outcome) -> str:
    """How a process ended: a kill by a signal (a crash, the kernel's OOM killer) is named
    as such, its exit code of 128 + N being no code the component chose."""
    if outcome.killed_by is None:
        return f"exited with code {outcome.exit_code}"
    try:
        return f"was killed by {signal.Signals(outcome.killed_by).name}"
    except ValueError:
        return f"was killed by signal {outcome.killed_by}"


class _Either:
    """Set when any of ``flags`` is."""

    def __init__(self, *flags: Flag) -> None:
        self.flags = flags

    def is_set(self) -> bool:
        return any(flag.is_set() for flag in self.flags)


class JobState:
    """One job's identity, folders, limits and records, shared by its stages."""

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
        self.showed_secret: list[int] = []  # the tasks that printed a secret's value
        self.lock = threading.Lock()
        self.shared: Listing | None = None
        destination = plan.destination
        if destination is not None and destination.name == "{job}":
            destination = destination.with_name(self.id)
        self.destination = destination

    def env(self, component: Component, contract: Mapping[str, str]) -> dict[str, str]:
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
        sink = self.sink(component)
        try:
            sink.write("simulate", f"warning: {message}".encode(), None)
        finally:
            sink.close()

    def warn_secret_shown(self, component: str, who: str) -> None:
        """Warn that ``who`` printed a secret's value, which only these logs mask."""
        self._warn(
            component,
            f"{who} printed the value of a secret, masked as *** in these logs but shown as "
            "it is in the platform's: log it through ctx.log, which masks secrets, or not at "
            "all",
        )

    def _check_shared_cache(self, component: str) -> None:
        """Warn when ``component`` (the stage just run) wrote to SHARED_CACHE_DIR."""
        if self.shared is None:
            return
        now = listing(self.shared_cache())
        found = [] if now is None else changes(self.shared, now)
        self.shared = now
        if found:
            self._warn(
                component,
                f"wrote to SHARED_CACHE_DIR, read-only on the platform, where the write "
                f"fails: {listed(found, 5)}",
            )

    def stop_orphans(self, component: str) -> None:
        """Kill what ``component`` (the stage just run) left running in sessions of its own,
        as the end of its container would."""
        if self.options.stop_orphans and (count := stop_orphans()):
            self._warn(
                component,
                f"{count} process(es) it started in a session of their own still ran after "
                "it ended; killed, as the end of its container would kill them",
            )

    def past_deadline(self) -> bool:
        return self.deadline is not None and time.time() >= self.deadline

    def timeout(self, limit: float | None) -> float | None:
        remaining = None if self.deadline is None else max(0.0, self.deadline - time.time())
        if limit is None:
            return remaining
        return limit if remaining is None else min(limit, remaining)

    def sink(self, name: str) -> LogSink:
        return LogSink(self.logs / f"{name}.jsonl", name, self.redactor)

    def _single(self, component: Component, name: str, contract: Mapping[str, str]) -> Outcome:
        sink = self.sink(name)
        try:
            outcome = run_process(
                component.command, self.env(component, contract), component.cwd,
                self.timeout(None), sink, None, self.stop, self.stop.hurry,
            )  # fmt: skip
        finally:
            sink.close()
        if sink.showed_secret:
            self.warn_secret_shown(name, "it")
        self.stop_orphans(name)
        self.events[name] = {
            "state": "Completed" if outcome.ok else "Cancelled" if outcome.cancelled else "Failed",
            **span(outcome.started, outcome.finished),
            "exitCode": outcome.exit_code,
            "log": str(sink.path),
        }
        if not outcome.ok:
            reason = self.reason(outcome, name)
            self.events[name]["reason"] = reason
            raise JobFailed(reason)
        return outcome

    def reason(self, outcome: Outcome, name: str) -> str:
        if outcome.timed_out:
            if self.past_deadline():
                return f"{name}: jobTimeout of {self.config.job_timeout:g}s exceeded"
            return f"{name}: taskTimeout of {self.config.task_timeout:g}s exceeded"
        if outcome.cancelled:
            if self.stop.is_set():
                return f"{name}: stopped, job {self.stop.reason}"
            return f"{name}: cancelled because the job failed"
        detail = f": {outcome.last_error}" if outcome.last_error else ""
        return f"{name}: {_ended(outcome)}{detail}"

    def user_cache(self) -> Path:
        return self.options.user_cache or self.root / "cache" / "user"

    def shared_cache(self) -> Path:
        return self.options.shared_cache or self.root / "cache" / "shared"

    def check_stop(self) -> None:
        if self.stop.is_set():
            raise JobFailed(self.stop.reason)
