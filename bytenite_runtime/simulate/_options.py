"""What ``run_job`` is given: the plan, the options, and a request to stop from outside."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ._request import Template
from ._resolve import Component

__all__ = ["JobOptions", "JobPlan", "Stop"]


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
    overwrite: bool = False
    """Replace an earlier run's output there (``--overwrite``)."""
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
    stop_orphans: bool = False
    """Kill what a stage leaves running in sessions of its own (the CLI sets it once the
    simulator is their subreaper): never set it where other children of this process run."""


class Stop:
    """A request from outside the job (a signal handler) to stop it: no task starts after
    it, running components are stopped as ``jobTimeout`` stops them, nothing is delivered
    (a delivery under way is undone), and the job ends ``Cancelled`` with ``reason``; one
    that comes once the output is in place leaves the job ``Complete``, with a warning.
    A second request kills the running components at once, without their grace for
    cleaning up. Requesting only stores values, so a signal handler may do it at any
    moment."""

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
