"""The simulator behaves as the platform does: report, logs, parallel tasks, retries,
timeouts, result collection, data sources and destinations, overrides and look-ups.

Every test runs ``python -m bytenite_runtime.simulate`` as a subprocess in ``tmp_path``.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path

import pytest
from conftest import (
    FIXTURES,
    LINES,
    REPO,
    SimRun,
    Simulate,
    delivered_names,
    needs_root,
    write_component,
    write_json,
    write_request,
)

from bytenite_runtime._log import Redactor

RAW_APP = FIXTURES / "raw_app"
RAW_PARTITIONER = FIXTURES / "raw_partitioner"
RAW_ASSEMBLER = FIXTURES / "raw_assembler"

# Apps below use only the standard library unless they say ``from bytenite_runtime``.
# Each task waits (up to 20s) until ``expect`` tasks have started: only tasks running at
# the same time can all get past it, which shows parallelism without relying on timing.
TIMING_APP = """
    import json, os, time
    from pathlib import Path

    started = time.time()
    cache = Path(os.environ["USER_CACHE_DIR"])
    chunk = os.environ["CHUNK_NUMBER"]
    (cache / f"started-{chunk}").touch()
    expect = json.loads(os.environ["APP_PARAMS"])["expect"]
    deadline = time.time() + 20
    while len(list(cache.glob("started-*"))) < expect and time.time() < deadline:
        time.sleep(0.01)
    met = len(list(cache.glob("started-*"))) >= expect
    time.sleep(0.2)
    out = Path(os.environ["TASK_RESULTS_DIR"]) / f"t{chunk}.json"
    out.write_text(json.dumps({"started": started, "finished": time.time(), "met": met}))
"""

FLAKY_APP = """
    import os, sys
    from pathlib import Path

    marker = Path(os.environ["USER_CACHE_DIR"]) / f"attempted-{os.environ['CHUNK_NUMBER']}"
    if not marker.exists():
        marker.write_text("1")
        print("error: first attempt fails on purpose", file=sys.stderr)
        sys.exit(3)
    (Path(os.environ["TASK_RESULTS_DIR"]) / "ok.txt").write_text("second time lucky")
"""

FAILING_APP = """
    import sys

    print("INFO starting", file=sys.stderr)
    print("error: this task always fails", file=sys.stderr)
    sys.exit(3)
"""

# Ignores SIGTERM and leaves a child that ignores it too: only killing the whole
# process group with SIGKILL stops them.
HANGING_APP = """
    import os, signal, subprocess, time
    from pathlib import Path

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = subprocess.Popen(["sleep", "60"])
    cache = Path(os.environ["USER_CACHE_DIR"])
    (cache / f"pids-{os.environ['CHUNK_NUMBER']}").write_text(f"{os.getpid()} {child.pid}")
    time.sleep(60)
"""

ORPHANING_APP = """
    import os, subprocess
    from pathlib import Path

    child = subprocess.Popen(["sleep", "60"])
    (Path(os.environ["USER_CACHE_DIR"]) / "orphan.pid").write_text(str(child.pid))
    (Path(os.environ["TASK_RESULTS_DIR"]) / "done.txt").write_text("done")
"""

LOGGING_APP = """
    import sys
    from bytenite_runtime import task

    @task.app
    def main(ctx):
        print("ERROR something broke (not really)", file=sys.stderr)
        print("warning: low on patience", file=sys.stderr)
        print("[debug] x=1", file=sys.stderr)
        print("just a plain line")
        ctx.log.warning("library warning")
        ctx.results.write_text("r.txt", "ok")

    if __name__ == "__main__":
        main.run()
"""

INDEX_APP = """
    import os
    from bytenite_runtime import task

    @task.app
    def main(ctx):
        number = os.environ.get("CHUNK_NUMBER", "absent")
        ctx.results.write_text("part.txt", f"{ctx.chunk.index}|{number}|{ctx.chunk.read_text()}")

    if __name__ == "__main__":
        main.run()
"""


def _iso(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def _is_alive(pid: int) -> bool:
    # A killed child re-parented to a PID 1 that does not reap stays a zombie: it is gone.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_dead(pids: list[int], within: float = 5.0) -> list[int]:
    deadline = time.time() + within
    alive = pids
    while alive and time.time() < deadline:
        alive = [p for p in alive if _is_alive(p)]
        if alive:
            time.sleep(0.1)
    return alive


# -- report and logs ------------------------------------------------------------------


def test_report_records_job_tasks_and_components(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """The job report records states, ISO timestamps, durations, attempts, exit codes, chunk
    count, tags, config and output files; --report copies it."""
    request = write_request(
        tmp_path / "job.json",
        app=RAW_APP,
        partitioner=RAW_PARTITIONER,
        assembler=RAW_ASSEMBLER,
        source=source,
        params={"partitioner": {"num_chunks": 3}, "app": {"name": "p{chunk}.txt"}},
        config={"taskTimeout": 30, "jobTimeout": 60, "maxTaskRetries": 2},
    )
    copy = tmp_path / "reports" / "copy.json"
    run = simulate(request, "--report", copy)
    assert run.returncode == 0, run.stderr
    report = run.report
    assert json.loads(copy.read_text()) == report
    job = report["job"]
    assert job["id"] == run.job_dir.name
    assert job["folder"] == str(run.job_dir)
    assert job["state"] == "Complete"
    assert job["reason"] is None
    assert job["chunks"] == 3
    assert job["parallelism"] == 2
    assert job["template"] == {
        "app": str(RAW_APP),
        "partitioner": str(RAW_PARTITIONER),
        "assembler": str(RAW_ASSEMBLER),
    }
    assert job["config"]["taskTimeout"] == 30
    assert job["config"]["jobTimeout"] == 60
    assert job["config"]["maxTaskRetries"] == 2
    started, finished = _iso(job["startedAt"]), _iso(job["finishedAt"])
    assert started <= finished
    assert job["durationSeconds"] == pytest.approx(finished - started, abs=0.01)
    for name in ("partitioner", "assembler"):
        event = report[name]
        assert event["state"] == "Completed"
        assert event["exitCode"] == 0
        assert Path(event["log"]).is_file()
        assert started <= _iso(event["startedAt"]) <= _iso(event["finishedAt"]) <= finished
    assert [t["chunk"] for t in report["tasks"]] == [0, 1, 2]
    for task in report["tasks"]:
        assert task["state"] == "Completed"
        assert task["exitCode"] == 0
        assert task["results"] == [f"p{task['chunk']}.txt"]
        [attempt] = task["attempts"]
        assert attempt["attempt"] == 1
        assert attempt["state"] == "Completed"
        assert attempt["exitCode"] == 0
        assert attempt["reason"] is None
        assert _iso(attempt["scheduledAt"]) <= _iso(attempt["startedAt"])
        assert _iso(attempt["startedAt"]) <= _iso(attempt["finishedAt"])
        assert attempt["durationSeconds"] >= 0
        assert _iso(report["partitioner"]["finishedAt"]) <= _iso(task["startedAt"])
        assert _iso(task["finishedAt"]) <= _iso(report["assembler"]["startedAt"])
    assert report["collisions"] == []
    assert report["output"]["destination"] == "bucket"
    assert report["output"]["folder"] == str(run.output)
    assert report["output"]["files"] == [str(run.output / "joined.txt")]


def test_logs_are_json_lines_per_component_with_levels(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """Each component's output lands in logs/<component>.jsonl, one record per line with
    its level (error, warning, info, debug, unknown), stream and attempt."""
    app = write_component(tmp_path / "logging-app", LOGGING_APP)
    run = simulate(write_request(tmp_path / "job.json", app=app, source=source))
    assert run.returncode == 0, run.stderr
    logs = sorted(p.name for p in (run.job_dir / "logs").iterdir())
    assert logs == ["assembler.jsonl", "partitioner.jsonl", "task-00000.jsonl"]
    records = run.log("task-00000")
    levels = {r["message"]: (r["level"], r["stream"]) for r in records}
    assert levels["ERROR something broke (not really)"] == ("error", "stderr")
    assert levels["warning: low on patience"] == ("warning", "stderr")
    assert levels["[debug] x=1"] == ("debug", "stderr")
    assert levels["just a plain line"] == ("unknown", "stdout")
    assert levels["WARNING bytenite.app: library warning"] == ("warning", "stderr")
    for record in records:
        assert record["component"] == "task-00000"
        assert record["attempt"] == 1
        assert isinstance(record["timestamp"], float)
    partitioner = run.log("partitioner")
    assert "info" in {r["level"] for r in partitioner}
    assert all(r["component"] == "partitioner" and "attempt" not in r for r in partitioner)


def test_job_folder_keeps_only_logs_and_report_unless_keep(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """After a job only logs/ and report.json remain in its folder; --keep also keeps the
    source, chunks, task folders, results and output."""
    request = write_request(tmp_path / "job.json", app=RAW_APP, source=source)
    run = simulate(request)
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in run.job_dir.iterdir()) == ["logs", "report.json"]
    kept = simulate(request, "--keep")
    assert kept.returncode == 0, kept.stderr
    names = {p.name for p in kept.job_dir.iterdir()}
    assert {"source", "chunks", "tasks", "results", "output"} <= names
    assert (kept.job_dir / "chunks" / "data_0.bin").read_text() == LINES


# -- execution --------------------------------------------------------------------------


@pytest.mark.parametrize("parallelism", [2, 4])
def test_tasks_run_in_parallel_up_to_the_limit(
    simulate: Simulate, tmp_path: Path, source: Path, parallelism: int
) -> None:
    """With -j N, N tasks run at the same time (they meet at a barrier) and never more."""
    app = write_component(tmp_path / "timing-app", TIMING_APP)
    request = write_request(
        tmp_path / "job.json",
        app=app,
        partitioner="replicate-fanout",
        source=source,
        params={"partitioner": {"num_replicas": 4}, "app": {"expect": parallelism}},
    )
    run = simulate(request, "-j", str(parallelism))
    assert run.returncode == 0, run.stderr
    spans = [json.loads((run.output / f"t{i}.json").read_text()) for i in range(4)]
    assert all(s["met"] for s in spans)
    concurrency = max(
        sum(s["started"] <= probe["started"] < s["finished"] for s in spans) for probe in spans
    )
    assert concurrency == parallelism


def test_failed_attempt_is_retried(simulate: Simulate, tmp_path: Path, source: Path) -> None:
    """A task that fails its first attempt succeeds on retry with maxTaskRetries 1, and the
    report shows both attempts."""
    app = write_component(tmp_path / "flaky-app", FLAKY_APP)
    cache = tmp_path / "my-cache"
    cache.mkdir()
    request = write_request(
        tmp_path / "job.json", app=app, source=source, config={"maxTaskRetries": 1}
    )
    run = simulate(request, "--user-cache", cache)
    assert run.returncode == 0, run.stderr
    [task] = run.report["tasks"]
    assert task["state"] == "Completed"
    assert [a["state"] for a in task["attempts"]] == ["Failed", "Completed"]
    assert [a["exitCode"] for a in task["attempts"]] == [3, 0]
    assert "first attempt fails on purpose" in task["attempts"][0]["reason"]
    assert (run.output / "ok.txt").read_text() == "second time lucky"
    attempts = {r["attempt"] for r in run.log("task-00000")}
    assert attempts == {1}  # the second attempt printed nothing


def test_task_exhausting_retries_fails_the_job(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """A task failing every attempt fails the job: exit code 5, one error line naming the
    task, attempts recorded, and no output folder."""
    app = write_component(tmp_path / "failing-app", FAILING_APP)
    request = write_request(
        tmp_path / "job.json", app=app, source=source, config={"maxTaskRetries": 1}
    )
    run = simulate(request)
    assert run.returncode == 5
    line = run.last_error_line
    assert line.startswith("error: job ")
    assert "task 0" in line
    assert "this task always fails" in line
    assert "after 2 attempts" in line
    assert run.stderr.strip() == line
    report = run.report
    assert report["job"]["state"] == "Failed"
    assert "task 0" in report["job"]["reason"]
    [task] = report["tasks"]
    assert task["state"] == "Failed"
    assert [a["exitCode"] for a in task["attempts"]] == [3, 3]
    assert report["assembler"] is None
    assert not run.output.exists()


def _hanging_fanout(
    tmp_path: Path, source: Path, replicas: int, config: Mapping[str, int] | None = None
) -> Path:
    """A request whose ``replicas`` tasks all hang (each with a child)."""
    app = write_component(tmp_path / "hanging-app", HANGING_APP)
    return write_request(
        tmp_path / "job.json",
        app=app,
        partitioner="replicate-fanout",
        source=source,
        params={"partitioner": {"num_replicas": replicas}},
        config=config,
    )


def test_job_timeout_stops_every_running_task(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """jobTimeout fails the job soon after it passes and kills every running task and its
    children."""
    request = _hanging_fanout(tmp_path, source, 2, config={"jobTimeout": 2})
    began = time.monotonic()
    run = simulate(request, timeout=60)
    elapsed = time.monotonic() - began
    assert run.returncode == 5
    assert "jobTimeout of 2s exceeded" in run.last_error_line
    assert elapsed < 20
    pids = [
        int(pid)
        for i in range(2)
        for pid in (tmp_path / "cache" / "user" / f"pids-{i}").read_text().split()
    ]
    assert _wait_dead(pids) == []
    assert [t["state"] for t in run.report["tasks"]] == ["Failed", "Failed"]
    assert not run.output.exists()


def test_no_retry_starts_after_the_job_timeout(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """A task stopped by jobTimeout is not retried: the job is over, one attempt counted."""
    app = write_component(tmp_path / "hanging-app", HANGING_APP)
    request = write_request(
        tmp_path / "job.json",
        app=app,
        source=source,
        config={"jobTimeout": 2, "maxTaskRetries": 3},
    )
    run = simulate(request, timeout=60)
    assert run.returncode == 5
    assert "task 0: jobTimeout of 2s exceeded (after 1 attempt)" in run.last_error_line
    assert [len(t["attempts"]) for t in run.report["tasks"]] == [1]


CRASH_OR_HANG_APP = """
    import os, time

    if os.environ["CHUNK_NUMBER"] == "0":
        raise SystemExit(3)
    time.sleep(60)
"""


def test_tasks_stopped_by_a_failing_job_are_cancelled_not_failed(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """When one task fails the job, the tasks still running are stopped at once and recorded
    as Cancelled, their stopped attempt too, so the report blames only the task that failed."""
    app = write_component(tmp_path / "crash-or-hang", CRASH_OR_HANG_APP)
    request = write_request(
        tmp_path / "job.json",
        app=app,
        partitioner="replicate-fanout",
        source=source,
        params={"partitioner": {"num_replicas": 2}},
        config={"taskTimeout": 60},
    )
    began = time.monotonic()
    run = simulate(request, "-j", "2", timeout=60)
    assert run.returncode == 5
    assert time.monotonic() - began < 20
    assert "task 0: exited with code 3" in run.last_error_line
    assert [t["state"] for t in run.report["tasks"]] == ["Failed", "Cancelled"]
    attempts = [[a["state"] for a in t["attempts"]] for t in run.report["tasks"]]
    assert attempts == [["Failed"], ["Cancelled"]]


def test_task_timeout_kills_the_whole_process_group(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """taskTimeout stops a hanging task, including a child it spawned, even when both
    ignore SIGTERM."""
    app = write_component(tmp_path / "hanging-app", HANGING_APP)
    request = write_request(
        tmp_path / "job.json", app=app, source=source, config={"taskTimeout": 2}
    )
    began = time.monotonic()
    run = simulate(request, timeout=60)
    elapsed = time.monotonic() - began
    assert run.returncode == 5
    assert "task 0: taskTimeout of 2s exceeded" in run.last_error_line
    assert elapsed < 20
    app_pid, child_pid = map(int, (tmp_path / "cache" / "user" / "pids-0").read_text().split())
    assert _wait_dead([app_pid, child_pid]) == []
    [attempt] = run.report["tasks"][0]["attempts"]
    assert attempt["state"] == "Failed"
    assert "taskTimeout" in attempt["reason"]


def test_children_left_behind_by_a_finished_task_are_stopped(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """A child process still running when its task exits is stopped, as the container
    holding it would be."""
    app = write_component(tmp_path / "orphaning-app", ORPHANING_APP)
    run = simulate(write_request(tmp_path / "job.json", app=app, source=source), timeout=60)
    assert run.returncode == 0, run.stderr
    pid = int((tmp_path / "cache" / "user" / "orphan.pid").read_text())
    assert _wait_dead([pid]) == []


def test_task_killed_by_a_signal_is_named_so(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """A task killed by a signal (a crash, the OOM killer) fails the job saying which
    signal, not as an exit code of -11."""
    app = write_component(
        tmp_path / "crashing-app", "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n"
    )
    run = simulate(write_request(tmp_path / "job.json", app=app, source=source))
    assert run.returncode == 5
    assert "task 0: was killed by SIGSEGV (after 1 attempt)" in run.last_error_line
    assert run.report["tasks"][0]["attempts"][0]["reason"] == "task 0: was killed by SIGSEGV"


@pytest.mark.parametrize("role", ["app", "assembler"])
def test_component_killed_by_a_signal_has_the_exit_code_a_container_gives(
    simulate: Simulate, tmp_path: Path, source: Path, role: str
) -> None:
    """A component killed by signal N is reported with exit code 128 + N (139 for
    SIGSEGV), as a container's, not subprocess's -N, and its reason still names the
    signal."""
    crashing = write_component(
        tmp_path / f"crashing-{role}",
        "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n",
        kind=None if role == "app" else role,
    )
    components = {"app": crashing} if role == "app" else {"app": RAW_APP, role: crashing}
    run = simulate(write_request(tmp_path / "job.json", source=source, **components))
    assert run.returncode == 5
    if role == "app":
        [task] = run.report["tasks"]
        [attempt] = task["attempts"]
        assert (task["exitCode"], attempt["exitCode"]) == (139, 139)
        assert attempt["reason"] == "task 0: was killed by SIGSEGV"
    else:
        event = run.report[role]
        assert event["exitCode"] == 139
        assert event["reason"] == f"{role}: was killed by SIGSEGV"


# Leaves a child in a session of its own (as a daemon or `setsid cmd &` does), out of
# reach of a kill of the task's process group.
ESCAPING_CHILD_APP = """
    import os, subprocess
    from pathlib import Path

    child = subprocess.Popen(["sleep", "60"], start_new_session=True)
    (Path(os.environ["USER_CACHE_DIR"]) / "escaped.pid").write_text(str(child.pid))
    (Path(os.environ["TASK_RESULTS_DIR"]) / "done.txt").write_text("done")
"""


def test_children_left_in_a_session_of_their_own_are_stopped(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """A child that left its task's process group for a session of its own is stopped
    once the tasks end, as the container holding it would be, and the report says so."""
    app = write_component(tmp_path / "escaping-app", ESCAPING_CHILD_APP)
    run = simulate(write_request(tmp_path / "job.json", app=app, source=source), timeout=60)
    pid = int((tmp_path / "cache" / "user" / "escaped.pid").read_text())
    alive = _wait_dead([pid])
    for stray in alive:
        os.kill(stray, signal.SIGKILL)
    assert alive == []
    assert run.returncode == 0, run.stderr
    [warning] = run.report["warnings"]
    assert warning.startswith("app: 1 process(es) it started in a session of their own")


# Writes APP_PARAMS.text, repeated APP_PARAMS.times, to stderr without a newline; fails.
STDERR_APP = """
    import json, os, sys

    params = json.loads(os.environ["APP_PARAMS"])
    sys.stderr.write(params["text"] * params["times"])
    sys.exit(1)
"""


@pytest.mark.parametrize(
    ("text", "times", "quoted"),
    [
        ("\rprocessing [####....]", 50_000, "exited with code 1: processing [####....] (after"),
        ("\rerror: out of memory", 1, "exited with code 1: error: out of memory (after"),
        ("x", 200_000, "exited with code 1: " + "x" * 200 + "…" + "x" * 200 + " (after"),
        ("error: \x1b[2J\x1b[31mboom", 1, "error: \\x1b[2J\\x1b[31mboom (after"),
    ],
    ids=["progress-bar", "error-after-cr", "long-line", "escape-sequence"],
)
def test_failure_reason_quotes_what_a_terminal_shows_of_the_last_stderr_line(
    simulate: Simulate, tmp_path: Path, source: Path, text: str, times: int, quoted: str
) -> None:
    """The reason of a failed task quotes the part of its last stderr line after the last
    CR (a progress bar redrawn), with control characters escaped and at most 400
    characters, not a line of megabytes or an escape sequence that redraws the terminal."""
    app = write_component(tmp_path / "stderr-app", STDERR_APP)
    params = {"app": {"text": text, "times": times}}
    run = simulate(write_request(tmp_path / "job.json", app=app, source=source, params=params))
    assert run.returncode == 5
    assert quoted in run.last_error_line
    assert len(run.last_error_line) < 700
    assert "\x1b" not in run.stderr and "\r" not in run.stderr
    assert quoted.split(": ", 1)[1].split(" (after")[0] in run.report["job"]["reason"]


def test_output_without_newlines_is_logged_in_pieces_of_bounded_size(tmp_path: Path) -> None:
    """Output with no newline (a progress bar redrawn with CR) is logged as lines of at
    most ``_LONGEST`` bytes, every byte kept in order, instead of one unbounded line that
    is re-copied on every read."""
    from bytenite_runtime.simulate import _logsink, _process

    sink = _logsink.LogSink(tmp_path / "log.jsonl", "app", Redactor())
    pending = {"stdout": bytearray()}
    sent = b"".join(b"%07d\r" % i for i in range(300_000))  # 2.4 MB, no newline
    try:
        for start in range(0, len(sent), 1 << 16):
            _process._take(pending, "stdout", sent[start : start + (1 << 16)], sink, None)
        _process._take(pending, "stdout", b"done\nnext", sink, None)
    finally:
        sink.close()
    messages = [json.loads(line)["message"] for line in sink.path.read_text().splitlines()]
    assert all(len(m) <= _process._LONGEST for m in messages)
    assert len(messages) == len(sent) // _process._LONGEST + 1
    # The sink strips a line's trailing CR, so compare without them.
    assert "".join(messages).replace("\r", "") == (sent + b"done").decode().replace("\r", "")
    assert bytes(pending["stdout"]) == b"next"


def test_secret_across_the_cut_of_a_long_line_is_masked(tmp_path: Path) -> None:
    """A secret that straddles the point where output without a newline is cut into
    ``_LONGEST``-byte pieces is masked whole, not logged half in each piece."""
    from bytenite_runtime.simulate import _logsink, _process

    secret = "pässwörd-PLANTED".encode()
    sink = _logsink.LogSink(tmp_path / "log.jsonl", "app", Redactor([secret.decode()]))
    pending = {"stdout": bytearray()}
    head = b"x" * (_process._LONGEST - 5)
    try:
        _process._take(pending, "stdout", head + secret[:7], sink, None)
        _process._take(pending, "stdout", secret[7:] + b" done\n", sink, None)
    finally:
        sink.close()
    messages = [json.loads(line)["message"] for line in sink.path.read_text().splitlines()]
    assert "".join(messages) == head.decode() + "*** done"
    assert not any(part in m for m in messages for part in ("päss", "PLANTED"))


class _FileFlag:
    """Set once its file exists: a child process says it is ready by writing it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def is_set(self) -> bool:
        return self.path.exists()


def test_second_stop_request_kills_without_the_grace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``hurry`` set (a second Ctrl-C), a stopped component that ignores SIGTERM is
    killed at once instead of after the SIGTERM grace (made a minute long here)."""
    from bytenite_runtime.simulate import _logsink, _process

    monkeypatch.setattr(_process, "_KILL_GRACE", 60.0)
    ready = tmp_path / "ready"
    ignoring = (
        "import signal, time, pathlib\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"pathlib.Path({str(ready)!r}).write_text('')\n"
        "time.sleep(120)\n"
    )
    sink = _logsink.LogSink(tmp_path / "log.jsonl", "app", Redactor())
    flag = _FileFlag(ready)
    began = time.monotonic()
    try:
        outcome = _process.run_process(
            [sys.executable, "-c", ignoring], {}, tmp_path, 90, sink, None, flag, flag
        )
    finally:
        sink.close()
    assert outcome.cancelled and outcome.exit_code == 128 + signal.SIGKILL
    assert outcome.killed_by == signal.SIGKILL
    assert time.monotonic() - began < 30


@pytest.mark.parametrize(
    ("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"]
)
def test_signal_stops_running_tasks_and_reports_the_job_cancelled(
    tmp_path: Path, source: Path, sig: signal.Signals, code: int
) -> None:
    """SIGINT or SIGTERM to the simulator kills its running tasks' process groups (children
    that ignore SIGTERM too), starts no other task, writes a Cancelled report, delivers
    nothing, prints one error line without a traceback and exits 128 + the signal."""
    request = _hanging_fanout(tmp_path, source, 3)
    cache, workdir, output = tmp_path / "cache", tmp_path / "wd", tmp_path / "out"
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "bytenite_runtime.simulate", str(request),
            "--workdir", str(workdir), "--user-cache", str(cache / "user"),
            "--shared-cache", str(cache / "shared"), "-j", "2", "-q", "--output", str(output),
        ],
        cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        pid_files = [cache / "user" / f"pids-{i}" for i in range(3)]
        deadline = time.time() + 30
        while time.time() < deadline:
            written = [f.read_text().split() for f in pid_files if f.exists()]
            if len([w for w in written if len(w) == 2]) == 2:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the tasks did not start")
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    pids = [int(pid) for pids in written for pid in pids]
    assert _wait_dead(pids) == []
    assert proc.returncode == code, stderr
    name = signal.Signals(sig).name
    [line] = stderr.splitlines()
    assert re.fullmatch(
        rf"error: job job-\S+ interrupted \({name}\); 2 running task\(s\) stopped "
        rf"\(report: .*report\.json\)",
        line,
    ), line
    [job_dir] = workdir.iterdir()
    report = json.loads((job_dir / "report.json").read_text())
    assert report["job"]["state"] == "Cancelled"
    assert report["job"]["reason"] == f"interrupted ({name})"
    assert report["job"]["stoppedTasks"] == 2
    assert [t["state"] for t in report["tasks"]] == ["Cancelled"] * 3
    assert sorted(len(t["attempts"]) for t in report["tasks"]) == [0, 1, 1]
    assert report["output"]["files"] == []
    assert not output.exists()
    assert sorted(p.name for p in job_dir.iterdir()) == ["logs", "report.json"]


# -- results ----------------------------------------------------------------------------


def _colliding(tmp_path: Path, source: Path) -> Path:
    return write_request(
        tmp_path / "job.json",
        app=RAW_APP,
        partitioner="replicate-fanout",
        source=source,
        params={"partitioner": {"num_replicas": 2}, "app": {"mode": "params", "name": "out.txt"}},
    )


def test_result_name_collision_is_renamed_and_recorded(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """Two tasks writing out.txt keep both files: the second is renamed and the rename is
    recorded in the report's collisions."""
    run = simulate(_colliding(tmp_path, source))
    assert run.returncode == 0, run.stderr
    [collision] = run.report["collisions"]
    assert collision["name"] == "out.txt"
    assert collision["chunk"] == 1
    assert collision["firstChunk"] == 0
    renamed = collision["renamedTo"]
    assert renamed != "out.txt"
    assert run.delivered == sorted(["out.txt", renamed])
    assert run.report["tasks"][1]["results"] == [renamed]


def test_result_name_collision_fails_the_job_when_asked(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """With --on-collision fail, two tasks writing out.txt fail the job naming the file and
    the task."""
    run = simulate(_colliding(tmp_path, source), "--on-collision", "fail")
    assert run.returncode == 5
    line = run.last_error_line
    assert line.startswith("error: job ")
    assert "'out.txt'" in line
    assert "task 1" in line
    assert run.report["job"]["state"] == "Failed"
    assert not run.output.exists()


LINKING_APP = """
    import os
    from pathlib import Path

    results = Path(os.environ["TASK_RESULTS_DIR"])
    (results / "own.txt").write_text("own " + os.environ["CHUNK_NUMBER"])
    (results / "link.txt").symlink_to("own.txt")
    (results / "chunk.bin").symlink_to(Path(os.environ["TASK_DIR"]) / "data.bin")
"""


def test_a_result_that_is_a_symbolic_link_is_collected_as_the_file_it_names(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """A raw app's symbolic-link result is collected as its own task's file, never as a link
    that the collision rename points at another task's file or the task folder's removal
    leaves dangling."""
    app = write_component(tmp_path / "linking-app", LINKING_APP)
    request = write_request(
        tmp_path / "job.json",
        app=app,
        partitioner="replicate-fanout",
        source=source,
        params={"partitioner": {"num_replicas": 2}},
    )
    run = simulate(request)
    assert run.returncode == 0, run.stderr
    assert run.output is not None
    delivered = {n: (run.output / n).read_bytes() for n in delivered_names(run.output)}
    assert not any((run.output / n).is_symlink() for n in delivered)
    assert delivered == {
        "own.txt": b"own 0",
        "own~task1.txt": b"own 1",
        "link.txt": b"own 0",
        "link~task1.txt": b"own 1",
        "chunk.bin": LINES.encode(),
        "chunk~task1.bin": LINES.encode(),
    }


def _indexed_job(tmp_path: Path, source: Path, assembler: str, **partitioner: object) -> Path:
    app = write_component(tmp_path / "index-app", INDEX_APP)
    return write_request(
        tmp_path / "job.json",
        app=app,
        partitioner="replicate-fanout",
        assembler=assembler,
        source=source,
        params={"partitioner": {"num_replicas": 3, **partitioner}},
    )


def test_prefixed_results_keep_their_order_in_zipper(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """With --prefix-results, library results still carry their chunk index, so zipper
    writes the entries in chunk order."""
    run = simulate(_indexed_job(tmp_path, source, "zipper"), "--prefix-results")
    assert run.returncode == 0, run.stderr
    results = [r for t in run.report["tasks"] for r in t["results"]]
    assert all(re.fullmatch(r"[0-9a-f]{8}_chunk-00000[0-2]\.part\.txt", r) for r in results)
    with zipfile.ZipFile(run.output / "results_archive.zip") as archive:
        bodies = [archive.read(n).decode() for n in archive.namelist()]
    assert bodies == [f"{i}|{i}|{LINES}" for i in range(3)]


def test_prefixed_results_are_joined_in_order_by_concat(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """With --prefix-results, concat still joins every task's part.txt into one part.txt in
    chunk order."""
    run = simulate(_indexed_job(tmp_path, source, "concat"), "--prefix-results")
    assert run.returncode == 0, run.stderr
    assert run.delivered == ["part.txt"]
    assert (run.output / "part.txt").read_text() == "".join(f"{i}|{i}|{LINES}" for i in range(3))


def test_footer_metadata_orders_results_without_chunk_number(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """Without CHUNK_NUMBER, chunk_metadata 'footer' still gives a library app its index
    (and the payload without the footer), so concat output is in chunk order."""
    request = _indexed_job(tmp_path, source, "concat", chunk_metadata="footer")
    run = simulate(request, "--no-chunk-number")
    assert run.returncode == 0, run.stderr
    assert (run.output / "part.txt").read_text() == "".join(f"{i}|absent|{LINES}" for i in range(3))


def test_without_chunk_number_or_metadata_concat_refuses_to_guess(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """Without CHUNK_NUMBER and without chunk metadata, concat fails the job naming an
    unordered result rather than joining in an arbitrary order."""
    run = simulate(_indexed_job(tmp_path, source, "concat"), "--no-chunk-number")
    assert run.returncode == 5
    line = run.last_error_line
    assert "assembler" in line
    assert "no chunk index" in line
    assert not run.output.exists()


# -- the example ------------------------------------------------------------------------


def test_hello_world_example_runs(simulate: Simulate, tmp_path: Path) -> None:
    """examples/hello-world/job.json runs as shipped and upper-cases its input."""
    example = REPO / "examples" / "hello-world"
    run = simulate(example / "job.json")
    assert run.returncode == 0, run.stderr
    expected = (example / "input.txt").read_text().upper()
    assert run.delivered == ["hello_world_processed.txt"]
    assert (run.output / "hello_world_processed.txt").read_text() == expected
    assert run.report["job"]["name"] == "hello world"
    assert run.report["job"]["config"]["maxTaskRetries"] == 1


# -- data sources -----------------------------------------------------------------------


NESTING_PARTITIONER = """
    import os
    from pathlib import Path

    chunks = Path(os.environ["CHUNKS_DIR"])
    (chunks / "data_0.bin").write_text("top\\n")
    (chunks / "sub").mkdir()
    (chunks / "sub" / "data_1.bin").write_text("nested\\n")
"""


def _with_partitioner(
    simulate: Simulate, folder: Path, code: str, source: Path, *, quiet: bool = True
) -> SimRun:
    """The raw app's job on ``source`` with a partitioner made of ``code`` in ``folder``."""
    partitioner = write_component(folder, code)
    request = write_request(
        folder.parent / "job.json", app=RAW_APP, partitioner=partitioner, source=source
    )
    return simulate(request, quiet=quiet)


def test_chunk_in_a_subfolder_of_chunks_dir_is_named_in_a_warning(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """A file the partitioner writes in a subfolder of CHUNKS_DIR is not a task, and the
    report's warnings and the partitioner's log name its path."""
    run = _with_partitioner(simulate, tmp_path / "nesting", NESTING_PARTITIONER, source)
    assert run.returncode == 0, run.stderr
    assert run.report["job"]["chunks"] == 1
    [warning] = run.report["warnings"]
    assert warning.startswith("partitioner: 'CHUNKS_DIR/sub/data_1.bin': in a subfolder")
    [record] = [r for r in run.log("partitioner") if r["stream"] == "simulate"]
    assert record["level"] == "warning"
    assert "'CHUNKS_DIR/sub/data_1.bin'" in record["message"]


def test_warnings_the_job_gave_are_printed_up_to_five(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """The warnings a job gives while it runs are printed on stderr too, the first five
    and how many more the report holds, not only counted in the summary line."""
    app = write_component(
        tmp_path / "nesting-app",
        """
        import os
        from pathlib import Path

        results = Path(os.environ["TASK_RESULTS_DIR"])
        (results / "out.txt").write_text("x")
        (results / "sub").mkdir()
        """,
    )
    request = write_request(
        tmp_path / "job.json",
        app=app,
        partitioner="replicate-fanout",
        source=source,
        params={"partitioner": {"num_replicas": 7}},
    )
    run = simulate(request, quiet=False)
    assert run.returncode == 0, run.stderr
    assert len(run.report["warnings"]) == 7
    printed = [line for line in run.stderr.splitlines() if line.startswith("warning: ")]
    assert printed == [
        *(f"warning: {w}" for w in run.report["warnings"][:5]),
        "warning: … and 2 more in the report",
    ]
    assert run.stdout.rstrip().endswith("(7 warnings there)"), run.stdout


def test_an_app_that_never_runs_its_entry_point_is_named_in_a_warning(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """Tasks that all succeed without writing a result (an app script that never calls
    main.run()) get a printed warning saying so before the assembler's failure."""
    app = write_component(
        tmp_path / "no-run",
        """
        from bytenite_runtime import task

        @task.app
        def main(ctx):
            ctx.results.write_text("out.txt", "x")
        """,
    )
    request = write_request(tmp_path / "job.json", app=app, assembler="concat", source=source)
    run = simulate(request, quiet=False)
    assert run.returncode != 0
    lines = run.stderr.splitlines()
    assert lines[-2] == (
        "warning: app: none of the 1 task(s) wrote a result; does the app's entrypoint call "
        "main.run() (under if __name__ == '__main__')?"
    )
    assert "no results to concatenate" in lines[-1]


def test_an_app_that_ends_with_os_exit_is_named_in_a_warning(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """A task that ends with os._exit(0), skipping the commit of its results, is warned
    about as such, not as a folder among its results or an app that never ran."""
    app = write_component(
        tmp_path / "os-exit",
        """
        import os

        from bytenite_runtime import task

        @task.app
        def main(ctx):
            ctx.results.write_text("out.txt", "x")
            os._exit(0)

        if __name__ == "__main__":
            main.run()
        """,
    )
    request = write_request(tmp_path / "job.json", app=app, source=source)
    run = simulate(request)
    assert run.returncode == 0, run.stderr
    (warning,) = run.report["warnings"]
    assert warning.startswith("task 0: exited with code 0 before its results were committed")
    assert "os._exit() skips the commit main.run() makes" in warning


ODD_NAME_PARTITIONER = """
    import os
    from pathlib import Path

    chunks = Path(os.environ["CHUNKS_DIR"])
    (chunks / "data_0.bin").write_text("first\\n")
    (chunks / "chunk.txt").write_text("second\\n")
"""


def test_chunk_not_named_data_i_bin_is_named_in_a_warning(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """A chunk file not named data_<i>.bin still becomes a task, and the report's warnings,
    the summary line and the partitioner's log say so, as for a chunk in a subfolder."""
    run = _with_partitioner(
        simulate, tmp_path / "odd-names", ODD_NAME_PARTITIONER, source, quiet=False
    )
    assert run.returncode == 0, run.stderr
    assert run.report["job"]["chunks"] == 2
    assert run.report["warnings"] == [
        "partitioner: files not named data_<i>.bin became tasks too: ['chunk.txt']"
    ]
    assert run.stdout.rstrip().endswith("(1 warning there)"), run.stdout
    [record] = [r for r in run.log("partitioner") if r["stream"] == "simulate"]
    assert "files not named data_<i>.bin became tasks too" in record["message"]


@pytest.mark.parametrize(
    ("names", "first", "task"), [((1, 2), "data_1.bin", 0), ((0, 2), "data_2.bin", 1)]
)
def test_chunk_numbers_with_a_gap_are_named_in_a_warning(
    simulate: Simulate,
    tmp_path: Path,
    source: Path,
    names: tuple[int, int],
    first: str,
    task: int,
) -> None:
    """Chunks numbered from 1, or with a gap, still run as tasks 0…N-1, and the report's
    warnings name the first chunk whose task number differs from its name's."""
    code = "\n".join(
        ["import os", "from pathlib import Path", 'chunks = Path(os.environ["CHUNKS_DIR"])']
        + [f'(chunks / "data_{i}.bin").write_text("x\\n")' for i in names]
    )
    run = _with_partitioner(simulate, tmp_path / "gappy", code, source)
    assert run.returncode == 0, run.stderr
    assert run.report["job"]["chunks"] == 2
    assert run.report["warnings"] == [
        "partitioner: chunk files are not numbered data_0.bin, data_1.bin, … without a gap: "
        f"{first} became task {task}"
    ]


def test_folder_source_gives_one_task_per_file(simulate: Simulate, tmp_path: Path) -> None:
    """A folder --source copies every file (subfolders too), and passthrough makes one task
    per file, in path order."""
    folder = tmp_path / "many"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("first\n")
    (folder / "sub" / "b.txt").write_text("second\n")
    request = write_request(
        tmp_path / "job.json",
        app=RAW_APP,
        source=tmp_path / "missing-but-overridden.txt",
        params={"app": {"mode": "copy", "name": "r{chunk}.txt"}},
    )
    run = simulate(request, "--source", folder)
    assert run.returncode == 0, run.stderr
    assert (run.output / "r0.txt").read_text() == "first\n"
    assert (run.output / "r1.txt").read_text() == "second\n"
    assert run.report["job"]["chunks"] == 2


def test_relative_file_source_is_read_beside_the_request(
    simulate: Simulate, tmp_path: Path
) -> None:
    """A 'file' source with a relative path is found relative to the request's folder."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "data.txt").write_text("relative\n")
    request = write_request(
        folder / "job.json",
        app=RAW_APP,
        source={"dataSourceDescriptor": "file", "params": {"path": "data.txt"}},
        params={"app": {"name": "o.txt"}},
    )
    run = simulate(request)
    assert run.returncode == 0, run.stderr
    assert (run.output / "o.txt").read_text() == "RELATIVE\n"


def test_bypass_source_gives_the_partitioner_a_small_dummy_file(
    simulate: Simulate, tmp_path: Path
) -> None:
    """A bypass source still hands the partitioner exactly one small, non-empty file."""
    request = write_request(
        tmp_path / "job.json",
        app=RAW_APP,
        partitioner=RAW_PARTITIONER,
        source={"dataSourceDescriptor": "bypass"},
        params={"partitioner": {"mode": "env"}, "app": {"mode": "copy", "name": "p.json"}},
    )
    run = simulate(request)
    assert run.returncode == 0, run.stderr
    sources = json.loads((run.output / "p.json").read_text())["sources"]
    [content] = sources.values()
    assert 0 < len(content) < 1024


@pytest.fixture
def http_folder(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    folder = tmp_path / "served"
    folder.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_url_source_is_downloaded(
    simulate: Simulate, tmp_path: Path, http_folder: tuple[Path, str]
) -> None:
    """A url source is downloaded into SOURCE_DIR under the URL's file name."""
    folder, base = http_folder
    (folder / "remote data.txt").write_text("from the web\n")
    request = write_request(
        tmp_path / "job.json",
        app=RAW_APP,
        partitioner=RAW_PARTITIONER,
        source={"dataSourceDescriptor": "url", "params": {"url": f"{base}/remote%20data.txt"}},
        params={"partitioner": {"mode": "env"}, "app": {"mode": "copy", "name": "p.json"}},
    )
    run = simulate(request)
    assert run.returncode == 0, run.stderr
    sources = json.loads((run.output / "p.json").read_text())["sources"]
    assert sources == {"remote data.txt": "from the web\n"}


def test_url_source_that_is_missing_fails_naming_the_url(
    simulate: Simulate, tmp_path: Path, http_folder: tuple[Path, str]
) -> None:
    """A url source answering 404 fails before any component runs, with one error line
    naming the URL and the HTTP status."""
    _, base = http_folder
    request = write_request(
        tmp_path / "job.json",
        app=RAW_APP,
        source={"dataSourceDescriptor": "url", "params": {"url": f"{base}/nope.txt"}},
    )
    run = simulate(request)
    assert run.returncode != 0
    line = run.last_error_line
    assert line.startswith("error: ")
    assert f"{base}/nope.txt" in line
    assert "404" in line
    assert run.stderr.strip() == line
    assert not run.output.exists()


def test_failed_download_still_leaves_a_failed_report(
    simulate: Simulate, tmp_path: Path, http_folder: tuple[Path, str]
) -> None:
    """A url source that cannot be downloaded ends the job in the Failed state with a
    report naming the URL, and the job folder keeps only logs and the report."""
    _, base = http_folder
    request = write_request(
        tmp_path / "job.json",
        app=RAW_APP,
        source={"dataSourceDescriptor": "url", "params": {"url": f"{base}/nope.txt"}},
    )
    run = simulate(request)
    assert run.returncode != 0
    report = run.report
    assert report["job"]["state"] == "Failed"
    assert f"{base}/nope.txt" in report["job"]["reason"]
    assert sorted(p.name for p in run.job_dir.iterdir()) == ["logs", "report.json"]


def test_signal_during_a_download_stops_it(tmp_path: Path) -> None:
    """SIGINT while a url source trickles in stops the download within a read, not after
    the last byte: a Cancelled report, exit 130, and no partial source left behind."""
    sending = threading.Event()

    class Trickle(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(100 << 20))
            self.end_headers()
            with contextlib.suppress(OSError):
                for _ in range(2000):  # 100 s at most
                    self.wfile.write(b"x" * 1024)
                    self.wfile.flush()
                    sending.set()
                    time.sleep(0.05)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/big.bin"
    request = write_request(
        tmp_path / "job.json",
        app=RAW_APP,
        source={"dataSourceDescriptor": "url", "params": {"url": url}},
    )
    workdir = tmp_path / "wd"
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "bytenite_runtime.simulate", str(request), "-q",
            "--workdir", str(workdir), "--user-cache", str(tmp_path / "cache" / "user"),
            "--shared-cache", str(tmp_path / "cache" / "shared"),
        ],
        cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert sending.wait(30), "the download did not start"
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        server.shutdown()
        server.server_close()
    assert proc.returncode == 130, stderr
    assert re.fullmatch(
        r"error: job job-\S+ interrupted \(SIGINT\); 0 running task\(s\) stopped "
        r"\(report: .*report\.json\)",
        stderr.strip(),
    ), stderr
    [job_dir] = workdir.iterdir()
    assert json.loads((job_dir / "report.json").read_text())["job"]["state"] == "Cancelled"
    assert sorted(p.name for p in job_dir.iterdir()) == ["logs", "report.json"]


# -- destinations -----------------------------------------------------------------------


def test_file_destination_writes_to_its_path(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """A 'file' destination with a path puts the output in that folder."""
    target = tmp_path / "delivered"
    request = write_request(
        tmp_path / "job.json",
        app=RAW_APP,
        source=source,
        destination={"dataSourceDescriptor": "file", "params": {"path": str(target)}},
        params={"app": {"name": "o.txt"}},
    )
    run = simulate(request, output=None)
    assert run.returncode == 0, run.stderr
    assert (target / "o.txt").read_text() == LINES.upper()
    assert run.report["output"]["folder"] == str(target)


def test_relative_file_destination_is_written_beside_the_request(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """A 'file' destination with a relative path is relative to the request's folder, as a
    relative source is, not to the current folder."""
    folder = tmp_path / "project"
    request = write_request(
        folder / "job.json",
        app=RAW_APP,
        source=source,
        destination={"dataSourceDescriptor": "file", "params": {"path": "delivered"}},
        params={"app": {"name": "o.txt"}},
    )
    run = simulate(request, output=None)
    assert run.returncode == 0, run.stderr
    assert (folder / "delivered" / "o.txt").read_text() == LINES.upper()
    assert not (tmp_path / "delivered").exists()
    assert run.report["output"]["folder"] == str(folder / "delivered")


def test_bucket_destination_defaults_to_a_folder_per_job(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """Without --output, a bucket destination lands in bytenite-output/<job id> under the
    current folder."""
    request = write_request(
        tmp_path / "job.json",
        app=RAW_APP,
        source=source,
        destination={"dataSourceDescriptor": "bucket"},
        params={"app": {"name": "o.txt"}},
    )
    run = simulate(request, output=None)
    assert run.returncode == 0, run.stderr
    delivered = tmp_path / "bytenite-output" / run.job_dir.name / "o.txt"
    assert delivered.read_text() == LINES.upper()


def test_bypass_destination_discards_the_output(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """A bypass destination runs the whole job but writes no output folder at all."""
    request = write_request(
        tmp_path / "job.json",
        app=RAW_APP,
        source=source,
        destination={"dataSourceDescriptor": "bypass"},
    )
    run = simulate(request)
    assert run.returncode == 0, run.stderr
    assert run.report["assembler"]["state"] == "Completed"
    assert run.report["output"] == {"destination": "bypass", "folder": None, "files": []}
    assert not run.output.exists()


def test_earlier_output_is_replaced_only_with_overwrite(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """An earlier run's output folder is refused before the job runs, and replaced whole
    with --overwrite; each delivery records its job and entries in .bytenite-output."""
    output = tmp_path / "out"
    request = write_request(tmp_path / "job.json", app=RAW_APP, source=source)
    first = simulate(request, output=output)
    assert first.returncode == 0, first.stderr
    assert first.delivered == ["out.txt"]
    run = simulate(request, output=output)
    assert run.returncode == 2
    assert run.last_error_line == (
        f"error: output folder {str(output)!r} holds an earlier run's output "
        "(pass --overwrite to replace it)"
    )
    again = simulate(request, "--overwrite", output=output)
    assert again.returncode == 0, again.stderr
    assert again.delivered == ["out.txt"]
    record = json.loads((output / ".bytenite-output").read_text())
    assert record == {"job": again.job_dir.name, "entries": ["out.txt"]}
    assert again.report["output"]["files"] == [str(output / "out.txt")]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


# Runs the simulator's command line with SIGTERM sent to itself at one moment of the
# delivery: while the staged copy of the output is walked (before the output is in
# place), or once delivering has returned (after it is).
_SIGNALLED_DELIVERY = """
import os, signal, sys
from bytenite_runtime.simulate import _cli, _destination, _job

walk, deliver = _destination._walk, _job.deliver

def signalled_walk(folder):
    if ".partial-" in folder.name:
        os.kill(os.getpid(), signal.SIGTERM)
    return walk(folder)

def signalled_deliver(*args, **kwargs):
    files = deliver(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGTERM)
    return files

if sys.argv.pop(1) == "staging":
    _destination._walk = signalled_walk
else:
    _job.deliver = signalled_deliver
sys.exit(_cli.main(sys.argv[1:]))
"""


def _deliver_with_a_signal(
    tmp_path: Path, request: Path, output: Path, when: str, *args: str
) -> subprocess.CompletedProcess[str]:
    """Run the simulator with SIGTERM sent to it ``when`` (``staging`` or ``delivered``)."""
    driver = tmp_path / "signalled_delivery.py"
    driver.write_text(_SIGNALLED_DELIVERY)
    return subprocess.run(
        [
            sys.executable, str(driver), when, str(request), "-q", "--output", str(output),
            "--workdir", str(tmp_path / "wd"), "--user-cache", str(tmp_path / "cache" / "user"),
            "--shared-cache", str(tmp_path / "cache" / "shared"), *args,
        ],
        cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip


@pytest.mark.parametrize("earlier", [False, True], ids=["new", "overwrite"])
def test_signal_during_the_delivery_undoes_it_and_reports_the_job_cancelled(
    simulate: Simulate, tmp_path: Path, source: Path, earlier: bool
) -> None:
    """SIGTERM while the output is being delivered undoes the delivery (no output folder,
    or an earlier run's output left whole under --overwrite, and no staged copy left
    beside it), and the job is Cancelled with exit 143, as for a signal at any other
    stage."""
    request = write_request(tmp_path / "job.json", app=RAW_APP, source=source)
    output = tmp_path / "delivered"
    first = simulate(request, output=output) if earlier else None
    if first is not None:
        assert first.returncode == 0, first.stderr
    run = _deliver_with_a_signal(tmp_path, request, output, "staging", "--overwrite")
    assert run.returncode == 143, run.stderr
    assert re.fullmatch(
        r"error: job job-\S+ interrupted \(SIGTERM\); 0 running task\(s\) stopped "
        r"\(report: .*report\.json\)",
        run.stderr.strip(),
    ), run.stderr
    [job_dir] = [d for d in (tmp_path / "wd").iterdir() if first is None or d != first.job_dir]
    report = json.loads((job_dir / "report.json").read_text())
    assert (report["job"]["state"], report["job"]["reason"]) == (
        "Cancelled",
        "interrupted (SIGTERM)",
    )
    assert report["output"]["files"] == []
    if first is None:
        assert not output.exists()
    else:
        assert first.delivered == ["out.txt"]
        record = json.loads((output / ".bytenite-output").read_text())
        assert record["job"] == first.job_dir.name
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".delivered")) == []


def test_a_stop_mid_copy_abandons_the_rest_of_the_output(tmp_path: Path) -> None:
    """A stop while the output is copied into place ends the copy at the next file
    rather than after the last, and leaves neither the folder nor a staged copy."""
    from bytenite_runtime.errors import JobFailed
    from bytenite_runtime.simulate._destination import deliver

    output = tmp_path / "output"
    output.mkdir()
    for i in range(5):
        (output / f"part-{i}.txt").write_text("x")
    checks = 0

    def stop_after_the_first_file() -> None:
        nonlocal checks
        checks += 1
        if checks > 1:
            raise JobFailed("interrupted (SIGTERM)")

    folder = tmp_path / "delivered"
    with pytest.raises(JobFailed):
        deliver(output, folder, "job-x", check_stop=stop_after_the_first_file)
    assert checks == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["output"]


def test_signal_once_the_output_is_delivered_leaves_the_job_complete(
    tmp_path: Path, source: Path
) -> None:
    """SIGTERM that arrives once the output is in place leaves the job Complete with exit
    0, its output whole, and a warning in the report that the stop came too late."""
    request = write_request(tmp_path / "job.json", app=RAW_APP, source=source)
    output = tmp_path / "delivered"
    run = _deliver_with_a_signal(tmp_path, request, output, "delivered")
    assert run.returncode == 0, run.stderr
    [job_dir] = (tmp_path / "wd").iterdir()
    report = json.loads((job_dir / "report.json").read_text())
    assert report["job"]["state"] == "Complete"
    assert report["output"]["files"] == [str(output / "out.txt")]
    assert delivered_names(output) == ["out.txt"]
    assert report["warnings"] == [
        "job: interrupted (SIGTERM) once its output was delivered whole; the job is complete"
    ]


def test_a_result_name_holding_a_secret_is_recorded_by_its_hash(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """An output whose name holds a secret's value is listed in .bytenite-output by its
    hash, never by that name, and --overwrite still knows the folder as delivered."""
    app = write_component(
        tmp_path / "my-app", (RAW_APP / "app" / "main.py").read_text(), secrets=["MYS"]
    )
    secrets = write_json(tmp_path / "secrets.json", {"MYS": "hunter2-value"})
    request = write_request(
        tmp_path / "job.json",
        app=app,
        source=source,
        params={"app": {"mode": "copy", "name": "out-hunter2-value.txt"}},
    )
    output = tmp_path / "out"
    for flags in ((), ("--overwrite",)):
        run = simulate(request, "--secrets", secrets, *flags, output=output)
        assert run.returncode == 0, run.stderr
        assert run.delivered == ["out-hunter2-value.txt"]
        record = (output / ".bytenite-output").read_text()
        assert "hunter2" not in record
        assert json.loads(record)["entries"][0].startswith("sha256:")


@pytest.mark.parametrize("record", [None, "not json", '{"entries": "out.txt"}'])
def test_overwrite_never_replaces_a_folder_no_run_delivered(
    simulate: Simulate, tmp_path: Path, source: Path, record: str | None
) -> None:
    """A non-empty folder without a readable delivery record (``--output ~/Documents``
    mistyped) is refused even with --overwrite, and nothing there is lost."""
    output = tmp_path / "taken"
    output.mkdir()
    (output / "precious.txt").write_text("keep me")
    if record is not None:
        (output / ".bytenite-output").write_text(record)
    request = write_request(tmp_path / "job.json", app=RAW_APP, source=source)
    for flags in ((), ("--overwrite",)):
        run = simulate(request, *flags, output=output)
        assert run.returncode == 2
        assert run.last_error_line == (
            f"error: output folder {str(output)!r} is not empty and no earlier run delivered "
            "it (it has no .bytenite-output), so even --overwrite leaves it: empty it or "
            "choose another"
        )
        assert (output / "precious.txt").read_text() == "keep me"
        assert run.job_dirs == []


@pytest.mark.parametrize("added", ["notes.txt", "sub/deep.txt"])
def test_overwrite_never_replaces_a_file_added_beside_an_earlier_output(
    simulate: Simulate, tmp_path: Path, source: Path, added: str
) -> None:
    """A file put into an earlier run's output folder after it was delivered makes
    --overwrite refuse the folder, naming that file, and the file survives."""
    output = tmp_path / "out"
    request = write_request(tmp_path / "job.json", app=RAW_APP, source=source)
    assert simulate(request, output=output).returncode == 0
    (output / added).parent.mkdir(exist_ok=True)
    (output / added).write_text("mine")
    run = simulate(request, "--overwrite", output=output)
    assert run.returncode == 2
    first = added.split("/")[0]
    assert run.last_error_line == (
        f"error: output folder {str(output)!r} holds {first!r}, which the run that "
        "delivered it did not write, so even --overwrite leaves it: move it or choose "
        "another folder"
    )
    assert (output / added).read_text() == "mine"
    assert (output / "out.txt").exists()


def test_output_named_like_the_delivery_record_fails_the_job(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """An assembler output named .bytenite-output, the simulator's record, fails the job
    with a one-line error instead of being replaced by the record, and nothing is delivered."""
    output = tmp_path / "out"
    request = write_request(
        tmp_path / "job.json",
        app=RAW_APP,
        assembler=RAW_ASSEMBLER,
        source=source,
        params={"assembler": {"output_name": ".bytenite-output"}},
    )
    run = simulate(request, output=output)
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    assert run.report["job"]["state"] == "Failed"
    assert run.report["job"]["reason"] == (
        "the assembler's output holds '.bytenite-output', the name the simulator keeps for "
        "its record of a delivery: name that output otherwise"
    )
    assert not output.exists()


@pytest.mark.parametrize("case", ["cwd", "source", "workdir"])
def test_overwrite_never_replaces_a_folder_holding_what_the_job_needs(
    simulate: Simulate, tmp_path: Path, source: Path, case: str
) -> None:
    """--overwrite replaces the output folder whole, so an output that is, or holds, the
    current folder, the source or the job records is refused before the job runs."""
    request = write_request(tmp_path / "job.json", app=RAW_APP, source=source)
    output = {"cwd": tmp_path, "source": source.parent, "workdir": tmp_path / "wd"}[case]
    output.mkdir(exist_ok=True)
    (output / "precious.txt").write_text("keep me")
    run = simulate(request, "--overwrite", output=output)
    assert run.returncode == 2
    what = {"cwd": "the current folder", "source": "the source", "workdir": "the job records"}
    assert f"holds {what[case]}" in run.last_error_line
    assert (output / "precious.txt").read_text() == "keep me"
    assert source.read_text() == LINES


def test_a_declared_secret_missing_from_the_secrets_file_is_warned_about_before_the_job(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """A secret the app's manifest declares but --secrets gives no value for is named in a
    warning before the job runs, and in the report, since the task's own error names
    only the variable."""
    app = write_component(
        tmp_path / "my-app", (RAW_APP / "app" / "main.py").read_text(), secrets=["MYS", "OTHER"]
    )
    request = write_request(tmp_path / "job.json", app=app, source=source)
    secrets = write_json(tmp_path / "secrets.json", {"MYS": "s3cr3t"})
    run = simulate(request, "--secrets", secrets)
    assert run.returncode == 0, run.stderr
    warning = (
        f"app {str(app)!r}: secret OTHER (platform_config.secrets) has no value in --secrets, "
        "so the component gets no variable for it"
    )
    assert f"warning: {warning}" in run.stderr.splitlines()
    assert "MYS" not in run.stderr
    assert run.report["warnings"] == [warning]


SECRET_APP = """
    from bytenite_runtime import task

    @task.app(secrets=["MYS"])
    def main(ctx):
        value = ctx.secrets["MYS"].get_secret_value()
        ctx.log.info("using %s", value)
        if ctx.chunk.index == 1:
            print("token:", value)
        ctx.results.write_text("out.txt", "done")

    main.run()
"""


def test_an_app_that_prints_a_secret_is_warned_about(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """A task that prints a secret's value (not through ctx.log, which masks it) is named
    in a warning, since only the simulator's logs mask it and the platform's would not."""
    app = write_component(tmp_path / "my-app", SECRET_APP, secrets=["MYS"])
    request = write_request(
        tmp_path / "job.json", app=app, partitioner="row", source=source,
        params={"partitioner": {"format": "csv", "header": False, "rows_per_chunk": 2}},
    )  # fmt: skip
    secrets = write_json(tmp_path / "secrets.json", {"MYS": "hunter2-value"})
    run = simulate(request, "--secrets", secrets)
    assert run.returncode == 0, run.stderr
    assert run.report["warnings"] == [
        "app: task 1 printed the value of a secret, masked as *** in these logs but shown as "
        "it is in the platform's: log it through ctx.log, which masks secrets, or not at all"
    ]
    assert "hunter2-value" not in run.stderr


@pytest.mark.parametrize("flag", ["--workdir", "--user-cache", "--shared-cache"])
@pytest.mark.parametrize("inside", [False, True], ids=["same", "inside"])
def test_output_folder_the_job_has_yet_to_make_its_records_or_caches_in_is_refused(
    simulate: Simulate, tmp_path: Path, source: Path, flag: str, inside: bool
) -> None:
    """An output folder that does not exist yet but is, or holds, the job records or a
    cache folder is refused before the job runs, not delivered over the records the job
    wrote there (a traceback, and no report)."""
    request = write_request(tmp_path / "job.json", app=RAW_APP, source=source)
    output = tmp_path / "new-output"
    folder = output / "sub" if inside else output
    run = simulate(request, flag, folder, output=output)
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    what = "the job records" if flag == "--workdir" else f"the {flag}"
    assert f"output folder {str(output)!r} holds {what}" in run.last_error_line
    assert not output.exists()


def test_report_copy_inside_the_output_folder_is_refused(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """A --report path inside the output folder is refused before the job runs: written
    after the delivery, it would be a file no run delivered, which the next --overwrite
    refuses."""
    request = write_request(tmp_path / "job.json", app=RAW_APP, source=source)
    output = tmp_path / "out"
    run = simulate(request, "--report", output / "report.json", output=output)
    assert run.returncode == 2, run.stderr
    assert "is inside the output folder" in run.last_error_line
    assert not output.exists()


@pytest.mark.parametrize("case", ["request", "secrets", "app"])
def test_report_copy_never_replaces_what_the_job_reads(
    simulate: Simulate, tmp_path: Path, source: Path, case: str
) -> None:
    """--report naming the request, the secrets file or a path in a component's folder is
    refused before the job runs, and that file is left as it was."""
    app = write_component(tmp_path / "my-app", (RAW_APP / "app" / "main.py").read_text())
    request = write_request(tmp_path / "job.json", app=app, source=source)
    secrets = write_json(tmp_path / "secrets.json", {"MYS": "v"})
    report = {"request": request, "secrets": secrets, "app": app / "manifest.json"}[case]
    before = report.read_bytes()
    run = simulate(request, "--secrets", secrets, "--report", report)
    assert run.returncode == 2, run.stderr
    what = {
        "request": "would replace the request",
        "secrets": "would replace the secrets file",
        "app": "is inside the app's folder",
    }[case]
    assert run.last_error_line.startswith(f"error: --report: {str(report)!r} {what} ")
    assert report.read_bytes() == before
    assert run.job_dirs == []


@pytest.mark.parametrize("depth", [0, 1])
def test_overwrite_never_replaces_the_home_folder_or_one_holding_it(
    simulate: Simulate, tmp_path: Path, source: Path, depth: int
) -> None:
    """An output that is the home folder, or a folder holding it (``--output ~`` or ``/``
    mistyped with --overwrite), is refused before the job runs and nothing there is lost."""
    home = tmp_path / "users" / "me"
    home.mkdir(parents=True)
    (home / ".profile").write_text("keep me")
    request = write_request(tmp_path / "job.json", app=RAW_APP, source=source)
    output = home.parents[depth - 1] if depth else home
    run = simulate(request, "--overwrite", output=output, env={**os.environ, "HOME": str(home)})
    assert run.returncode == 2, run.stderr
    assert "holds your home folder" in run.last_error_line
    assert (home / ".profile").read_text() == "keep me"


@pytest.mark.parametrize("where", ["output", "cwd"])
def test_output_inside_the_source_folder_is_refused(
    simulate: Simulate, tmp_path: Path, source: Path, where: str
) -> None:
    """An output folder inside a folder source (given, or the default one when run from
    inside it) is refused before the job runs: the next run would read it as input."""
    request = write_request(tmp_path / "job.json", app=RAW_APP, source=source.parent)
    if where == "output":
        run = simulate(request, output=source.parent / "out")
    else:
        run = simulate(request.resolve(), output=None, cwd=source.parent)
    assert run.returncode == 2, run.stderr
    assert "is inside the source folder" in run.last_error_line
    assert sorted(p.name for p in source.parent.iterdir()) == ["lines.txt"]


def test_job_records_inside_the_source_folder_are_refused(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """A --workdir inside a folder source (as the default one is when run from inside it)
    is refused before the job runs: the job would copy its own records as its input."""
    request = write_request(tmp_path / "job.json", app=RAW_APP, source=source.parent)
    run = simulate(request, "--workdir", source.parent / "records")
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    assert run.last_error_line == (
        f"error: --workdir {str(source.parent / 'records')!r} is inside the source folder "
        f"{str(source.parent)!r}: the job would copy its own records as input; choose a "
        "folder outside it"
    )
    assert sorted(p.name for p in source.parent.iterdir()) == ["lines.txt"]


@pytest.mark.parametrize("folder", ["/tmp", "/usr", "/"])
def test_overwrite_never_replaces_a_top_level_folder(folder: str) -> None:
    """A top-level folder of the file system (/tmp, shared with everything else on the
    machine) is refused as an output even with --overwrite, whatever it holds."""
    from bytenite_runtime.errors import TemplateError
    from bytenite_runtime.simulate._destination import check_destination

    with pytest.raises(TemplateError, match="is a top-level folder of the file system"):
        check_destination(Path(folder), True)


@pytest.mark.parametrize("case", ["request", "app"])
def test_overwrite_never_replaces_the_request_or_a_components_folder(
    simulate: Simulate, tmp_path: Path, source: Path, case: str
) -> None:
    """An output that is, or holds, the request file or a component's folder (the app's
    code) is refused before the job runs, even with --overwrite, and nothing there is lost."""
    app = write_component(tmp_path / "my-app", (RAW_APP / "app" / "main.py").read_text())
    folder = tmp_path / "requests"
    folder.mkdir()
    request = write_request(folder / "job.json", app=app, source=source)
    output = {"request": folder, "app": app}[case]
    before = sorted(p.relative_to(output) for p in output.rglob("*"))
    run = simulate(request, "--overwrite", output=output)
    assert run.returncode == 2, run.stderr
    what = {"request": "the request", "app": "the app's folder"}[case]
    assert f"holds {what} " in run.last_error_line, run.last_error_line
    assert sorted(p.relative_to(output) for p in output.rglob("*")) == before


# -- overrides and look-ups ---------------------------------------------------------------


def test_params_and_set_override_the_request(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """--params merges over the request's params, then each --set replaces one key (JSON
    values parsed, anything else kept as a string)."""
    request = write_request(
        tmp_path / "job.json",
        app=RAW_APP,
        partitioner="replicate-fanout",
        source=source,
        params={
            "partitioner": {"num_replicas": 5},
            "app": {"mode": "params", "name": "p{chunk}.json", "a": 1, "b": "x", "c": "old"},
        },
    )
    run = simulate(
        request,
        "--params", json.dumps({"app": {"b": "y", "c": "params"}}),
        "--set", "app.c=7",
        "--set", "app.d=hello world",
        "--set", 'app.e={"k": [1, 2]}',
        "--set", "partitioner.num_replicas=2",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.report["job"]["chunks"] == 2
    received = json.loads((run.output / "p1.json").read_text())
    assert received == {
        "mode": "params",
        "name": "p{chunk}.json",
        "a": 1,
        "b": "y",
        "c": 7,
        "d": "hello world",
        "e": {"k": [1, 2]},
    }


def test_malformed_set_is_a_config_error(simulate: Simulate, tmp_path: Path, source: Path) -> None:
    """A --set without COMPONENT.KEY=VALUE shape fails with exit code 2 naming the flag."""
    request = write_request(tmp_path / "job.json", app=RAW_APP, source=source)
    run = simulate(request, "--set", "num_replicas=2")
    assert run.returncode == 2
    assert run.last_error_line.startswith("error: --set 'num_replicas=2'")
    assert run.job_dirs == []


def _search_folders(tmp_path: Path, source: Path) -> tuple[Path, Path]:
    templates, apps = tmp_path / "templates-here", tmp_path / "apps-here"
    import shutil

    shutil.copytree(RAW_APP, apps / "whatever-folder-name")
    write_json(
        templates / "some-file.json",
        {
            "id": "upper-template",
            "app": "raw-app@1",
            "partitioner": "passthrough",
            "assembler": "passthrough",
            "params": {"app": {"name": "t.txt"}},
        },
    )
    return templates, apps


def test_template_id_is_found_in_a_search_folder(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """A request's templateId is found by its id in a --search folder, and its app tag by
    the manifest name in another."""
    templates, apps = _search_folders(tmp_path, source)
    request = write_json(
        tmp_path / "job.json",
        {
            "name": "by id",
            "templateId": "upper-template",
            "dataSource": {"dataSourceDescriptor": "file", "params": {"path": str(source)}},
        },
    )
    run = simulate(request, "--search", templates, "--search", apps)
    assert run.returncode == 0, run.stderr
    assert (run.output / "t.txt").read_text() == LINES.upper()
    assert run.report["job"]["template"]["app"] == "raw-app@1"


def test_unknown_template_id_suggests_the_nearest(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """An unknown templateId fails with exit code 2, suggesting the nearest id found."""
    templates, _ = _search_folders(tmp_path, source)
    run = simulate("--template", "uper-template", "--source", source, "--search", templates)
    assert run.returncode == 2
    assert "did you mean 'upper-template'?" in run.last_error_line
    assert run.job_dirs == []


@pytest.mark.parametrize("given", ["missing.json", "templates/missing.json", "sub/dir"])
def test_a_missing_template_path_is_named_as_a_file_not_an_unknown_id(
    simulate: Simulate, tmp_path: Path, source: Path, given: str
) -> None:
    """--template with a path (a .json name or a slash) that does not exist fails with
    exit 2 saying the file cannot be read, not "unknown template ... (known: none)"."""
    run = simulate("--template", given, "--source", source)
    assert run.returncode == 2
    assert run.last_error_line == (
        f"error: template {given!r}: cannot be read (No such file or directory)"
    )
    assert run.job_dirs == []


def test_a_template_file_is_found_by_its_file_name_whatever_its_id(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """--template ID finds templates/ID.json even when its id differs or is missing."""
    import shutil

    shutil.copytree(RAW_APP, tmp_path / "lib" / "apps" / "raw")
    templates = tmp_path / "lib" / "templates"
    write_json(templates / "foo.json", {"id": "bar", "app": "../apps/raw"})
    write_json(templates / "plain.json", {"app": "../apps/raw"})
    for name in ("foo", "plain"):
        run = simulate("--template", name, "--search", templates, "--source", source)
        assert run.returncode == 0, run.stderr
        assert (run.output / "out.txt").read_text() == LINES.upper()


def test_a_broken_manifest_in_an_engine_folder_is_an_error_not_the_built_in(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """An engine folder named like a built-in overrides it; when its manifest.json cannot
    be read, the job fails naming the file instead of quietly running the built-in."""
    import shutil

    engines = tmp_path / "engines"
    shutil.copytree(RAW_ASSEMBLER, engines / "passthrough")
    manifest = engines / "passthrough" / "manifest.json"
    manifest.write_text(manifest.read_text().rstrip().rstrip("}") + ",\n}")
    request = write_request(tmp_path / "job.json", app=RAW_APP, source=source)
    run = simulate(request, "--search", engines)
    assert run.returncode == 2
    # Its type unread, the folder may be meant for either role: the first to look fails.
    assert run.last_error_line.startswith("error: partitioner 'passthrough': manifest ")
    assert "manifest.json': not valid JSON" in run.last_error_line
    assert run.job_dirs == []


@pytest.mark.parametrize(
    ("role", "tag", "expected"),
    [
        ("assembler", "zipperr", "zipper"),
        ("partitioner", "replicat-fanout", "replicate-fanout"),
        ("app", "raw-ap", "raw-app"),
        ("--app", "raw-apq", "raw-app"),
    ],
)
def test_unknown_component_tag_suggests_the_nearest_name(
    simulate: Simulate, tmp_path: Path, source: Path, role: str, tag: str, expected: str
) -> None:
    """An unknown component tag in a template (or a --app flag) fails before anything runs,
    with exit code 2, the tag and the nearest known name first, the folders searched last."""
    _, apps = _search_folders(tmp_path, source)
    components = {"app": "raw-app", "partitioner": "passthrough", "assembler": "passthrough"}
    flags: list[str] = []
    if role.startswith("--"):
        flags = [role, tag]
    else:
        components[role] = tag
    request = write_request(tmp_path / "job.json", source=source, **components)
    run = simulate(request, "--search", apps, *flags)
    assert run.returncode == 2
    line = run.last_error_line
    assert line.startswith(f"error: unknown {role.removeprefix('--')} {tag!r}; ")
    assert f"did you mean {expected!r}?" in line
    assert "; searched " in line
    assert run.job_dirs == []
    assert not run.output.exists()


# -- relative folders -------------------------------------------------------------------


def test_relative_app_folder_in_a_request_is_relative_to_the_request(
    simulate: Simulate, tmp_path: Path
) -> None:
    """A template tag './my-app' inside a request names the folder beside the request,
    whatever the current folder is."""
    import shutil

    project = tmp_path / "project"
    shutil.copytree(RAW_APP, project / "my-app")
    (project / "in.txt").write_text("beside\n")
    request = write_json(
        project / "job.json",
        {
            "template": {
                "app": "./my-app",
                "dataSource": {"dataSourceDescriptor": "file", "params": {"path": "in.txt"}},
                "params": {"app": {"name": "o.txt"}},
            }
        },
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run = simulate(request, cwd=elsewhere)
    assert run.returncode == 0, run.stderr
    assert (run.output / "o.txt").read_text() == "BESIDE\n"


def test_relative_app_folder_in_a_template_file_is_relative_to_it(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """A template found by id holding '../apps/raw' names that folder relative to the
    template file."""
    import shutil

    shutil.copytree(RAW_APP, tmp_path / "lib" / "apps" / "raw")
    templates = tmp_path / "lib" / "templates"
    write_json(templates / "t.json", {"id": "rel", "app": "../apps/raw"})
    run = simulate("--template", "rel", "--search", templates, "--source", source)
    assert run.returncode == 0, run.stderr
    assert (run.output / "out.txt").read_text() == LINES.upper()


def test_relative_app_flag_is_relative_to_the_current_folder(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """--app ./folder names a folder under the current folder and runs from there."""
    import shutil

    shutil.copytree(RAW_APP, tmp_path / "here" / "app-copy")
    request = write_request(tmp_path / "job.json", app="not-used", source=source)
    run = simulate(request, "--app", "./app-copy", cwd=tmp_path / "here")
    assert run.returncode == 0, run.stderr
    assert (run.output / "out.txt").read_text() == LINES.upper()


# -- bad command lines ------------------------------------------------------------------


BAD_COMMAND_LINES = [
    (["--max-retries", "-1"], "--max-retries: "),
    (["--max-retries", "1000"], "--max-retries: "),
    (["--task-timeout", "0"], "--task-timeout: "),
    (["--job-timeout", "-5"], "--job-timeout: "),
    (["--parallelism", "0"], "--parallelism: "),
    (["--params", '{"app": 5}'], "--params.app: "),
    (["--params", '{"ap": {"x": 1}}'], "--params.ap: "),
    (["--params", "[1]"], "--params: must be a JSON object, got an array"),
    (["--params", "{x"], "--params: is not valid JSON ("),
    (["--source", "nowhere.txt"], "dataSource.params.path: "),
    (["--source", "ftp://example.com/x"], "--source 'ftp://example.com/x'"),
]


@pytest.mark.parametrize(
    ("flags", "culprit"), BAD_COMMAND_LINES, ids=[" ".join(f) for f, _ in BAD_COMMAND_LINES]
)
def test_bad_command_line_is_refused_before_the_job_starts(
    simulate: Simulate, tmp_path: Path, source: Path, flags: list[str], culprit: str
) -> None:
    """An out-of-range override, malformed --params or missing source fails with exit code 2
    and one error line naming the flag, before any job folder is created."""
    request = write_request(tmp_path / "job.json", app=RAW_APP, source=source)
    run = simulate(request, *flags)
    assert run.returncode == 2, run.stderr
    assert run.last_error_line.startswith(f"error: {culprit}")
    assert run.stderr.strip() == run.last_error_line
    assert run.job_dirs == []
    assert not run.output.exists()


@pytest.mark.parametrize("path", [5, "", ["out"], "out\0put"])
def test_a_destination_path_of_the_wrong_type_is_refused(
    simulate: Simulate, tmp_path: Path, source: Path, path: object
) -> None:
    """A file destination whose params.path is not a non-empty string (or holds a NUL)
    fails with exit 2 naming the field, before the job starts, instead of writing to the
    default folder or a traceback."""
    destination = {"dataSourceDescriptor": "file", "params": {"path": path}}
    request = write_request(
        tmp_path / "job.json", app=RAW_APP, source=source, destination=destination
    )
    run = simulate(request, output=None)
    assert run.returncode == 2, run.stderr
    assert run.last_error_line == (
        f"error: dataDestination.params.path: must be a folder path (got {path!r})"
    )
    assert run.job_dirs == []
    assert not (tmp_path / "bytenite-output").exists()


@pytest.mark.parametrize("tag", ["./my\0app", "my\0app"])
def test_a_tag_holding_a_nul_is_one_error_line(
    simulate: Simulate, tmp_path: Path, source: Path, tag: str
) -> None:
    """A template tag holding a NUL, a path or not, fails with exit 2 naming the tag, not
    with a ValueError traceback from the file system."""
    request = write_request(tmp_path / "job.json", app=tag, source=source)
    run = simulate(request)
    assert run.returncode == 2, run.stderr
    assert run.stderr.splitlines() == [
        f"error: app tag {tag!r}: expected name, name@major or name@major.minor"
    ]
    assert run.job_dirs == []


def test_missing_request_source_fails_before_the_job_starts(
    simulate: Simulate, tmp_path: Path
) -> None:
    """A request whose file source does not exist fails with exit code 2 naming the path,
    and creates no job folder."""
    request = write_request(tmp_path / "job.json", app=RAW_APP, source=tmp_path / "gone.txt")
    run = simulate(request)
    assert run.returncode == 2
    assert run.last_error_line == (
        f"error: dataSource.params.path: {str(tmp_path / 'gone.txt')!r} does not exist"
    )
    assert run.job_dirs == []


# -- request fields ---------------------------------------------------------------------


def test_unknown_request_fields_are_warned_with_the_nearest_name(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """A misspelt field of the request (top level or nested) is ignored but named in a
    warning on stderr and in the report, with the nearest known field suggested."""
    request = write_request(tmp_path / "job.json", app=RAW_APP, source=source)
    doc = json.loads(request.read_text())
    doc["parmas"] = {"app": {"name": "x.txt"}}
    doc["template"]["config"] = {"taskTimout": 30}
    write_json(request, doc)
    run = simulate(request)
    assert run.returncode == 0, run.stderr
    expected = [
        "request.template.config.taskTimout: unknown field, ignored; did you mean 'taskTimeout'?",
        "request.parmas: unknown field, ignored; did you mean 'params'?",
    ]
    assert run.stderr.splitlines() == [f"warning: {w}" for w in expected]
    assert run.report["warnings"] == expected


def test_unknown_template_file_fields_are_warned(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """A misspelt field of a template file given by --template is named in a warning."""
    template = write_json(tmp_path / "t.json", {"id": "t", "app": str(RAW_APP), "asembler": "x"})
    run = simulate("--template", template, "--source", source)
    assert run.returncode == 0, run.stderr
    assert run.stderr.splitlines() == [
        "warning: template.asembler: unknown field, ignored; did you mean 'assembler'?"
    ]


WRONG_TYPES = [
    ({"isTestJob": "yes"}, "request.template.config.isTestJob: Input should be a valid boolean"),
    ({"taskTimeout": "30"}, "request.template.config.taskTimeout: Input should be a valid number"),
    ({"maxTaskRetries": "2"}, "request.template.config.maxTaskRetries: Input should be a valid"),
]


@pytest.mark.parametrize(("config", "culprit"), WRONG_TYPES, ids=[str(c) for c, _ in WRONG_TYPES])
def test_wrongly_typed_request_field_is_an_error_naming_it(
    simulate: Simulate, tmp_path: Path, source: Path, config: dict[str, str], culprit: str
) -> None:
    """A known field of the request with a value of the wrong type ("isTestJob": "yes") is
    not coerced: one error line names the field, exit code 2, no job folder."""
    request = write_request(tmp_path / "job.json", app=RAW_APP, source=source, config=config)
    run = simulate(request)
    assert run.returncode == 2, run.stderr
    assert run.last_error_line.startswith(f"error: {culprit}")
    assert run.stderr.strip() == run.last_error_line
    assert run.job_dirs == []


SHARED_CACHE_WRITING_APP = """
    import os
    from pathlib import Path

    shared = Path(os.environ["SHARED_CACHE_DIR"])
    if os.environ["CHUNK_NUMBER"] == "0":
        (shared / "models").mkdir()
        (shared / "models" / "weights.bin").write_bytes(b"downloaded")
        (shared / "old.txt").unlink()
        (shared / "kept.txt").write_text("rewritten")
    (Path(os.environ["TASK_RESULTS_DIR"]) / "done.txt").write_text("done")
"""


def test_app_writing_to_the_read_only_shared_cache_is_warned(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """Writes to SHARED_CACHE_DIR (read-only on the platform) are named in a warning of
    the stage that made them, and the summary line says the report holds a warning; a
    job that only reads the folder gets none."""
    shared = tmp_path / "cache" / "shared"
    shared.mkdir(parents=True)
    (shared / "old.txt").write_text("old")
    (shared / "kept.txt").write_text("kept")
    app = write_component(tmp_path / "writing-app", SHARED_CACHE_WRITING_APP)
    request = write_request(
        tmp_path / "job.json",
        app=app,
        source=source,
        partitioner="replicate-fanout",
        params={"partitioner": {"num_replicas": 2}},
    )
    run = simulate(request, quiet=False)
    assert run.returncode == 0, run.stderr
    assert run.report["warnings"] == [
        "app: wrote to SHARED_CACHE_DIR, read-only on the platform, where the write fails: "
        "'kept.txt' changed, 'models/' created, 'models/weights.bin' created, "
        "'old.txt' removed"
    ]
    assert run.stdout.rstrip().endswith("(1 warning there)"), run.stdout
    again = simulate(write_request(tmp_path / "again.json", app=RAW_APP, source=source))
    assert again.returncode == 0, again.stderr
    assert again.report["warnings"] == []


@pytest.mark.parametrize(
    ("case", "why"),
    [
        ("dangling", "a symbolic link to a missing file ('/nonexistent-target')"),
        ("loop", "a symbolic link that cannot be followed: Too many levels of symbolic links"),
    ],
)
def test_a_source_folder_that_cannot_be_copied_fails_the_job_in_one_line(
    simulate: Simulate, tmp_path: Path, case: str, why: str
) -> None:
    """A source folder holding a dangling symbolic link, or a link loop, fails the job
    (exit 5, a report) naming the entry and why, never a shutil traceback."""
    folder = tmp_path / "input"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text(LINES)
    if case == "dangling":
        (folder / "dangling").symlink_to("/nonexistent-target")
    else:
        (folder / "sub" / "loop").symlink_to("..")
    request = write_request(tmp_path / "job.json", app=RAW_APP, source=folder)
    run = simulate(request)
    assert run.returncode == 5, run.stderr
    assert "Traceback" not in run.stderr
    assert run.stderr.splitlines() == [run.last_error_line]
    assert f"dataSource.params.path: {str(folder)!r}: '" in run.last_error_line
    assert f"cannot be copied ({why})" in run.last_error_line
    assert run.report["job"]["state"] == "Failed"
    assert not run.output.exists()


def test_a_source_file_that_cannot_be_copied_is_named_as_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file source that cannot be copied is named once, as the path, not followed by '.'."""
    import shutil

    from bytenite_runtime.errors import DataError
    from bytenite_runtime.simulate._request import DataSource
    from bytenite_runtime.simulate._sources import fetch_source

    source = tmp_path / "lines.txt"
    source.write_text(LINES)
    target = tmp_path / "copy"
    target.mkdir()

    def refuse(src: object, dst: object) -> None:
        raise PermissionError(13, "Permission denied", str(src))

    monkeypatch.setattr(shutil, "copyfile", refuse)
    data = DataSource.model_validate(
        {"dataSourceDescriptor": "file", "params": {"path": str(source)}}
    )
    with pytest.raises(DataError) as caught:
        fetch_source(data, target, tmp_path)
    assert str(caught.value) == (
        f"dataSource.params.path: {str(source)!r} cannot be copied (Permission denied)"
    )


@pytest.mark.parametrize("given", ["sub", "itself"])
@pytest.mark.parametrize("flag", ["--workdir", "--user-cache", "--shared-cache"])
def test_folder_option_that_cannot_be_created_is_one_error_line(
    simulate: Simulate, tmp_path: Path, source: Path, flag: str, given: str
) -> None:
    """A --workdir or cache folder that cannot be created, below a file or a file itself,
    is one error line naming the option and the file in the way, exit 2, never a
    traceback (nor a bare 'File exists')."""
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    request = write_request(tmp_path / "job.json", app=RAW_APP, source=source)
    folder = blocker / "sub" if given == "sub" else blocker
    run = simulate(request, flag, folder)
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    assert run.stderr.splitlines() == [run.last_error_line]
    assert run.last_error_line.startswith(f"error: {flag}: folder '{folder}")
    assert run.last_error_line.endswith(f"cannot be created ('{blocker}' is not a folder)")


def test_output_folder_that_cannot_be_written_fails_the_job_in_one_line(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """An --output folder whose parent cannot be created fails the job with one error line
    naming the folder (exit 5), never a traceback."""
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    request = write_request(tmp_path / "job.json", app=RAW_APP, source=source)
    run = simulate(request, output=blocker / "out")
    assert run.returncode == 5, run.stderr
    assert "Traceback" not in run.stderr
    assert (
        f"output folder '{blocker / 'out'}' cannot be written ('{blocker}' is not a folder)"
        in run.last_error_line
    )
    assert run.report["job"]["state"] == "Failed"


def test_report_copy_that_cannot_be_written_is_one_error_line(
    simulate: Simulate, tmp_path: Path, source: Path
) -> None:
    """A --report path that cannot be written is one error line naming --report (exit 2),
    never a traceback."""
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    request = write_request(tmp_path / "job.json", app=RAW_APP, source=source)
    run = simulate(request, "--report", blocker / "r.json")
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    assert run.stderr.splitlines() == [run.last_error_line]
    assert run.last_error_line.startswith(
        f"error: --report: '{blocker / 'r.json'}' cannot be written ('{blocker}' is not a folder)"
    )


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--job-timeout", "abc"], "argument --job-timeout: invalid float value: 'abc'"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_command_line_is_one_error_line(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad command line is one ``error:`` line pointing at --help, exit 2, not argparse's
    usage block."""
    from bytenite_runtime.simulate._cli import main

    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert capsys.readouterr().err.splitlines() == [f"error: {says} (see bytenite-simulate --help)"]


@needs_root
def test_an_output_folder_on_a_full_disk_fails_the_job_saying_so(
    simulate: Simulate, tmp_path: Path, small_disk: Path
) -> None:
    """Delivering onto a full disk fails the job (exit 5, a report) with the reason in
    words, not copytree's list of path triples, and delivers nothing."""
    source = tmp_path / "in.txt"
    source.write_text("x" * 1_500_000)
    request = write_request(tmp_path / "job.json", app=RAW_APP, source=source)
    run = simulate(request, "--output", str(small_disk / "out"))
    assert run.returncode == 5, run.stderr
    assert "cannot be written (No space left on device)" in run.last_error_line
    assert "Errno" not in run.last_error_line
    assert run.report["job"]["state"] == "Failed"
    assert list(small_disk.iterdir()) == []


@needs_root
def test_a_workdir_on_a_full_disk_still_writes_the_report(
    simulate: Simulate, tmp_path: Path, small_disk: Path
) -> None:
    """A job whose workdir fills up fails with its one error line and a report (the job's
    files are removed first to make room), never a traceback from writing report.json."""
    source = tmp_path / "in.txt"
    source.write_text("x" * 1_500_000)
    request = write_request(tmp_path / "job.json", app=RAW_APP, source=source)
    run = simulate(request, "--workdir", str(small_disk / "wd"))
    assert run.returncode == 5, run.stderr
    assert "Traceback" not in run.stderr
    assert "No space left on device" in run.last_error_line
    assert run.report["job"]["state"] == "Failed"
    assert not run.output.exists()
