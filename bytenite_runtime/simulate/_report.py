"""What a simulated job records: attempts and tasks as the report shows them, and the
progress line on a terminal."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ._process import Outcome

__all__ = ["Attempt", "Progress", "TaskRecord", "iso", "span"]


def iso(ts: float | None) -> str | None:
    return (
        None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")
    )


def span(started: float | None, finished: float | None) -> dict[str, Any]:
    duration = None if started is None or finished is None else round(finished - started, 3)
    return {"startedAt": iso(started), "finishedAt": iso(finished), "durationSeconds": duration}


@dataclass
class Attempt:
    number: int
    scheduled: float
    outcome: Outcome | None = None
    reason: str = ""

    def report(self) -> dict[str, Any]:
        o = self.outcome
        # Stopped because the job failed or was stopped: not a failure of its own.
        state = "Completed" if o and o.ok else "Cancelled" if o and o.cancelled else "Failed"
        return {
            "attempt": self.number,
            "state": state,
            "scheduledAt": iso(self.scheduled),
            **span(o.started if o else None, o.finished if o else None),
            "exitCode": o.exit_code if o else None,
            "reason": self.reason or None,
        }


@dataclass
class TaskRecord:
    chunk: int
    chunk_file: Path
    state: str = "Scheduled"
    attempts: list[Attempt] = field(default_factory=list)
    results_dir: Path | None = None
    results: list[str] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        first = self.attempts[0].outcome if self.attempts else None
        last = self.attempts[-1].outcome if self.attempts else None
        return {
            "chunk": self.chunk,
            "state": self.state,
            **span(first.started if first else None, last.finished if last else None),
            "attempts": [a.report() for a in self.attempts],
            "exitCode": last.exit_code if last else None,
            "results": self.results,
        }


class Progress:
    """A one-line progress bar on a terminal; silent otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.lock = threading.Lock()

    def update(self, done: int, failed: int, total: int, running: int) -> None:
        if not self.enabled or total == 0:
            return
        width = 30
        filled = int(width * done / total)
        bar = "#" * filled + "." * (width - filled)
        text = f"\rtasks [{bar}] {done}/{total} done, {running} running, {failed} failed "
        with self.lock:
            os.write(2, text.encode())

    def close(self) -> None:
        if self.enabled:
            os.write(2, b"\n")
