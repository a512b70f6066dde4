"""Jobs run at once, as busy users run them: sharing a workdir, an output folder or its
parent, the caches and a --report path, no job loses or corrupts another's files.

Jobs are ordered by files the test creates (a gate an app or a hook waits for, a marker
it leaves), never by sleeping and hoping.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from conftest import FIXTURES, LINES, Simulate, write_component, write_request

RAW_APP = FIXTURES / "raw_app"

# Leaves "<gate>.started", then waits for "<gate>" before writing its result: the test
# decides when each job's task ends.
GATED_APP = """
    import json, os, time
    from pathlib import Path

    params = json.loads(os.environ["APP_PARAMS"])
    gate = Path(params["gate"])
    Path(f"{gate}.started").touch()
    deadline = time.time() + 60
    while not gate.exists() and time.time() < deadline:
        time.sleep(0.01)
    (Path(os.environ["TASK_RESULTS_DIR"]) / "out.txt").write_text(params["says"])
"""

# Runs the simulator's command line with the step that moves an earlier output aside
# paused: it leaves the file "paused" and waits for the file "resume" (both in the current
# folder) before the new output takes the folder's place.
_PAUSED_DELIVERY = """
import sys, time
from pathlib import Path
from bytenite_runtime.simulate import _cli

replace = Path.replace

def paused_replace(self, target):
    moved = replace(self, target)
    if Path(target).name.startswith(f".{self.name}.old-"):
        Path("paused").touch()
        deadline = time.time() + 60
        while not Path("resume").exists() and time.time() < deadline:
            time.sleep(0.01)
    return moved

Path.replace = paused_replace
sys.exit(_cli.main(sys.argv[1:]))
"""


def _start(
    tmp_path: Path, *args: str | os.PathLike[str], driver: Path | None = None
) -> subprocess.Popen[str]:
    """Start the simulator (or ``driver``) in the background with the ``simulate``
    fixture's folders: the jobs share a workdir and caches."""
    command = (
        [sys.executable, str(driver)]
        if driver
        else [sys.executable, "-m", "bytenite_runtime.simulate"]
    )
    return subprocess.Popen(
        [
            *command, *map(str, args), "-q", "-j", "2", "--workdir", str(tmp_path / "wd"),
            "--user-cache", str(tmp_path / "cache" / "user"),
            "--shared-cache", str(tmp_path / "cache" / "shared"),
        ],
        cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def _wait_for(done: Callable[[], bool], what: str) -> None:
    deadline = time.time() + 60
    while not done():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    _, stderr = proc.communicate(timeout=120)
    return proc.returncode, stderr


def test_a_job_never_replaces_an_output_another_job_delivered_while_it_ran(
    tmp_path: Path, source: Path
) -> None:
    """Two jobs started at once with the same --output (no --overwrite): the first to
    finish delivers, the second fails with one line naming the folder and the job that
    wrote it, and the first job's output is left whole."""
    app = write_component(tmp_path / "gated", GATED_APP)
    output = tmp_path / "out"
    procs = {}
    for name in ("first", "second"):
        request = write_request(
            tmp_path / f"{name}.json", app=app, source=source,
            params={"app": {"gate": str(tmp_path / name), "says": name}},
        )  # fmt: skip
        procs[name] = _start(tmp_path, request, "--output", output)
    _wait_for(lambda: all((tmp_path / f"{n}.started").exists() for n in procs), "both tasks")
    (tmp_path / "first").touch()
    assert _finish(procs["first"]) == (0, "")
    delivered_by = json.loads((output / ".bytenite-output").read_text())["job"]
    (tmp_path / "second").touch()
    code, stderr = _finish(procs["second"])
    assert code == 5, stderr
    [line] = stderr.splitlines()
    assert f"failed: output folder '{output}' was written by job {delivered_by} while this " in line
    assert "(pass --overwrite to replace it)" in line
    assert (output / "out.txt").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".out")) == []


def test_overwriting_runs_at_once_deliver_one_at_a_time(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """Two --overwrite runs delivering into the same folder at once take turns: while one
    has set the earlier output aside, the other waits, so both complete, the later one's
    output is in place whole and nothing is left aside."""
    request = write_request(tmp_path / "job.json", app=RAW_APP, source=source)
    output = tmp_path / "out"
    assert simulate(request, output=output).returncode == 0
    driver = tmp_path / "paused_delivery.py"
    driver.write_text(_PAUSED_DELIVERY)
    first = _start(tmp_path, request, "--output", output, "--overwrite", driver=driver)
    _wait_for(lambda: (tmp_path / "paused").exists(), "the first delivery to pause")
    second = _start(tmp_path, request, "--output", output, "--overwrite", "--set", "app.mode=copy")

    def staged() -> list[Path]:
        return [p for p in tmp_path.iterdir() if p.name.startswith(".out.partial-")]

    # The second job has staged its output (and waits for its turn), or, delivering
    # without waiting, has finished.
    _wait_for(lambda: len(staged()) == 2 or second.poll() is not None, "the second delivery")
    (tmp_path / "resume").touch()
    assert _finish(first) == (0, "")
    assert _finish(second) == (0, "")
    assert (output / "out.txt").read_text() == LINES
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".out")) == []


def test_report_copy_replaces_the_file_in_one_step(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """--report replaces its file in one step, never rewriting it in place, so jobs given
    the same path (or a reader holding the earlier report) never see two reports
    interleaved or half of one."""
    request = write_request(tmp_path / "job.json", app=RAW_APP, source=source)
    report = tmp_path / "r.json"
    first = simulate(request, "--report", report)
    assert first.returncode == 0, first.stderr
    held = tmp_path / "held.json"
    os.link(report, held)  # the earlier report, as one who opened it reads it
    second = simulate(request, "--report", report)
    assert second.returncode == 0, second.stderr
    assert json.loads(held.read_text())["job"]["id"] == first.job_dir.name
    assert json.loads(report.read_text())["job"]["id"] == second.job_dir.name
    assert oct(report.stat().st_mode & 0o777) == oct(held.stat().st_mode & 0o777)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".r.json")) == []
