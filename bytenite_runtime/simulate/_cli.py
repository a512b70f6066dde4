"""``python -m bytenite_runtime.simulate``: the command line. Only ``main`` prints and exits."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from .._argparse import OneLineParser
from ..errors import ByteniteError, ConfigError, JobFailed, TemplateError
from ..settings import CONTRACT_VARIABLES, problems_from_validation
from ._job import run_job
from ._options import JobOptions, JobPlan, Stop
from ._report import Progress
from ._request import (
    Config,
    DataSource,
    JobRequest,
    Params,
    Template,
    load_json,
    merge_request,
    parse,
    unknown_fields,
)
from ._resolve import find_template, resolve, search_folders
from ._sources import (
    check_destination,
    check_report,
    check_source,
    destination_folder,
    local_source,
    os_reason,
    resolved,
)

__all__ = ["build_parser", "main", "plan_job"]


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="bytenite-simulate",
        description="Run a ByteNite job on this machine the way the platform runs it.",
    )
    p.add_argument("request", nargs="?", type=Path, help="job request JSON (Customer API shape)")
    p.add_argument("--template", help="template id or template.json path (instead of a request)")
    src = p.add_argument_group("data")
    src.add_argument("--source", help="input: a local file or folder, an http(s) URL, or 'bypass'")
    src.add_argument(
        "--output", type=Path, help="output folder (default: bytenite-output/<job id>)"
    )
    src.add_argument("--overwrite", action="store_true", help="replace a non-empty output folder")
    par = p.add_argument_group("params")
    par.add_argument(
        "--params", help="JSON object {partitioner, app, assembler} merged over the request's"
    )
    par.add_argument(
        "--set", action="append", default=[], metavar="COMPONENT.KEY=VALUE",
        help="set one param, e.g. app.case=upper (VALUE is JSON, or else a string)",
    )  # fmt: skip
    run = p.add_argument_group("execution")
    run.add_argument(
        "--parallelism",
        "-j",
        type=int,
        default=os.cpu_count() or 1,
        help="tasks at once (default: cores)",
    )
    run.add_argument("--task-timeout", type=float, help="override config.taskTimeout (seconds)")
    run.add_argument("--job-timeout", type=float, help="override config.jobTimeout (seconds)")
    run.add_argument("--max-retries", type=int, help="override config.maxTaskRetries")
    run.add_argument(
        "--no-chunk-number", action="store_true", help="do not set CHUNK_NUMBER for tasks"
    )
    run.add_argument(
        "--prefix-results", action="store_true", help="prefix result names as a platform might"
    )
    run.add_argument(
        "--on-collision",
        choices=("rename", "fail"),
        default="rename",
        help="two tasks' results share a name",
    )
    comp = p.add_argument_group("components")
    for role in ("app", "partitioner", "assembler"):
        comp.add_argument(f"--{role}", help=f"{role} tag or folder, overriding the template")
    comp.add_argument(
        "--search",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="also search DIR for apps, engines and templates",
    )
    env = p.add_argument_group("environment")
    env.add_argument(
        "--secrets",
        type=Path,
        help='JSON file: {"ID": "value"} or {"ID": {"access_key": …, "secret_key": …}}',
    )
    env.add_argument(
        "--pass-env",
        action="append",
        default=[],
        metavar="NAME",
        help="pass this variable of yours to components",
    )
    env.add_argument(
        "--user-cache", type=Path, help="USER_CACHE_DIR (default: ~/.cache/bytenite-simulate/user)"
    )
    env.add_argument(
        "--shared-cache",
        type=Path,
        help="SHARED_CACHE_DIR (default: ~/.cache/bytenite-simulate/shared)",
    )
    out = p.add_argument_group("records")
    out.add_argument(
        "--workdir",
        type=Path,
        default=Path("bytenite-jobs"),
        help="where job folders, logs and reports go",
    )
    out.add_argument(
        "--keep", action="store_true", help="keep chunks, task folders and results after the job"
    )
    out.add_argument("--report", type=Path, help="also write the job report here")
    out.add_argument("--quiet", "-q", action="store_true", help="no progress bar, no summary")
    return p


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"{what}: not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{what}: must be a JSON object")
    return value


def _params_flag(text: str) -> Params:
    value = _json_object(text, "--params")
    unknown = sorted(set(value) - set(Params.model_fields))
    if unknown:
        raise ConfigError(f"--params.{unknown[0]}: expected only partitioner, app, assembler")
    try:
        return Params.model_validate(value)
    except ValidationError as exc:
        detail = "; ".join(str(p) for p in problems_from_validation(exc, "--params"))
        raise ConfigError(detail) from None


_CONFIG_FLAGS = {
    "taskTimeout": ("--task-timeout", "task_timeout"),
    "jobTimeout": ("--job-timeout", "job_timeout"),
    "maxTaskRetries": ("--max-retries", "max_retries"),
}


def _override_config(config: Config, args: argparse.Namespace) -> Config:
    given = {
        alias: getattr(args, attr)
        for alias, (_, attr) in _CONFIG_FLAGS.items()
        if getattr(args, attr) is not None
    }
    try:
        # Validated again, so a flag meets the same limits as the template's config.
        return Config.model_validate({**config.model_dump(by_alias=True), **given})
    except ValidationError as exc:
        problems = problems_from_validation(exc, "config")
        raise ConfigError(
            "; ".join(
                f"{_CONFIG_FLAGS[p.field][0]}: {p.reason}" if p.field in given else str(p)
                for p in problems
            )
        ) from None


def _apply_sets(params: Params, sets: Sequence[str]) -> Params:
    parts = params.model_dump()
    for item in sets:
        key, eq, raw = item.partition("=")
        component, dot, field = key.partition(".")
        if not eq or not dot or not field or component not in parts:
            raise ConfigError(f"--set {item!r}: expected partitioner|app|assembler.KEY=VALUE")
        try:
            value: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            value = raw
        parts[component][field] = value
    return Params(**parts)


def _source_from_flag(text: str) -> DataSource:
    if text == "bypass":
        return DataSource.model_validate({"dataSourceDescriptor": "bypass"})
    if text.startswith(("http://", "https://")):
        return DataSource.model_validate({"dataSourceDescriptor": "url", "params": {"url": text}})
    if "://" in text:
        raise ConfigError(f"--source {text!r}: only http(s) URLs are simulated")
    path = str(Path(text).resolve())
    return DataSource.model_validate({"dataSourceDescriptor": "file", "params": {"path": path}})


def _load_secrets(path: Path | None) -> dict[str, str | tuple[str, str]]:
    if path is None:
        return {}
    doc = load_json(path, "secrets file")
    secrets: dict[str, str | tuple[str, str]] = {}
    for key, value in doc.items():
        if isinstance(value, str):
            secrets[key] = value
        elif (
            isinstance(value, dict)
            and isinstance(value.get("access_key"), str)
            and isinstance(value.get("secret_key"), str)
        ):
            secrets[key] = (value["access_key"], value["secret_key"])
        else:
            raise ConfigError(
                f"secrets file {str(path)!r}: {key}: expected a string or "
                "{access_key, secret_key}"
            )
        stored = secrets[key]
        if any("\0" in part for part in (stored if isinstance(stored, tuple) else (stored,))):
            # No environment variable can hold a NUL: the task could not even be started.
            raise ConfigError(
                f"secrets file {str(path)!r}: {key}: holds a NUL character, which an "
                "environment variable cannot (value hidden)"
            )
    return secrets


def plan_job(args: argparse.Namespace) -> JobPlan:
    """Resolve the request, template, overrides and components into a JobPlan."""
    # Each is resolved below or when the job starts: a symbolic link loop is one line here.
    for what, given in (
        ("job request", args.request),
        ("--report", args.report),
        ("--secrets", args.secrets),
        ("--workdir", args.workdir),
        ("--user-cache", args.user_cache),
        ("--shared-cache", args.shared_cache),
    ):
        if given is not None:
            resolved(given, what)
    base = args.request.resolve().parent if args.request else Path.cwd()
    search = search_folders(args.search, base)
    request = JobRequest()
    warnings: list[str] = []
    if args.request is not None:
        doc = load_json(args.request, "job request")
        request = parse(JobRequest, doc, "request")
        warnings += unknown_fields(JobRequest, doc, "request")
    # Relative folder tags are relative to the file holding them.
    template_dir = base
    template_file: Path | None = None
    if args.template is not None:
        path = Path(args.template)
        # An id is letters, digits, '-' and '_': a name ending in .json or holding a
        # slash is a path, and a missing one is named as a file, not as an unknown id.
        is_path = path.suffix == ".json" or "/" in args.template or os.sep in args.template
        template_file = path if is_path else find_template(args.template, search)
    elif request.template is None and request.template_id is not None:
        template_file = find_template(request.template_id, search)
    if template_file is not None:
        doc = load_json(template_file, "template")
        template = parse(Template, doc, "template")
        warnings += unknown_fields(Template, doc, "template")
        template_dir = template_file.resolve().parent
    elif request.template is not None:
        template = request.template
    else:
        raise TemplateError(
            "no template: give templateId or template in the request, or --template"
        )
    template = merge_request(request, template)
    updates: dict[str, Any] = {}
    if args.source:
        updates["data_source"] = _source_from_flag(args.source)
    params = template.params
    if args.params:
        extra = _params_flag(args.params)
        params = Params(
            partitioner={**params.partitioner, **extra.partitioner},
            app={**params.app, **extra.app},
            assembler={**params.assembler, **extra.assembler},
        )
    updates["params"] = _apply_sets(params, args.set)
    updates["config"] = _override_config(template.config, args)
    template = template.model_copy(update=updates)
    check_source(template.data_source, base)
    components = {
        role: resolve(role, getattr(args, role), search)
        if getattr(args, role)
        else resolve(role, getattr(template, role), search, template_dir)
        for role in ("partitioner", "app", "assembler")
    }
    destination = destination_folder(
        template.data_destination, args.output, Path("bytenite-output") / "{job}", base
    )
    if destination is not None:
        resolved(destination, "output folder")
    # What the job reads: neither the output nor the report copy may replace it.
    inputs: list[tuple[str, Path]] = []
    source = local_source(template.data_source, base)
    if source is not None:
        inputs.append(("the source", source))
    if args.request:
        inputs.append(("the request", Path(args.request)))
    if template_file is not None:
        inputs.append(("the template", template_file))
    if args.secrets is not None:
        inputs.append(("the secrets file", args.secrets))
    inputs += [
        (f"the {role}'s folder", c.folder) for role, c in components.items() if c.folder is not None
    ]
    if args.report is not None:
        check_report(args.report, inputs)
    if destination is not None and source is not None and source.is_dir():
        # The default folder under the current one too: a run from inside the source.
        folder = destination.parent if destination.name == "{job}" else destination
        if folder.resolve().is_relative_to(source.resolve()):
            raise TemplateError(
                f"output folder {str(folder)!r} is inside the source folder {str(source)!r}: "
                "the next run would read this output as input; choose a folder outside it"
            )
    if (
        source is not None
        and source.is_dir()
        and args.workdir.resolve().is_relative_to(source.resolve())
    ):
        # The source is copied into the job's folder there: the copy would copy itself
        # until a path grows too long, and the next run would read these records too.
        raise ConfigError(
            f"--workdir {str(args.workdir)!r} is inside the source folder {str(source)!r}: "
            "the job would copy its own records as input; choose a folder outside it"
        )
    if destination is not None and destination.name != "{job}":
        keep = [
            ("the current folder", Path.cwd()),
            ("the job records", args.workdir),
            # A mistyped --output ~ or / with --overwrite would replace either whole.
            ("your home folder", Path.home()),
            ("the Python environment", Path(sys.prefix)),
            *inputs,
        ]
        check_destination(destination, args.overwrite, keep)
        destination = destination.resolve()
    return JobPlan(
        name=request.name if args.request else (template.id or "simulated-job"),
        template=template,
        partitioner=components["partitioner"],
        app=components["app"],
        assembler=components["assembler"],
        base_dir=base,
        destination=destination,
        warnings=tuple(warnings),
    )


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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``bytenite-simulate``; returns the exit code."""
    args = build_parser().parse_args(argv)
    stop, caught = Stop(), list[int]()
    try:
        if args.parallelism < 1:
            raise ConfigError(f"--parallelism: must be at least 1 (got {args.parallelism})")
        plan = plan_job(args)
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
            secrets=_load_secrets(args.secrets),
            pass_env=tuple(args.pass_env),
            keep=args.keep,
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
            args.report.parent.mkdir(parents=True, exist_ok=True)
            args.report.write_bytes(report_path.read_bytes())
        except OSError as exc:
            print(
                f"error: --report: {str(args.report)!r} cannot be written "
                f"({os_reason(args.report, exc)}); the report is at {report_path}",
                file=sys.stderr,
            )
            return ConfigError.exit_code
    job = report["job"]
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
