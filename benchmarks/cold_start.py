"""Cold start: what an app task pays before its own code runs.

Ours: a fresh interpreter imports ``bytenite_runtime.task`` and builds ``AppSettings``
from a prepared environment (the work ``task.app(...).run()`` does before calling the
function). Baseline: a fresh interpreter importing ``pydantic_settings`` alone, the
floor for any pydantic-settings based runtime. Goal: ours <= 1.25 x baseline.

Also checked: the heavy optional dependencies stay out of ``sys.modules``, so an app
that needs none of them does not pay for them.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from _harness import Config, Report, Row, clean_environ, interleave, run_timed

NAME = "cold-start"
GOAL = 1.25
HEAVY = ("numpy", "pyarrow", "PIL", "jsonschema")

OURS = (
    "from bytenite_runtime import task\n"
    "from bytenite_runtime.settings import AppSettings\n"
    "AppSettings.from_environ()\n"
)
BASELINE = "import pydantic_settings\n"
OURS_LABEL = "import task + AppSettings"
BASE_LABEL = "import pydantic_settings"
PROBE = OURS + f"import sys\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))\n"


def run(config: Config) -> Report:
    repeat = 10 if config.quick else 25
    with tempfile.TemporaryDirectory(prefix="bench-cold-", dir=config.tmp) as tmp:
        task_dir, results_dir = Path(tmp, "task"), Path(tmp, "results")
        task_dir.mkdir()
        results_dir.mkdir()
        (task_dir / "data.bin").write_bytes(b"hello")
        env = clean_environ(
            TASK_DIR=str(task_dir), TASK_RESULTS_DIR=str(results_dir), APP_PARAMS='{"case": "x"}'
        )
        ours = [sys.executable, "-c", OURS]
        base = [sys.executable, "-c", BASELINE]
        # One untimed run of each compiles and caches bytecode and warms the page cache,
        # which every real task start after the first would find too.
        run_timed(ours, env)
        run_timed(base, env)
        timings = interleave(
            {OURS_LABEL: lambda: run_timed(ours, env), BASE_LABEL: lambda: run_timed(base, env)},
            repeat,
        )
        probe = subprocess.run(
            [sys.executable, "-c", PROBE], env=env, capture_output=True, check=True, text=True
        )
    loaded = set(probe.stdout.split())
    report = Report()
    report.rows.append(Row(NAME, timings[OURS_LABEL], timings[BASE_LABEL], GOAL))
    checks = ", ".join(f"{m} {'yes' if m in loaded else 'no'}" for m in HEAVY)
    verdict = "ok" if not loaded else "NOT MET"
    report.notes.append(f"{NAME}: loaded after import+build? {checks} ({verdict})")
    median_ours, median_base = timings[OURS_LABEL].median, timings[BASE_LABEL].median
    report.notes.append(
        f"{NAME}: medians of {repeat}: {median_ours * 1000:.0f} ms vs {median_base * 1000:.0f} ms"
    )
    return report
