"""Shared test helpers: run the simulator or one component as a real process, and build
component folders (``manifest.json`` + ``app/main.py``) from source text."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parent.parent

# What any process needs to start; everything else a test passes explicitly. PYTHONPATH
# too, so a component process imports the package under test, not an installed one.
_BASE = ("PATH", "HOME", "LANG", "TMPDIR", "SYSTEMROOT", "PYTHONPATH")


def base_env(**extra: str) -> dict[str, str]:
    """A minimal environment for a component process, plus ``extra``."""
    env = {k: os.environ[k] for k in _BASE if k in os.environ}
    env.update(extra)
    return env


def last_line(text: str) -> str:
    """The last non-empty line of ``text`` ('' when there is none)."""
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


@dataclass
class Completed:
    """A finished process: exit code and decoded output."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def last_error_line(self) -> str:
        return last_line(self.stderr)

    @property
    def delivered(self) -> list[str]:
        """The names in the output folder, less the simulator's record of the delivery."""
        assert self.output is not None
        return delivered_names(self.output)


def run_component(
    command: Iterable[str],
    env: Mapping[str, str],
    cwd: Path | None = None,
    timeout: float = 60,
    **popen: Any,
) -> Completed:
    """Run one component process with exactly ``env``; never inherits the test's environment."""
    proc = subprocess.run(
        list(command),
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
        **popen,
    )
    return Completed(proc.returncode, proc.stdout, proc.stderr)


def write_component(
    folder: Path,
    source: str,
    *,
    name: str | None = None,
    kind: str | None = None,
    secrets: Iterable[str] = (),
    extra_files: Mapping[str, str] | None = None,
) -> Path:
    """Create ``folder`` holding ``manifest.json`` and ``app/main.py`` (``source``, dedented).

    ``extra_files`` maps paths relative to ``folder`` (``schema.json``, ``app/x.py``) to text.
    """
    (folder / "app").mkdir(parents=True, exist_ok=True)
    (folder / "app" / "main.py").write_text(textwrap.dedent(source))
    manifest: dict[str, Any] = {
        "name": name or folder.name,
        "version": "1.0",
        "platform": "docker",
        "description": f"test component {folder.name}",
        "entrypoint": "main.py",
        "platform_config": {"container": "python:3.11-slim", "secrets": list(secrets)},
        "device_requirements": {"min_cpu": 1, "min_memory": 1},
    }
    if kind is not None:
        manifest["type"] = kind
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    for rel, text in (extra_files or {}).items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return folder


def delivered_names(folder: Path) -> list[str]:
    """The names in an output folder the simulator delivered, less its record there."""
    names = sorted(p.name for p in folder.iterdir())
    assert ".bytenite-output" in names, f"{folder} holds no record of its delivery"
    return [n for n in names if n != ".bytenite-output"]


@dataclass
class SimRun:
    """One finished ``python -m bytenite_runtime.simulate`` run."""

    returncode: int
    stdout: str
    stderr: str
    workdir: Path
    output: Path | None
    job_dirs: list[Path] = field(default_factory=list)

    @property
    def last_error_line(self) -> str:
        return last_line(self.stderr)

    @property
    def delivered(self) -> list[str]:
        """The names in the output folder, less the simulator's record of the delivery."""
        assert self.output is not None
        return delivered_names(self.output)

    @property
    def job_dir(self) -> Path:
        assert len(self.job_dirs) == 1, f"expected one new job folder, got {self.job_dirs}"
        return self.job_dirs[0]

    @property
    def report(self) -> dict[str, Any]:
        report: dict[str, Any] = json.loads((self.job_dir / "report.json").read_text())
        return report

    def log(self, component: str) -> list[dict[str, Any]]:
        """The JSON-lines log of one component (``partitioner``, ``task-00000``, ``assembler``)."""
        path = self.job_dir / "logs" / f"{component}.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines() if line]


Simulate = Callable[..., SimRun]

_UNSET: Any = object()


LINES = "".join(f"line {i}\n" for i in range(6))
"""The text the simulate tests' ``source`` fixture holds: six lines."""


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A six-line text file (:data:`LINES`) for a job's data source."""
    path = tmp_path / "input" / "lines.txt"
    path.parent.mkdir(exist_ok=True)
    path.write_text(LINES)
    return path


@pytest.fixture
def simulate(tmp_path: Path) -> Simulate:
    """Run the simulator as a subprocess in ``tmp_path``; returns a :class:`SimRun`.

    Defaults, each dropped when the caller passes the flag itself: ``--workdir
    tmp_path/wd``, caches under ``tmp_path/cache``, ``-j 2``, ``-q`` (unless
    ``quiet=False``), and a fresh ``--output`` folder per call (``output=None`` passes no
    ``--output``).
    """
    counter = iter(range(1, 1000))

    def run(
        *args: str | os.PathLike[str],
        output: Path | None = _UNSET,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        timeout: float = 120,
        quiet: bool = True,
    ) -> SimRun:
        argv = [str(a) for a in args]
        n = next(counter)
        workdir = tmp_path / "wd"
        defaults: dict[str, list[str]] = {
            "--workdir": ["--workdir", str(workdir)],
            "--user-cache": ["--user-cache", str(tmp_path / "cache" / "user")],
            "--shared-cache": ["--shared-cache", str(tmp_path / "cache" / "shared")],
            "-j": ["-j", "2"],
        }
        if "--parallelism" in argv:
            defaults.pop("-j")
        for flag, value in defaults.items():
            if flag not in argv:
                argv += value
            elif flag == "--workdir":
                workdir = Path(argv[argv.index(flag) + 1])
        if quiet and "-q" not in argv and "--quiet" not in argv:
            argv.append("-q")
        if "--output" in argv:
            output = Path(argv[argv.index("--output") + 1])
        elif output is _UNSET:
            output = tmp_path / ("out" if n == 1 else f"out{n}")
            argv += ["--output", str(output)]
        elif output is not None:
            argv += ["--output", str(output)]
        before = set(workdir.iterdir()) if workdir.is_dir() else set()
        proc = subprocess.run(
            [sys.executable, "-m", "bytenite_runtime.simulate", *argv],
            env=dict(os.environ if env is None else env),
            cwd=cwd or tmp_path,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        after = set(workdir.iterdir()) if workdir.is_dir() else set()
        return SimRun(
            proc.returncode, proc.stdout, proc.stderr, workdir, output, sorted(after - before)
        )

    return run


def write_json(path: Path, value: Any) -> Path:
    """Write ``value`` as JSON to ``path`` (parents created) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2))
    return path


def write_request(
    path: Path,
    *,
    app: str | os.PathLike[str],
    partitioner: str | os.PathLike[str] = "passthrough",
    assembler: str | os.PathLike[str] = "passthrough",
    source: Path | Mapping[str, Any] | None = None,
    destination: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
) -> Path:
    """Write a job request with an inline template; ``source`` is a local path or a full
    ``dataSource`` object; components are tags or folders."""
    template: dict[str, Any] = {
        "id": "test-template",
        "app": str(app),
        "partitioner": str(partitioner),
        "assembler": str(assembler),
    }
    if isinstance(source, Path):
        template["dataSource"] = {"dataSourceDescriptor": "file", "params": {"path": str(source)}}
    elif source is not None:
        template["dataSource"] = dict(source)
    if destination is not None:
        template["dataDestination"] = dict(destination)
    if params is not None:
        template["params"] = dict(params)
    if config is not None:
        template["config"] = dict(config)
    return write_json(path, {"name": path.stem, "template": template})


needs_root = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0 or sys.platform != "linux",
    reason="mounting a small tmpfs needs root on Linux",
)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs, unmounted again however the test ends."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
