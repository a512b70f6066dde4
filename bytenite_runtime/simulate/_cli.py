"""``python -m bytenite_runtime.simulate``: the command line. Only ``main`` prints and exits."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from ..errors import ByteniteError, ConfigError, JobFailed
from ..settings import CONTRACT_VARIABLES
from ._args import build_parser, load_secrets_file
from ._job import run_job
from ._options import JobOptions, JobPlan, Stop
from ._orphans import adopt_orphans
from ._plan import plan_job
from ._report import Progress
from ._sources import os_reason

__all__ = ["main"]


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def _stopping_on_signals(stop: Stop, caught: list[int], tell: bool) -> Iterator[None]:
    """While the job runs, SIGINT and SIGTERM ask it to stop (its tasks' process groups
    are killed, a report is written) instead of raising mid-wait or killing the simulator
    alone, which would leave the tasks, each in its own session, running. A second signal
    skips the components' grace; with ``tell``, the first says so on the terminal."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def handle(signum: int, _frame: object) -> None:
        first = not stop.is_set()
        caught.append(signum)
        stop.request(f"interrupted ({signal.Signals(signum).name})")
        if first and tell:
            # os.write: the progress line may be mid-write on sys.stderr's buffer.
            os.write(2, b"\nstopping the job; press Ctrl-C again to kill its tasks at once\n")

    previous = {sig: signal.signal(sig, handle) for sig in _STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _unsupplied_secrets(plan: JobPlan, secrets: Mapping[str, object]) -> list[str]:
    """A warning for each secret a component's manifest declares that ``--secrets`` gives
    no value for: its task would fail on the variable, which names neither the file nor
    the flag."""
    return [
        f"{component.role} {component.tag!r}: secret {secret_id} (platform_config.secrets) "
        "has no value in --secrets, so the component gets no variable for it"
        for component in (plan.partitioner, plan.app, plan.assembler)
        for secret_id in component.secret_ids
        if secret_id not in secrets
    ]


def _print_warnings(warnings: Sequence[str], shown: int = 5) -> None:
    """The warnings the job gave while it ran (those before it were printed then), the
    first ``shown`` of them: all are in the report."""
    for warning in warnings[:shown]:
        print(f"warning: {warning}", file=sys.stderr)
    if len(warnings) > shown:
        print(f"warning: … and {len(warnings) - shown} more in the report", file=sys.stderr)


def _copy_report(source: Path, target: Path) -> None:
    """Copy the report to ``--report`` in one step: jobs given the same path, and whoever
    reads it, see one whole report, never half of one or two interleaved."""
    target = target.resolve()  # a link there is followed, as a plain write follows it
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            umask = os.umask(0)
            os.umask(umask)
            # As a plain write would make it, not mkstemp's 0600.
            os.fchmod(file.fileno(), 0o666 & ~umask)
            file.write(source.read_bytes())
        Path(temp).replace(target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``bytenite-simulate``; returns the exit code."""
    args = build_parser().parse_args(argv)
    stop, caught = Stop(), list[int]()
    try:
        if args.parallelism < 1:
            raise ConfigError(f"--parallelism: must be at least 1 (got {args.parallelism})")
        plan = plan_job(args)
        secrets = load_secrets_file(args.secrets)
        plan = replace(plan, warnings=(*plan.warnings, *_unsupplied_secrets(plan, secrets)))
        for warning in plan.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        for name in dict.fromkeys(args.pass_env):
            if name in CONTRACT_VARIABLES:
                print(
                    f"warning: --pass-env {name}: a contract variable, set by the simulator "
                    "and never passed from yours; ignored",
                    file=sys.stderr,
                )
        home = Path.home() / ".cache" / "bytenite-simulate"
        options = JobOptions(
            workdir=args.workdir.resolve(),
            parallelism=args.parallelism,
            chunk_number=not args.no_chunk_number,
            prefix_results=args.prefix_results,
            on_collision=args.on_collision,
            user_cache=(args.user_cache or home / "user").resolve(),
            shared_cache=(args.shared_cache or home / "shared").resolve(),
            secrets=secrets,
            pass_env=tuple(args.pass_env),
            keep=args.keep,
            stop_orphans=adopt_orphans(),
        )
        tty = sys.stderr.isatty() and not args.quiet
        with _stopping_on_signals(stop, caught, tty):
            report = run_job(plan, options, lambda: Progress(tty), stop)
    except ByteniteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:  # Ctrl-C before the job started: nothing to stop
        print("error: interrupted (SIGINT)", file=sys.stderr)
        return 128 + int(signal.SIGINT)
    report_path = Path(report["job"]["folder"]) / "report.json"
    if args.report is not None:
        try:
            _copy_report(report_path, args.report)
        except OSError as exc:
            print(
                f"error: --report: {str(args.report)!r} cannot be written "
                f"({os_reason(args.report, exc)}); the report is at {report_path}",
                file=sys.stderr,
            )
            return ConfigError.exit_code
    job = report["job"]
    if not args.quiet:
        _print_warnings(report["warnings"][len(plan.warnings) :])
    if job["state"] == "Cancelled" and caught:
        print(
            f"error: job {job['id']} {job['reason']}; {job['stoppedTasks']} running task(s) "
            f"stopped (report: {report_path})",
            file=sys.stderr,
        )
        return 128 + caught[0]
    if job["state"] != "Complete":
        print(
            f"error: job {job['id']} failed: {job['reason']} (report: {report_path})",
            file=sys.stderr,
        )
        return JobFailed.exit_code
    if not args.quiet:
        where = report["output"]["folder"] or "discarded (bypass)"
        warned = len(report["warnings"])
        print(
            f"job {job['id']} complete: {job['chunks']} task(s) in {job['durationSeconds']}s; "
            f"output: {where}; report: {report_path}"
            + (f" ({warned} warning{'s' * (warned > 1)} there)" if warned else "")
        )
    return 0
