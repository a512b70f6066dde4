"""Bad input fails cleanly: one ``error:`` line naming the culprit, a non-zero exit code,
no partial output, and never a secret.

One ``test_row_<slug>`` per row of the README's "bad input" table. Library-level rows run
a component directly as a process with an explicit environment; job-level rows run the
simulator. Every failing run is checked for leftovers: no ``data_*.bin`` in CHUNKS_DIR
after a failing partitioner, nothing in TASK_RESULTS_DIR after a failing app, nothing in
OUTPUT_DIR after a failing assembler, no output folder after a failed job.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import (
    FIXTURES,
    Completed,
    SimRun,
    Simulate,
    base_env,
    run_component,
    write_component,
    write_json,
    write_request,
)

NOBODY = 65534
PLANTED = "s3cr3t-PLANTED-value"

# A library app using every knob a bad input can hit: a params model, a declared
# secret (when SECRET_IDS is set at write time), the chunk and the results folder.
LIBRARY_APP = """
    from typing import Literal

    from pydantic import BaseModel, Field

    from bytenite_runtime import task


    class Params(BaseModel):
        case: Literal["upper", "lower"] = "upper"
        repeat: int = Field(1, ge=1)
        crash: bool = False


    @task.app(params=Params, secrets=SECRET_IDS)
    def main(ctx: task.AppContext[Params]) -> None:
        text = ctx.chunk.read_text()
        ctx.results.write_text("out.txt", getattr(text, ctx.params.case)() * ctx.params.repeat)
        if ctx.params.crash:
            raise ValueError(f"cannot handle chunk {ctx.chunk.index}")


    if __name__ == "__main__":
        main.run()
"""

CRASHING_PARTITIONER = """
    from bytenite_runtime import task


    @task.partitioner
    def main(ctx):
        yield b"first"
        yield b"second"
        raise RuntimeError("source is corrupt after two chunks")


    if __name__ == "__main__":
        main.run()
"""

CRASHING_ASSEMBLER = """
    from bytenite_runtime import task


    @task.assembler
    def main(ctx):
        ctx.output.write_text("half.txt", "half of the output")
        raise RuntimeError("ran out of results")


    if __name__ == "__main__":
        main.run()
"""

HANGING_LIBRARY_APP = """
    import time

    from bytenite_runtime import task


    @task.app
    def main(ctx):
        ctx.results.write_text("early.txt", "written before hanging")
        (ctx.user_cache / "started").write_text("yes")
        time.sleep(60)


    if __name__ == "__main__":
        main.run()
"""

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {"case": {"enum": ["upper", "lower"]}},
    "required": ["case"],
}


def library_app(folder: Path, secrets: tuple[str, ...] = (), schema: bool = False) -> Path:
    """Write the library app into ``folder`` (manifest declaring ``secrets``); return it."""
    source = LIBRARY_APP.replace("SECRET_IDS", repr(list(secrets)))
    extra = {"schema.json": json.dumps(SCHEMA)} if schema else None
    return write_component(folder, source, kind="app", secrets=secrets, extra_files=extra)


# -- direct runs --------------------------------------------------------------------------


@dataclass
class Setup:
    """One component ready to run directly: its command, environment and output folder."""

    kind: str
    command: list[str]
    env: dict[str, str]
    produced: Path  # CHUNKS_DIR, TASK_RESULTS_DIR or OUTPUT_DIR

    @property
    def params_variable(self) -> str:
        return {"partitioner": "PARTITIONER_PARAMS", "app": "APP_PARAMS"}.get(
            self.kind, "ASSEMBLER_PARAMS"
        )

    def run(self, **popen: object) -> Completed:
        return run_component(self.command, self.env, cwd=self.produced.parent, **popen)  # type: ignore[arg-type]


def make_setup(kind: str, root: Path, app_source: Path | None = None) -> Setup:
    """A partitioner (replicate-fanout), library app or assembler (concat) with good inputs."""
    root.mkdir(parents=True, exist_ok=True)
    if kind == "partitioner":
        source, chunks = root / "source", root / "chunks"
        source.mkdir()
        chunks.mkdir()
        (source / "in.txt").write_text("hello\n")
        env = base_env(
            SOURCE_DIR=str(source), CHUNKS_DIR=str(chunks), PARTITIONER_PARAMS='{"num_replicas": 2}'
        )
        command = [sys.executable, "-m", "bytenite_runtime", "serve", kind, "replicate-fanout"]
        return Setup(kind, command, env, chunks)
    if kind == "app":
        task_dir, results = root / "task", root / "results"
        task_dir.mkdir()
        results.mkdir()
        (task_dir / "data.bin").write_text("hello\n")
        app = app_source or library_app(root / "lib-app") / "app" / "main.py"
        env = base_env(
            TASK_DIR=str(task_dir), TASK_RESULTS_DIR=str(results), APP_PARAMS="{}",
            CHUNK_NUMBER="3",
        )  # fmt: skip
        return Setup(kind, [sys.executable, str(app)], env, results)
    results, output = root / "results", root / "output"
    results.mkdir()
    output.mkdir()
    for i in range(2):
        (results / f"chunk-{i:06d}.part.txt").write_text(f"part {i}\n")
    env = base_env(TASK_RESULTS_DIR=str(results), OUTPUT_DIR=str(output), ASSEMBLER_PARAMS="{}")
    command = [sys.executable, "-m", "bytenite_runtime", "serve", kind, "concat"]
    return Setup(kind, command, env, output)


KINDS = ["partitioner", "app", "assembler"]


def left_behind(setup: Setup) -> list[str]:
    """What a failed component left where its output goes (chunks, results or output)."""
    names = sorted(p.name for p in setup.produced.iterdir())
    if setup.kind == "partitioner":
        return [n for n in names if n.startswith("data_")]
    return names


def assert_clean_failure(
    result: Completed | SimRun, *culprits: str, code: int | None = None
) -> str:
    """The run failed with one final ``error:`` line naming every culprit; return that line."""
    assert result.returncode != 0, result.stderr
    if code is not None:
        assert result.returncode == code, result.stderr
    line = result.last_error_line
    assert line.startswith("error: "), result.stderr
    for culprit in culprits:
        assert culprit in line, f"{culprit!r} not named in {line!r}"
    assert result.stderr.rstrip().endswith(line)
    assert [x for x in result.stderr.splitlines() if x.startswith("error:")] == [line]
    return line


@pytest.mark.parametrize("kind", KINDS)
def test_components_succeed_with_good_inputs(tmp_path: Path, kind: str) -> None:
    """Control: each component used below succeeds with its good environment and writes
    its chunks, results or output (so the failures below are the bad input's doing)."""
    setup = make_setup(kind, tmp_path)
    result = setup.run()
    assert result.returncode == 0, result.stderr
    assert left_behind(setup) != []


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ('{"num_replicas": 2', "is not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ("", "is empty"),
        ('{"a": 1, "a": 2}', "gives the key 'a' twice in one object"),
        ('{"a": ' + "[" * 1000 + "]" * 1000 + "}", "nests objects and arrays more than 100"),
    ],
    ids=["truncated", "array", "empty", "duplicate-key", "nested-1000-deep"],
)
def test_row_malformed_params_json(tmp_path: Path, kind: str, raw: str, reason: str) -> None:
    """Params that are not a JSON object (or give a key twice, or nest past 100 levels) fail
    with exit code 2 naming the params variable."""
    setup = make_setup(kind, tmp_path)
    setup.env[setup.params_variable] = raw
    line = assert_clean_failure(setup.run(), f"{setup.params_variable}: {reason}", code=2)
    assert "invalid settings" in line
    assert left_behind(setup) == []


@pytest.mark.parametrize("kind", KINDS)
def test_row_missing_params_variable(tmp_path: Path, kind: str) -> None:
    """An unset params variable fails with exit code 2 saying that variable is not set."""
    setup = make_setup(kind, tmp_path)
    del setup.env[setup.params_variable]
    assert_clean_failure(setup.run(), f"{setup.params_variable}: is not set", code=2)
    assert left_behind(setup) == []


# Every required folder variable, with the kind of component it belongs to.
FOLDER_VARIABLES = [
    ("partitioner", "SOURCE_DIR"),
    ("partitioner", "CHUNKS_DIR"),
    ("app", "TASK_DIR"),
    ("app", "TASK_RESULTS_DIR"),
    ("assembler", "TASK_RESULTS_DIR"),
    ("assembler", "OUTPUT_DIR"),
]


@pytest.mark.parametrize(("kind", "variable"), FOLDER_VARIABLES)
def test_row_missing_folder(tmp_path: Path, kind: str, variable: str) -> None:
    """A contract folder that does not exist fails with exit code 2 naming the variable and
    the path."""
    setup = make_setup(kind, tmp_path)
    missing = tmp_path / "no" / "such-folder"
    setup.env[variable] = str(missing)
    assert_clean_failure(setup.run(), f"{variable}: folder {str(missing)!r} does not exist", code=2)
    assert left_behind(setup) == []


@pytest.mark.parametrize(("kind", "variable"), FOLDER_VARIABLES)
def test_row_missing_folder_set_but_empty(tmp_path: Path, kind: str, variable: str) -> None:
    """A contract folder variable set but empty fails with exit code 2 naming it, and nothing
    is read from or written to the working folder it would otherwise mean."""
    setup = make_setup(kind, tmp_path)
    setup.env[variable] = ""
    assert_clean_failure(setup.run(), f"{variable}: is empty, expected a folder path", code=2)
    assert left_behind(setup) == []


def test_row_missing_folder_task_dir_without_chunk(tmp_path: Path) -> None:
    """A TASK_DIR that holds no data.bin fails with exit code 2 naming TASK_DIR."""
    setup = make_setup("app", tmp_path)
    (Path(setup.env["TASK_DIR"]) / "data.bin").unlink()
    assert_clean_failure(setup.run(), "TASK_DIR", "holds no data.bin", code=2)
    assert left_behind(setup) == []


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A folder every user can enter (pytest's tmp_path is private to its owner)."""
    folder = Path(tempfile.mkdtemp(prefix="bytenite-bad-inputs-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        for path in [folder, *folder.rglob("*")]:
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
        shutil.rmtree(folder, ignore_errors=True)


# The interpreter may live where an unprivileged user cannot read it (/root/.pyenv), so a
# preexec_fn that drops privileges before exec cannot start it. Instead this starts as
# root, imports what the component needs, and only then becomes nobody.
_AS_NOBODY = """
import os, sys
import difflib, logging, signal, tempfile, threading, traceback, typing
import pydantic, pydantic_settings, orjson
from bytenite_runtime import registry, task
import bytenite_runtime.partitioners.files, bytenite_runtime.assemblers.concat

kind, target = sys.argv[1], sys.argv[2]
if kind == "app":
    with open(target) as source:
        code = compile(source.read(), target, "exec")
os.setgroups([])
os.setgid(NOBODY)
os.setuid(NOBODY)
if kind == "app":
    sys.argv = [target]
    exec(code, {"__name__": "__main__", "__file__": target})
else:
    sys.exit(task.entrypoint_for(kind, target).main())
""".replace("NOBODY", str(NOBODY))


def run_unprivileged(setup: Setup, app_path: Path | None = None) -> Completed:
    """Run ``setup`` as a user for whom mode 0555 really means read-only."""
    if os.geteuid() != 0:
        return setup.run()
    target = str(app_path) if setup.kind == "app" else setup.command[-1]
    command = [sys.executable, "-c", _AS_NOBODY, setup.kind, target]
    return run_component(command, setup.env, cwd=setup.produced.parent)


def _unprivileged_setup(kind: str, root: Path) -> tuple[Setup, Path | None]:
    app_path = None
    if kind == "app":
        app_path = library_app(root / "lib-app") / "app" / "main.py"
    setup = make_setup(kind, root / "job", app_path)
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return setup, app_path


@pytest.mark.parametrize(
    ("kind", "variable"),
    [("partitioner", "CHUNKS_DIR"), ("app", "TASK_RESULTS_DIR"), ("assembler", "OUTPUT_DIR")],
)
def test_row_unwritable_folder(open_tmp: Path, kind: str, variable: str) -> None:
    """A folder the component must write but cannot fails with exit code 2 naming the
    variable; the same setup with the folder writable succeeds (control)."""
    setup, app_path = _unprivileged_setup(kind, open_tmp)
    setup.produced.chmod(0o777)
    control = run_unprivileged(setup, app_path)
    assert control.returncode == 0, control.stderr
    assert left_behind(setup) != []
    for entry in setup.produced.iterdir():
        entry.unlink()
    setup.produced.chmod(0o555)
    result = run_unprivileged(setup, app_path)
    assert_clean_failure(result, f"{variable}: folder", "is not writable", code=2)
    assert left_behind(setup) == []


def test_row_schema_violation_json_schema(tmp_path: Path) -> None:
    """Params violating the app's schema.json (found beside it) fail with exit code 2
    naming the field and the schema file."""
    app = library_app(tmp_path / "schema-app", schema=True) / "app" / "main.py"
    setup = make_setup("app", tmp_path / "job", app)
    setup.env["APP_PARAMS"] = '{"case": "sideways"}'
    assert_clean_failure(setup.run(), "APP_PARAMS.case:", "'sideways'", "schema.json", code=2)
    assert left_behind(setup) == []
    setup.env["APP_PARAMS"] = "{}"
    assert_clean_failure(setup.run(), "APP_PARAMS", "'case' is a required property", code=2)


def test_row_schema_violation_params_model(tmp_path: Path) -> None:
    """Params violating the app's pydantic model fail with exit code 2 naming every bad
    field at once."""
    setup = make_setup("app", tmp_path)
    setup.env["APP_PARAMS"] = '{"case": "sideways", "repeat": 0}'
    line = assert_clean_failure(setup.run(), "APP_PARAMS.case:", "APP_PARAMS.repeat:", code=2)
    assert "2 problems" in line
    assert left_behind(setup) == []


RAISING_VALIDATOR_APP = """
    from pydantic import BaseModel, field_validator

    from bytenite_runtime import task


    class Params(BaseModel):
        n: int = 1

        @field_validator("n")
        @classmethod
        def lookup(cls, value: int) -> int:
            return {1: 1}[value]


    @task.app(params=Params)
    def main(ctx: task.AppContext[Params]) -> None:
        ctx.results.write_text("o.txt", "x")


    if __name__ == "__main__":
        main.run()
"""


def test_row_params_validator_raising_another_error(tmp_path: Path) -> None:
    """A params validator raising other than ValueError fails with exit code 4 after its
    traceback, naming the variable and model, not as a crash of the library (exit 1)."""
    app = write_component(tmp_path / "v", RAISING_VALIDATOR_APP, kind="app") / "app" / "main.py"
    setup = make_setup("app", tmp_path / "job", app)
    setup.env["APP_PARAMS"] = '{"n": 7}'
    result = setup.run()
    assert_clean_failure(result, "error: APP_PARAMS: validating Params raised KeyError: 7", code=4)
    assert "Traceback (most recent call last)" in result.stderr
    assert left_behind(setup) == []


def test_row_schema_violation_builtin_params(tmp_path: Path) -> None:
    """A misspelt built-in param fails with exit code 2 naming both the unknown key and
    the missing one."""
    setup = make_setup("partitioner", tmp_path)
    setup.env["PARTITIONER_PARAMS"] = '{"num_replica": 2}'
    assert_clean_failure(
        setup.run(),
        "PARTITIONER_PARAMS.num_replicas: field required",
        "PARTITIONER_PARAMS.num_replica: Extra inputs are not permitted",
        code=2,
    )
    assert left_behind(setup) == []


@pytest.mark.parametrize(
    ("assembler", "params", "culprit"),
    [
        ("zipper", '{"archive_name": "x\\u0000.zip"}', "ASSEMBLER_PARAMS.archive_name:"),
        ("concat", '{"output_name": "a\\nb.txt"}', "ASSEMBLER_PARAMS.output_name:"),
        ("concat", '{"output_name": "' + "L" * 256 + '"}', "ASSEMBLER_PARAMS.output_name:"),
    ],
    ids=["nul-archive-name", "newline-output-name", "long-output-name"],
)
def test_row_file_name_param(tmp_path: Path, assembler: str, params: str, culprit: str) -> None:
    """A file-name param holding a NUL, a newline or over 255 bytes fails with exit code 2
    naming the field, no traceback, and nothing written to OUTPUT_DIR."""
    setup = make_setup("assembler", tmp_path)
    setup.command[-1] = assembler
    setup.env["ASSEMBLER_PARAMS"] = params
    result = setup.run()
    assert_clean_failure(result, culprit, code=2)
    assert "Traceback" not in result.stderr
    assert left_behind(setup) == []


def test_row_schema_violation_in_a_job(simulate: Simulate, tmp_path: Path) -> None:
    """In a job, a misspelt partitioner param fails the job (exit code 5) with a reason
    naming the partitioner and the field, and leaves no output folder."""
    source = tmp_path / "in.txt"
    source.write_text("x\n")
    request = write_request(
        tmp_path / "job.json",
        app=library_app(tmp_path / "lib-app"),
        partitioner="replicate-fanout",
        source=source,
        params={"partitioner": {"num_replica": 2}},
    )
    run = simulate(request)
    assert_clean_failure(run, "partitioner", "PARTITIONER_PARAMS.num_replica", code=5)
    assert run.report["tasks"] == []
    assert not run.output.exists()


def test_row_unknown_component_name(tmp_path: Path) -> None:
    """Serving an unknown built-in fails with exit code 2 suggesting the nearest name."""
    result = run_component(
        [sys.executable, "-m", "bytenite_runtime", "serve", "partitioner", "replicat-fanout"],
        base_env(),
        cwd=tmp_path,
    )
    assert_clean_failure(
        result, "unknown partitioner 'replicat-fanout'", "did you mean 'replicate-fanout'?", code=2
    )


def test_row_unknown_component_name_in_a_job(simulate: Simulate, tmp_path: Path) -> None:
    """A template naming an unknown assembler fails before any component runs, with exit
    code 2 suggesting the nearest name, and creates no job or output folder."""
    source = tmp_path / "in.txt"
    source.write_text("x\n")
    request = write_request(
        tmp_path / "job.json", app=FIXTURES / "raw_app", assembler="concatt", source=source
    )
    run = simulate(request)
    assert_clean_failure(run, "unknown assembler", "'concatt'", "did you mean 'concat'?", code=2)
    assert run.job_dirs == []
    assert not run.output.exists()


@pytest.mark.parametrize(
    ("role", "tag", "said"),
    [
        ("partitioner", "zipper", "'zipper' is an assembler, not a partitioner"),
        ("assembler", "row", "'row' is a partitioner, not an assembler"),
        ("app", "concat", "'concat' is an assembler, not an app"),
        ("assembler", "raw-app", "'raw-app' is an app, not an assembler"),
        ("app", "passthrough", "'passthrough' is a partitioner and an assembler, not an app"),
    ],
)
def test_row_a_component_in_the_wrong_role_says_what_it_is(
    simulate: Simulate, tmp_path: Path, role: str, tag: str, said: str
) -> None:
    """A template tag naming a component of another kind (an assembler as the partitioner,
    an app as the assembler) fails with exit 2 saying which kind it is, not only unknown."""
    source = tmp_path / "in.txt"
    source.write_text("x\n")
    tags: dict[str, str | Path] = {"app": FIXTURES / "raw_app", role: tag}
    request = write_request(tmp_path / "job.json", source=source, **tags)
    run = simulate(request, "--search", str(FIXTURES))
    assert_clean_failure(run, f"unknown {role} {tag!r}; {said} (known: ", code=2)
    assert run.job_dirs == []


@pytest.mark.parametrize(
    ("secret_ids", "env", "culprit"),
    [
        (("API_TOKEN",), {}, "API_TOKEN: is not set"),
        (("API_TOKEN",), {"API_TOKEN": ""}, "API_TOKEN: is empty"),
        (("API_TOKEN",), {"API_TOKEN": PLANTED + "\n"}, "API_TOKEN: has leading or trailing"),
        (("API_TOKEN",), {"API_TOKEN": " " + PLANTED}, "API_TOKEN: has leading or trailing"),
        (("API_TOKEN",), {"API_TOKEN": "ab\x01" + PLANTED}, "API_TOKEN: contains control"),
        (("STORE",), {"STORE_ACCESS_KEY": PLANTED}, "STORE_SECRET_KEY: is not set (secret STORE)"),
        (
            ("STORE",),
            {"STORE_ACCESS_KEY": PLANTED, "STORE_SECRET_KEY": PLANTED + " "},
            "STORE_SECRET_KEY: has leading or trailing",
        ),
    ],
    ids=[
        "missing",
        "empty",
        "trailing-newline",
        "leading-space",
        "control-character",
        "storage-without-secret-key",
        "storage-secret-key-with-space",
    ],
)
def test_row_invalid_secret(
    tmp_path: Path, secret_ids: tuple[str, ...], env: dict[str, str], culprit: str
) -> None:
    """A declared secret that is missing, empty, padded or incomplete fails with exit code 2
    naming its variable, and its value appears nowhere in the output."""
    app = library_app(tmp_path / "secret-app", secrets=secret_ids) / "app" / "main.py"
    setup = make_setup("app", tmp_path / "job", app)
    setup.env.update(env)
    result = setup.run()
    assert_clean_failure(result, culprit, code=2)
    assert PLANTED not in result.stdout + result.stderr
    assert left_behind(setup) == []


def test_row_invalid_secret_in_a_job(simulate: Simulate, tmp_path: Path) -> None:
    """In a job, a secret the app's manifest declares but the secrets file lacks fails the
    task (and the job, exit code 5) naming the variable."""
    source = tmp_path / "in.txt"
    source.write_text("x\n")
    secrets = write_json(tmp_path / "private" / "secrets.json", {"OTHER": "irrelevant"})
    request = write_request(
        tmp_path / "job.json", app=library_app(tmp_path / "app", ("API_TOKEN",)), source=source
    )
    run = simulate(request, "--secrets", secrets)
    assert_clean_failure(run, "task 0", "API_TOKEN: is not set", code=5)
    assert not run.output.exists()


@pytest.mark.parametrize("secret_id", ["A=B", "", "1X"])
def test_row_invalid_secret_id_in_a_manifest(
    simulate: Simulate, tmp_path: Path, secret_id: str
) -> None:
    """A manifest declaring a secret id that cannot name a variable ('A=B') fails the job
    before it starts (exit 2) naming the id, never a traceback from starting the task,
    and the secret's value appears nowhere."""
    source = tmp_path / "in.txt"
    source.write_text("x\n")
    secrets = write_json(tmp_path / "private" / "secrets.json", {secret_id: PLANTED})
    app = write_component(tmp_path / "app", (FIXTURES / "raw_app" / "app" / "main.py").read_text())
    manifest = json.loads((app / "manifest.json").read_text())
    manifest["platform_config"]["secrets"] = [secret_id]
    write_json(app / "manifest.json", manifest)
    request = write_request(tmp_path / "job.json", app=app, source=source)
    run = simulate(request, "--secrets", secrets)
    assert_clean_failure(
        run, f"platform_config.secrets: {secret_id!r} is not a valid secret id", code=2
    )
    assert PLANTED not in run.stdout + run.stderr
    assert run.job_dirs == []


@pytest.mark.parametrize("stored", ["plain", "pair"])
def test_row_secret_holding_a_nul_in_a_job(simulate: Simulate, tmp_path: Path, stored: str) -> None:
    """A secrets file value holding a NUL, which no environment variable can carry, fails
    before the job starts (exit 2) naming the id, never a traceback, and hides the value."""
    source = tmp_path / "in.txt"
    source.write_text("x\n")
    value = PLANTED + "\0"
    entry = value if stored == "plain" else {"access_key": value, "secret_key": "s"}
    secrets = write_json(tmp_path / "private" / "secrets.json", {"API_TOKEN": entry})
    request = write_request(
        tmp_path / "job.json", app=library_app(tmp_path / "app", ("API_TOKEN",)), source=source
    )
    run = simulate(request, "--secrets", secrets)
    assert_clean_failure(run, "API_TOKEN: holds a NUL character", "(value hidden)", code=2)
    assert PLANTED not in run.stdout + run.stderr
    assert run.job_dirs == []


@pytest.mark.parametrize(
    ("flag", "what"),
    [
        ("--report", "--report"),
        ("--output", "output folder"),
        ("--workdir", "--workdir"),
        ("--user-cache", "--user-cache"),
        ("--secrets", "--secrets"),
    ],
)
def test_row_path_option_that_is_a_symbolic_link_loop(
    simulate: Simulate, tmp_path: Path, flag: str, what: str
) -> None:
    """A --report, --output, --workdir, cache or secrets path that is a symbolic link loop
    fails before the job starts (exit 2) with one line naming the option, never a
    traceback (a --report checked against the secrets file resolved both)."""
    source = tmp_path / "in.txt"
    source.write_text("x\n")
    request = write_request(tmp_path / "job.json", app=library_app(tmp_path / "app"), source=source)
    loop = tmp_path / "loop"
    loop.symlink_to(loop.name)
    report = () if flag == "--report" else ("--report", tmp_path / "report.json")
    run = simulate(request, flag, loop, *report)
    assert "Traceback" not in run.stderr
    line = assert_clean_failure(run, code=2)
    assert line == (
        f"error: {what} {str(loop)!r}: a symbolic link loop (too many levels of symbolic "
        "links); choose another path"
    )
    assert run.job_dirs == []


@pytest.mark.parametrize("kind", KINDS)
def test_row_task_crash(tmp_path: Path, kind: str) -> None:
    """Component code that raises exits with code 4 after its traceback, with a last line
    naming the chunk where known, and everything it wrote so far is removed."""
    setup = make_setup(kind, tmp_path)
    if kind == "app":
        setup.env["APP_PARAMS"] = '{"crash": true}'
        culprit = "error: chunk 3: ValueError: cannot handle chunk 3"
    elif kind == "partitioner":
        setup.command = [
            sys.executable,
            str(write_component(tmp_path / "p", CRASHING_PARTITIONER) / "app" / "main.py"),
        ]
        culprit = "error: chunk 2: RuntimeError: source is corrupt after two chunks"
    else:
        setup.command = [
            sys.executable,
            str(write_component(tmp_path / "a", CRASHING_ASSEMBLER) / "app" / "main.py"),
        ]
        culprit = "error: RuntimeError: ran out of results"
    result = setup.run()
    assert_clean_failure(result, culprit, code=4)
    assert "Traceback (most recent call last)" in result.stderr
    assert left_behind(setup) == []
    assert not [p for p in setup.produced.iterdir() if p.name.startswith(".")]


def test_row_task_crash_in_a_job(simulate: Simulate, tmp_path: Path) -> None:
    """In a job, a task crashing on every attempt fails the job (exit code 5) with one line
    naming the task and chunk, after its retries, and leaves no output folder."""
    source = tmp_path / "in.txt"
    source.write_text("".join(f"row {i}\n" for i in range(3)))
    crash_on_one = """
        from bytenite_runtime import task

        @task.app
        def main(ctx):
            ctx.results.write_text("r.txt", "partial")
            if ctx.chunk.index == 1:
                raise ValueError("row 1 is unreadable")

        if __name__ == "__main__":
            main.run()
    """
    request = write_request(
        tmp_path / "job.json",
        app=write_component(tmp_path / "app", crash_on_one),
        partitioner=FIXTURES / "raw_partitioner",
        source=source,
        params={"partitioner": {"num_chunks": 3}},
        config={"maxTaskRetries": 2},
    )
    run = simulate(request)
    line = assert_clean_failure(
        run,
        "task 1:",
        "error: chunk 1: ValueError: row 1 is unreadable",
        "after 3 attempts",
        code=5,
    )
    assert "task 0" not in line and "task 2" not in line
    failed = [t for t in run.report["tasks"] if t["state"] == "Failed"]
    assert [t["chunk"] for t in failed] == [1]
    assert [a["exitCode"] for a in failed[0]["attempts"]] == [4, 4, 4]
    assert not run.output.exists()


def test_row_task_hangs(simulate: Simulate, tmp_path: Path) -> None:
    """In a job, a task running past taskTimeout is stopped and fails the job (exit code 5)
    naming the task and the timeout, with no output folder."""
    source = tmp_path / "in.txt"
    source.write_text("x\n")
    request = write_request(
        tmp_path / "job.json",
        app=write_component(tmp_path / "app", HANGING_LIBRARY_APP),
        source=source,
        config={"taskTimeout": 2},
    )
    began = time.monotonic()
    run = simulate(request, "--keep", timeout=60)
    assert time.monotonic() - began < 20
    assert_clean_failure(run, "task 0: taskTimeout of 2s exceeded", code=5)
    assert not run.output.exists()
    # The library app got SIGTERM first and removed the result it had staged.
    results = run.job_dir / "tasks" / "00000" / "attempt-1" / "results"
    assert list(results.iterdir()) == []


def test_row_task_hangs_stopped_directly(tmp_path: Path) -> None:
    """A library app stopped with SIGTERM mid-task exits 143 with an error line naming the
    signal and leaves nothing in TASK_RESULTS_DIR."""
    app = write_component(tmp_path / "app", HANGING_LIBRARY_APP) / "app" / "main.py"
    setup = make_setup("app", tmp_path / "job", app)
    cache = tmp_path / "cache"
    cache.mkdir()
    setup.env["USER_CACHE_DIR"] = str(cache)
    proc = subprocess.Popen(
        setup.command, env=setup.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 20
        while not (cache / "started").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (cache / "started").exists()
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert_clean_failure(
        Completed(proc.returncode, stdout, stderr), "app interrupted (SIGTERM)", code=143
    )
    assert left_behind(setup) == []


def test_row_undecodable_chunk(tmp_path: Path) -> None:
    """A chunk that is not valid text fails with exit code 3 naming the chunk and the
    byte offset."""
    setup = make_setup("app", tmp_path)
    (Path(setup.env["TASK_DIR"]) / "data.bin").write_bytes(b"abc\xff\xfedef")
    assert_clean_failure(setup.run(), "chunk 3 byte 3", "utf-8", code=3)
    assert left_behind(setup) == []


LONG_RESULT_NAME_APP = """
    from bytenite_runtime import task


    @task.app
    def main(ctx):
        ctx.results.write_text("fine.txt", "ok")
        ctx.results.write_text("L" * 250, "x")


    if __name__ == "__main__":
        main.run()
"""


def test_row_result_name_too_long(tmp_path: Path) -> None:
    """A result name that its chunk prefix pushes past the 255-byte file-name limit fails
    with exit code 2 naming the result and the limit, no traceback, and none of the task's
    results committed."""
    app = write_component(tmp_path / "long-app", LONG_RESULT_NAME_APP, kind="app")
    setup = make_setup("app", tmp_path / "run", app / "app" / "main.py")
    result = setup.run()
    assert_clean_failure(
        result, "result name 'LLL", "'chunk-000003.' prefix", "255-byte file-name limit", code=2
    )
    assert "Traceback" not in result.stderr
    assert left_behind(setup) == []


# Writes each name of APP_PARAMS.names (Latin-1 bytes where it says "latin1:") as a result.
NAMING_APP = """
    import json, os

    folder = os.environ["TASK_RESULTS_DIR"].encode()
    for name in json.loads(os.environ["APP_PARAMS"])["names"]:
        raw = name[7:].encode("latin-1") if name.startswith("latin1:") else name.encode()
        with open(folder + b"/" + raw, "w") as out:
            out.write("x")
"""


@pytest.mark.parametrize(
    ("names", "flags", "culprit"),
    [
        (["R" * 255], (), "is 261 bytes in UTF-8, over the 255-byte file-name limit"),
        (["R" * 250], ("--prefix-results",), "is 259 bytes in UTF-8, over the 255-byte"),
        (["latin1:caf\xe9.txt"], (), "result 'caf\\udce9.txt' is not named in valid UTF-8"),
    ],
    ids=["renamed-past-the-limit", "prefixed-past-the-limit", "not-utf-8"],
)
def test_row_result_name_that_cannot_be_collected_in_a_job(
    simulate: Simulate,
    tmp_path: Path,
    names: list[str],
    flags: tuple[str, ...],
    culprit: str,
) -> None:
    """A result name that a collision's rename or the platform's prefix takes past 255
    bytes, or one that is not UTF-8, fails the job naming the task and the result, with a
    report and nothing left behind, not a traceback."""
    source = tmp_path / "in.txt"
    source.write_text("x\n")
    app = write_component(tmp_path / "naming-app", NAMING_APP)
    request = write_request(
        tmp_path / "job.json", app=app, partitioner="replicate-fanout", source=source,
        params={"partitioner": {"num_replicas": 2}, "app": {"names": names}},
    )  # fmt: skip
    run = simulate(request, *flags)
    assert run.returncode == 5, run.stderr
    assert "Traceback" not in run.stderr
    assert run.last_error_line.startswith(f"error: job {run.job_dir.name} failed: task ")
    assert culprit in run.last_error_line
    assert run.report["job"]["state"] == "Failed"
    assert sorted(p.name for p in run.job_dir.iterdir()) == ["logs", "report.json"]
    assert run.output is not None and not run.output.exists()


def test_row_assembler_output_not_named_in_utf8_in_a_job(
    simulate: Simulate, tmp_path: Path
) -> None:
    """An assembler output whose name is not UTF-8 fails the job naming it, with a report,
    and nothing is delivered."""
    source = tmp_path / "in.txt"
    source.write_text("x\n")
    assembler = write_component(
        tmp_path / "naming-assembler",
        """
        import os

        with open(os.environ["OUTPUT_DIR"].encode() + b"/caf\\xe9.txt", "w") as out:
            out.write("x")
        """,
        kind="assembler",
    )
    run = simulate(
        write_request(
            tmp_path / "job.json", app=FIXTURES / "raw_app", assembler=assembler, source=source
        )
    )
    assert run.returncode == 5, run.stderr
    assert "Traceback" not in run.stderr
    assert "output 'caf\\udce9.txt' is not named in valid UTF-8" in run.last_error_line
    assert run.report["job"]["state"] == "Failed"
    assert sorted(p.name for p in run.job_dir.iterdir()) == ["logs", "report.json"]
    assert run.output is not None and not run.output.exists()


# -- secrets never leak -------------------------------------------------------------------

LEAKY_APP = """
    import os
    import sys

    from bytenite_runtime import task

    # Before the library sees it: a raw app commonly strips and echoes its token.
    token = os.environ.get("API_TOKEN", "").strip()
    print("module stdout:", token)
    print("module stderr:", token, file=sys.stderr)


    @task.app(secrets=["API_TOKEN"])
    def main(ctx):
        value = ctx.secrets["API_TOKEN"].value.get_secret_value()
        ctx.log.info("token is %s", value)
        ctx.log.warning(f"token again: {value}")
        print("stdout:", value)
        print("stderr:", value, file=sys.stderr)
        raise RuntimeError(f"the service rejected token {value}")


    if __name__ == "__main__":
        main.run()
"""


QUIET_LEAKY_APP = """
    from bytenite_runtime import task


    @task.app(secrets=["API_TOKEN"])
    def main(ctx):
        value = ctx.secrets["API_TOKEN"].value.get_secret_value()
        ctx.log.info("token is %s", value)
        ctx.log.warning(f"token again: {value}")
        ctx.results.write_text("out.txt", "no secret in here")
        raise RuntimeError(f"the service rejected token {value}")


    if __name__ == "__main__":
        main.run()
"""


def test_library_redacts_secrets_in_its_log_traceback_and_error_line(tmp_path: Path) -> None:
    """Run directly (no simulator), a library app that logs a secret and raises with it
    prints *** instead, in log lines, traceback and the final error line."""
    app = write_component(tmp_path / "app", QUIET_LEAKY_APP, secrets=["API_TOKEN"])
    setup = make_setup("app", tmp_path / "job", app / "app" / "main.py")
    setup.env["API_TOKEN"] = PLANTED
    result = setup.run()
    assert_clean_failure(
        result, "error: chunk 3: RuntimeError: the service rejected token ***", code=4
    )
    assert "INFO bytenite.app: token is ***" in result.stderr
    assert "Traceback (most recent call last)" in result.stderr
    assert PLANTED not in result.stdout + result.stderr
    assert left_behind(setup) == []


def test_library_redacts_a_secret_quoted_in_a_params_error(tmp_path: Path) -> None:
    """A params value that equals a declared secret is masked when a params error quotes
    the bad input."""
    app = library_app(tmp_path / "app", secrets=("API_TOKEN",)) / "app" / "main.py"
    setup = make_setup("app", tmp_path / "job", app)
    setup.env["API_TOKEN"] = PLANTED
    setup.env["APP_PARAMS"] = json.dumps({"repeat": PLANTED})
    result = setup.run()
    assert_clean_failure(result, "APP_PARAMS.repeat:", code=2)
    assert PLANTED not in result.stdout + result.stderr


# Writes its secret the ways apps show strings (repr, %r, json.dumps, a bytes repr, a
# URL), uses it in a result's name, then fails with it in the error or succeeds.
ESCAPING_APP = """
    import json
    import os
    import urllib.parse

    from bytenite_runtime import task


    @task.app(secrets=["API_TOKEN"])
    def main(ctx):
        value = ctx.secrets["API_TOKEN"].value.get_secret_value()
        ctx.log.info("token %r", value)
        print(json.dumps({"token": value}), json.dumps({"token": value}, ensure_ascii=False))
        print(value.encode(), ascii(value), "https://x/?t=" + urllib.parse.quote(value, safe=""))
        print("https://x/" + urllib.parse.quote(value) + "?u=" + urllib.parse.quote_plus(value))
        ctx.results.write_text(f"res-{urllib.parse.quote(value, safe='')}.txt", "ok")
        if "crash" in os.environ.get("APP_PARAMS", ""):
            raise ValueError(f"bad token {value!r}")


    if __name__ == "__main__":
        main.run()
"""
# The slash: AWS secret keys hold one, which urllib.parse.quote leaves as it is by default.
ESCAPED_SECRET = 'pa\\ss "wörd" + x/y'


def _shown_forms(value: str) -> set[str]:
    return {
        repr(value)[1:-1], ascii(value)[1:-1], json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1], repr(value.encode())[2:-1],
        urllib.parse.quote(value, safe=""), urllib.parse.quote(value),
        urllib.parse.quote_plus(value), value,
    }  # fmt: skip


@pytest.mark.parametrize("crash", [False, True], ids=["completes", "fails"])
def test_secret_escaped_by_repr_or_json_appears_nowhere(
    simulate: Simulate, tmp_path: Path, crash: bool
) -> None:
    """A secret holding a backslash, quotes, a space, a slash and a non-ASCII letter, shown
    by the app through repr, %r, json.dumps, a bytes repr or a URL (urllib.parse.quote
    keeps a slash by default), and used in a result's name,
    appears in none of those forms in the logs, the report or the simulator's output."""
    source = tmp_path / "in.txt"
    source.write_text("x\n")
    secrets = write_json(tmp_path / "private" / "secrets.json", {"API_TOKEN": ESCAPED_SECRET})
    app = write_component(tmp_path / "escaping-app", ESCAPING_APP, secrets=["API_TOKEN"])
    params = {"app": {"crash": True}} if crash else {}
    request = write_request(
        tmp_path / "job.json", app=app, source=source, params=params, config={"maxTaskRetries": 0}
    )
    run = simulate(request, "--secrets", secrets, "--keep", quiet=False)
    assert run.returncode == (5 if crash else 0), run.stderr
    logged = " ".join(r["message"] for r in run.log("task-00000"))
    assert "token '***'" in logged and '{"token": "***"}' in logged and "t=***" in logged
    assert "https://x/***?u=***" in logged
    report = (run.job_dir / "report.json").read_text()
    for form in _shown_forms(ESCAPED_SECRET):
        assert form not in run.stdout + run.stderr, form
        assert form not in report, form
        assert _files_holding(form, run.workdir, tmp_path / "cache") == [], form


# A raw app whose locale is not UTF-8 prints its secret in another encoding.
ENCODING_APP = """
    import os, sys

    token = os.environ["API_TOKEN"]
    for encoding in ("latin-1", "cp1252", "utf-16", "utf-16-le", "utf-16-be", "utf-32"):
        sys.stderr.buffer.write(encoding.encode() + b": " + token.encode(encoding) + b"\\n")
    sys.stderr.buffer.write(b"error: rejected " + token.encode("latin-1") + b"\\n")
    sys.exit(1)
"""


def test_secret_printed_in_another_encoding_appears_nowhere(
    simulate: Simulate, tmp_path: Path
) -> None:
    """A secret an app prints in Latin-1, cp1252, UTF-16 or UTF-32 is masked in the log and
    the failure's reason, not shown but for its non-ASCII letters or between NUL bytes."""
    source = tmp_path / "in.txt"
    source.write_text("x\n")
    value = "pässwörd-" + PLANTED
    secrets = write_json(tmp_path / "private" / "secrets.json", {"API_TOKEN": value})
    app = write_component(tmp_path / "encoding-app", ENCODING_APP, secrets=["API_TOKEN"])
    request = write_request(tmp_path / "job.json", app=app, source=source)
    run = simulate(request, "--secrets", secrets, "--keep")
    assert_clean_failure(run, "task 0: exited with code 1: error: rejected *** (after", code=5)
    messages = [r["message"].replace("\0", "") for r in run.log("task-00000")]
    assert len(messages) == 7
    assert all(m.endswith("***") for m in messages[:6]), messages
    assert not any(PLANTED in m for m in messages)
    assert _files_holding(PLANTED, run.workdir) == []


def _files_holding(needle: str, *roots: Path) -> list[Path]:
    found = []
    for root in roots:
        if not root.exists():
            continue
        for path in [root] if root.is_file() else sorted(root.rglob("*")):
            if path.is_file() and needle.encode() in path.read_bytes():
                found.append(path)
    return found


@pytest.mark.parametrize(
    "value",
    [PLANTED, PLANTED + "\n", PLANTED + " "],
    ids=["valid", "trailing-newline", "trailing-space"],
)
def test_planted_secret_appears_nowhere(simulate: Simulate, tmp_path: Path, value: str) -> None:
    """A secret the app logs, prints and puts in an exception appears in no file of the job
    folder, the output, the report, or the simulator's own stdout/stderr."""
    source = tmp_path / "in.txt"
    source.write_text("x\n")
    secrets = write_json(tmp_path / "private" / "secrets.json", {"API_TOKEN": value})
    app = write_component(tmp_path / "leaky-app", LEAKY_APP, secrets=["API_TOKEN"])
    request = write_request(
        tmp_path / "job.json", app=app, source=source, config={"maxTaskRetries": 1}
    )
    run = simulate(request, "--secrets", secrets, "--keep")
    assert_clean_failure(run, "task 0", code=5)
    assert run.job_dir.is_dir()
    # The app did run and print: the log holds its lines, with the value masked.
    messages = [r["message"] for r in run.log("task-00000")]
    assert any(m.startswith("module stdout:") for m in messages)
    assert PLANTED not in run.stdout
    assert PLANTED not in run.stderr
    assert _files_holding(PLANTED, run.workdir, run.output, tmp_path / "cache") == []
