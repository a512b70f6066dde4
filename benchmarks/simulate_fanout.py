"""Simulator overhead: a whole job of N trivial tasks against a bare process pool.

Ours: ``python -m bytenite_runtime.simulate`` on a job whose partitioner is the built-in
``replicate-fanout`` (N replicas of a 1 KiB file), whose app is a plain Python script
reading ``data.bin`` and writing one result from the raw contract variables, and whose
assembler is ``passthrough``; the whole command is timed, interpreter start included.

Baseline: the same N app processes, with the same command, environment and per-task
folders, run by a ``ThreadPoolExecutor`` of ``subprocess.run`` calls with the same
parallelism; each worker makes its task's folders and copies ``data.bin`` first, the
least any runner must do. Goal: ours <= 1.2 x baseline.

An extra row, for information, times the pool alone with every folder made beforehand:
the floor set by starting N interpreters on this machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
from _harness import Config, Report, Row, clean_environ, interleave, run_timed

from bytenite_runtime.settings import app_environment

NAME = "simulate"
GOAL = 1.2
TASKS = 200

APP = '''\
"""A task that uses no library: copy the chunk into one result file."""
import os

with open(os.path.join(os.environ["TASK_DIR"], "data.bin"), "rb") as src:
    data = src.read()
name = "copy_" + os.environ.get("CHUNK_NUMBER", "x") + ".bin"
with open(os.path.join(os.environ["TASK_RESULTS_DIR"], name), "wb") as dst:
    dst.write(data)
'''

# The variables the simulator lets through to a task besides the contract ones, so both
# sides start their interpreters in the same environment.
_PASSED = (
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR",
    "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "CONDA_PREFIX",
)  # fmt: skip

MANIFEST = {
    "name": "bench-copy",
    "version": "1.0",
    "type": "app",
    "platform": "docker",
    "description": "benchmark app: copies its chunk into a result",
    "entrypoint": "main.py",
}


class _Fixture:
    """The app folder, the source file and the job request, all under one temp folder."""

    def __init__(self, root: Path, tasks: int, parallelism: int) -> None:
        self.root = root
        self.tasks = tasks
        self.parallelism = parallelism
        app = root / "bench-copy"
        (app / "app").mkdir(parents=True)
        (app / "manifest.json").write_bytes(orjson.dumps(MANIFEST))
        self.script = app / "app" / "main.py"
        self.script.write_text(APP)
        self.source = root / "input.bin"
        self.source.write_bytes(os.urandom(1024))
        self.request = root / "job.json"
        self.request.write_bytes(
            orjson.dumps(
                {
                    "name": "bench fanout",
                    "template": {
                        "app": str(app),
                        "partitioner": "replicate-fanout",
                        "assembler": "passthrough",
                    },
                    "dataSource": {
                        "dataSourceDescriptor": "file",
                        "params": {"path": str(self.source)},
                    },
                    "dataDestination": {"dataSourceDescriptor": "bypass"},
                    "params": {"partitioner": {"num_replicas": tasks}},
                }
            )
        )
        self.user_cache, self.shared_cache = root / "cache-user", root / "cache-shared"
        self.user_cache.mkdir()
        self.shared_cache.mkdir()
        self.workdir = root / "jobs"
        self.env = clean_environ()
        self.runs = 0
        self.stages: dict[str, list[float]] = {}

    # -- ours -------------------------------------------------------------------------

    def simulate(self) -> float:
        command = [
            sys.executable, "-m", "bytenite_runtime.simulate", str(self.request),
            "--workdir", str(self.workdir), "-q", "--parallelism", str(self.parallelism),
            "--user-cache", str(self.user_cache), "--shared-cache", str(self.shared_cache),
        ]  # fmt: skip
        seconds = run_timed(command, self.env, cwd=self.root)
        self._check_report()
        return seconds

    def _check_report(self) -> None:
        (job,) = list(self.workdir.iterdir())
        report = orjson.loads((job / "report.json").read_bytes())
        state, chunks = report["job"]["state"], report["job"]["chunks"]
        if state != "Complete" or chunks != self.tasks:
            raise RuntimeError(f"simulated job ended {state} with {chunks} task(s)")
        for stage in ("partitioner", "assembler"):
            self.stages.setdefault(stage, []).append(report[stage]["durationSeconds"])
        job.replace(self.root / f"done-{job.name}")  # kept, not deleted: see _check_pool

    # -- baseline ---------------------------------------------------------------------

    def _task_env(self, base: Path, index: int) -> tuple[Path, Path, dict[str, str]]:
        folder = base / f"{index:05d}"
        task_dir, results_dir = folder / "task", folder / "results"
        contract = app_environment(
            task_dir, results_dir, {}, self.user_cache, self.shared_cache, index
        )
        passed = {k: v for k, v in os.environ.items() if k in _PASSED or k.startswith("LC_")}
        return task_dir, results_dir, {**passed, **contract}

    def _spawn(self, env: dict[str, str]) -> None:
        done = subprocess.run(
            [sys.executable, str(self.script)],
            env=env,
            cwd=self.script.parent,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"app exited with {done.returncode}: {done.stderr[-300:]!r}")

    def _pool(self, work: Callable[[int], None]) -> float:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=self.parallelism) as pool:
            list(pool.map(work, range(self.tasks)))
        return time.perf_counter() - started

    def _fresh_base(self) -> Path:
        self.runs += 1
        return self.root / f"pool-{self.runs}"

    def _check_pool(self, base: Path) -> None:
        produced = sum(1 for _ in base.glob("*/results/copy_*.bin"))
        if produced != self.tasks:
            raise RuntimeError(f"bare pool produced {produced} result(s), not {self.tasks}")
        # The folders stay until the end: on an ext4 without a journal, every inode freed
        # in the last ~30 s slows each new one, and the harness's own deletions would then
        # tax whichever side runs next.

    def bare_pool(self) -> float:
        base = self._fresh_base()

        def one(index: int) -> None:
            task_dir, results_dir, env = self._task_env(base, index)
            task_dir.mkdir(parents=True)
            results_dir.mkdir()
            shutil.copyfile(self.source, task_dir / "data.bin")
            self._spawn(env)

        seconds = self._pool(one)
        self._check_pool(base)
        return seconds

    def spawn_only(self) -> float:
        base = self._fresh_base()
        envs = []
        for index in range(self.tasks):
            task_dir, results_dir, env = self._task_env(base, index)
            task_dir.mkdir(parents=True)
            results_dir.mkdir()
            shutil.copyfile(self.source, task_dir / "data.bin")
            envs.append(env)
        seconds = self._pool(lambda index: self._spawn(envs[index]))
        self._check_pool(base)
        return seconds


def _inode_cost(folder: Path, count: int = 200) -> float:
    """Milliseconds of CPU one new folder costs here: the filesystem's share of a task."""
    folder.mkdir()
    started = time.thread_time()
    for i in range(count):
        (folder / str(i)).mkdir()
    return (time.thread_time() - started) / count * 1000


def run(config: Config) -> Report:
    parallelism = os.cpu_count() or 1
    repeat = 2 if config.quick else 5
    ours, pool, floor = (
        f"simulate ({TASKS} tasks, -j {parallelism})",
        "bare pool (mkdir+copy+run)",
        "bare pool (run only)",
    )
    with tempfile.TemporaryDirectory(prefix="bench-simulate-", dir=config.tmp) as tmp:
        fixture = _Fixture(Path(tmp), TASKS, parallelism)
        # Untimed warm-up: bytecode caches of the simulator and the built-in components.
        fixture.simulate()
        fixture.bare_pool()
        timings = interleave(
            {ours: fixture.simulate, pool: fixture.bare_pool, floor: fixture.spawn_only},
            repeat,
        )
        inode_ms = _inode_cost(Path(tmp, "probe"))
    report = Report()
    report.rows.append(Row(NAME, timings[ours], timings[pool], GOAL))
    report.rows.append(Row(NAME, timings[ours], timings[floor], None))
    extra = (timings[ours].best - timings[pool].best) / TASKS
    report.notes.append(
        f"{NAME}: overhead over the bare pool {extra * 1000:+.1f} ms per task, all included; "
        + " + ".join(f"{k} {min(v):.2f} s" for k, v in fixture.stages.items())
        + " of each job are stages the pool does not run"
    )
    report.notes.append(
        f"{NAME}: a new file or folder under {config.tmp} costs {inode_ms:.2f} ms of CPU "
        "(tmpfs: ~0.01); a task makes 7 in the simulator, 5 in the pool"
    )
    return report
