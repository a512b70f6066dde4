"""Shared pieces of the benchmarks: timing, repetition, the result rows and the table.

Every benchmark compares the project against a baseline timed in the same run on the
same machine, so a slow or busy machine moves both sides and the ratio stays readable.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "Config",
    "Report",
    "Row",
    "Timings",
    "clean_environ",
    "format_table",
    "interleave",
    "run_timed",
]


@dataclass(frozen=True)
class Config:
    """What the command line asked for."""

    quick: bool
    size_mib: int
    tmp: Path


@dataclass(frozen=True)
class Timings:
    """Wall-clock seconds of each repetition of one side."""

    label: str
    seconds: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def best(self) -> float:
        return min(self.seconds)


@dataclass(frozen=True)
class Row:
    """One line of the table: our side against one baseline, as a ratio of times."""

    benchmark: str
    ours: Timings
    baseline: Timings
    goal: float | None
    """Largest acceptable ``ours / baseline``; None for a row shown for information."""

    @property
    def ratio(self) -> float:
        """Best run against best run, the figure judged against the goal: on a shared
        machine other work only ever adds time, so the fastest run is the least noisy."""
        return self.ours.best / self.baseline.best

    @property
    def median_ratio(self) -> float:
        return self.ours.median / self.baseline.median

    @property
    def verdict(self) -> str:
        if self.goal is None:
            return "info"
        return "yes" if self.ratio <= self.goal else "NO"


@dataclass
class Report:
    """What one benchmark hands back: its rows and free-text notes (throughputs, checks)."""

    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def run_timed(
    command: Sequence[str],
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    check: Callable[[subprocess.CompletedProcess[bytes]], None] | None = None,
) -> float:
    """Run ``command`` to completion and return its wall-clock seconds, start to reap.

    Output is captured (not timed against a terminal); a non-zero exit raises with the
    tail of stderr, because a benchmark that measured a failure measured nothing.
    """
    started = time.perf_counter()
    done = subprocess.run(
        list(command),
        env=None if env is None else dict(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-5:]
        raise RuntimeError(
            f"{' '.join(command[:4])} … exited with {done.returncode}: " + " | ".join(tail)
        )
    if check is not None:
        check(done)
    return elapsed


def interleave(
    sides: Mapping[str, Callable[[], float]],
    repeat: int,
    between: Callable[[], None] | None = None,
) -> dict[str, Timings]:
    """Time every side ``repeat`` times, alternating A B A B…, so drift in the machine's
    load (the usual noise on a shared box) falls on all sides alike.

    Each side is a callable returning the seconds it measured, so setup and cleanup can
    stay outside the timed part; ``between`` runs untimed after every measurement.
    """
    seconds: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(repeat):
        for name, side in sides.items():
            seconds[name].append(side())
            if between is not None:
                between()
    return {name: Timings(name, tuple(values)) for name, values in seconds.items()}


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def format_table(rows: Sequence[Row]) -> str:
    """The rows as an aligned text table: best times, ours / baseline as a ratio of best
    runs (judged against the goal) and, for comparison, as a ratio of medians."""
    header = (
        "benchmark", "ours", "best", "baseline", "best", "n", "ratio", "medians", "goal", "met",
    )  # fmt: skip
    lines: list[tuple[str, ...]] = [header]
    for row in rows:
        repeats = f"{len(row.ours.seconds)}/{len(row.baseline.seconds)}"
        lines.append(
            (
                row.benchmark,
                row.ours.label,
                _duration(row.ours.best),
                row.baseline.label,
                _duration(row.baseline.best),
                repeats,
                f"{row.ratio:.3f}",
                f"{row.median_ratio:.2f}",
                "-" if row.goal is None else f"<= {row.goal:g}",
                row.verdict,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    numeric = {2, 4, 5, 6, 7}
    out = []
    for n, line in enumerate(lines):
        cells = [
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(line)
        ]
        out.append("  ".join(cells).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def clean_environ(**extra: str) -> dict[str, str]:
    """This process's environment, plus ``extra``, without what would skew a measurement.

    The contract variables go, so a stray TASK_DIR in the shell changes nothing.
    PYTHONDONTWRITEBYTECODE goes too: with it every fresh interpreter would compile the
    package from source again, which no installed package (and no process the simulator
    starts, since it does not pass the variable on) ever does.
    """
    from bytenite_runtime.settings import CONTRACT_VARIABLES

    dropped = {*CONTRACT_VARIABLES, "PYTHONDONTWRITEBYTECODE"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(extra)
    return env
