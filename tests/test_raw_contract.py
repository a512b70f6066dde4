"""Components written only against the platform contract run unchanged under the simulator.

The components in ``tests/fixtures/raw_*`` import nothing from ``bytenite_runtime``: they
read the contract's variables and folders and write plain files, as a container on the
platform would. These tests wire them with each other, with the built-ins and with a
library app, and check the bytes that come out and the environment each one saw.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest
from conftest import FIXTURES, Simulate, write_component, write_json, write_request

RAW_APP = FIXTURES / "raw_app"
RAW_PARTITIONER = FIXTURES / "raw_partitioner"
RAW_ASSEMBLER = FIXTURES / "raw_assembler"

# The contract's variable names, written out here so the test pins the contract itself.
CONTRACT = {
    "SOURCE_DIR", "CHUNKS_DIR", "PARTITIONER_PARAMS", "TASK_DIR", "TASK_RESULTS_DIR",
    "APP_PARAMS", "USER_CACHE_DIR", "SHARED_CACHE_DIR", "CHUNK_NUMBER", "OUTPUT_DIR",
    "ASSEMBLER_PARAMS", "SECRETS",
}  # fmt: skip
APP_VARS = {
    "TASK_DIR", "TASK_RESULTS_DIR", "APP_PARAMS", "USER_CACHE_DIR", "SHARED_CACHE_DIR",
    "CHUNK_NUMBER",
}  # fmt: skip
PARTITIONER_VARS = {"SOURCE_DIR", "CHUNKS_DIR", "PARTITIONER_PARAMS", "SHARED_CACHE_DIR"}
ASSEMBLER_VARS = {"TASK_RESULTS_DIR", "OUTPUT_DIR", "ASSEMBLER_PARAMS", "SHARED_CACHE_DIR"}
# What a process needs to start at all; anything else of the caller must stay out.
PROCESS_BASICS = {
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR",
    "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "CONDA_PREFIX", "SYSTEMROOT",
}  # fmt: skip

LINES = "".join(f"line {i:02d}: the quick brown fox\n" for i in range(12))

LIBRARY_UPPER_APP = """
    from bytenite_runtime import task

    @task.app
    def main(ctx):
        ctx.results.write_text("part.txt", ctx.chunk.read_text().upper())

    if __name__ == "__main__":
        main.run()
"""


@pytest.fixture
def lines_file(tmp_path: Path) -> Path:
    path = tmp_path / "input" / "lines.txt"
    path.parent.mkdir()
    path.write_text(LINES)
    return path


def _non_basic(keys: list[str]) -> set[str]:
    return {k for k in keys if k not in PROCESS_BASICS and not k.startswith("LC_")}


@pytest.mark.parametrize(
    "component", [RAW_APP, RAW_PARTITIONER, RAW_ASSEMBLER], ids=lambda p: p.name
)
def test_raw_fixtures_import_nothing_from_the_library(component: Path) -> None:
    """Each raw fixture's entrypoint imports only the standard library, never bytenite_runtime."""
    tree = ast.parse((component / "app" / "main.py").read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    }
    assert imported <= {"json", "os", "sys", "pathlib", "__future__"}


def test_raw_partitioner_app_and_assembler_run_together(
    simulate: Simulate, tmp_path: Path, lines_file: Path
) -> None:
    """Raw partitioner, app and assembler make a job whose output is the upper-cased input,
    in order."""
    request = write_request(
        tmp_path / "job.json",
        app=RAW_APP,
        partitioner=RAW_PARTITIONER,
        assembler=RAW_ASSEMBLER,
        source=lines_file,
        params={
            "partitioner": {"num_chunks": 3},
            "app": {"name": "part_{chunk:04d}.txt"},
            "assembler": {"output_name": "all.txt"},
        },
    )
    run = simulate(request)
    assert run.returncode == 0, run.stderr
    assert run.report["job"]["chunks"] == 3
    assert run.delivered == ["all.txt"]
    assert (run.output / "all.txt").read_bytes() == LINES.upper().encode()


def test_raw_app_between_passthrough_builtins(
    simulate: Simulate, tmp_path: Path, lines_file: Path
) -> None:
    """A raw app between the passthrough partitioner and assembler gets the source file as its
    chunk and its result reaches the output under its own name, byte for byte."""
    request = write_request(
        tmp_path / "job.json", app=RAW_APP, source=lines_file, params={"app": {"name": "out.txt"}}
    )
    run = simulate(request)
    assert run.returncode == 0, run.stderr
    assert run.delivered == ["out.txt"]
    assert (run.output / "out.txt").read_bytes() == LINES.upper().encode()


def test_raw_app_with_replicate_fanout_and_zipper(
    simulate: Simulate, tmp_path: Path, lines_file: Path
) -> None:
    """replicate-fanout hands a raw app the source unchanged in every task, and zipper packs
    every raw result into one archive."""
    request = write_request(
        tmp_path / "job.json",
        app=RAW_APP,
        partitioner="replicate-fanout",
        assembler="zipper",
        source=lines_file,
        params={
            "partitioner": {"num_replicas": 3},
            "app": {"mode": "copy", "name": "copy_{chunk}.txt"},
        },
    )
    run = simulate(request)
    assert run.returncode == 0, run.stderr
    assert run.delivered == ["results_archive.zip"]
    with zipfile.ZipFile(run.output / "results_archive.zip") as archive:
        assert archive.namelist() == ["copy_0.txt", "copy_1.txt", "copy_2.txt"]
        for name in archive.namelist():
            # By default a built-in chunk is the plain file: no footer for a raw app to trip on.
            assert archive.read(name) == LINES.encode()


def test_raw_app_results_named_by_convention_are_ordered_by_concat(
    simulate: Simulate, tmp_path: Path, lines_file: Path
) -> None:
    """A raw app that names results ``chunk-NNNNNN.name.ext`` itself gets them joined in chunk
    order by the concat assembler, with the marker dropped from the output name."""
    request = write_request(
        tmp_path / "job.json",
        app=RAW_APP,
        partitioner=RAW_PARTITIONER,
        assembler="concat",
        source=lines_file,
        params={
            "partitioner": {"num_chunks": 4},
            "app": {"name": "chunk-{chunk:06d}.part.txt"},
        },
    )
    run = simulate(request)
    assert run.returncode == 0, run.stderr
    assert run.delivered == ["part.txt"]
    assert (run.output / "part.txt").read_bytes() == LINES.upper().encode()


def test_raw_partitioner_feeds_library_app_and_concat(
    simulate: Simulate, tmp_path: Path, lines_file: Path
) -> None:
    """Plain chunks from a raw partitioner work with a library app, whose results concat
    puts back in chunk order."""
    app = write_component(tmp_path / "upper-app", LIBRARY_UPPER_APP, kind="app")
    request = write_request(
        tmp_path / "job.json",
        app=app,
        partitioner=RAW_PARTITIONER,
        assembler="concat",
        source=lines_file,
        params={"partitioner": {"num_chunks": 6}},
    )
    run = simulate(request)
    assert run.returncode == 0, run.stderr
    assert run.report["job"]["chunks"] == 6
    assert (run.output / "part.txt").read_bytes() == LINES.upper().encode()


def test_builtin_partitioner_output_reaches_raw_assembler(
    simulate: Simulate, tmp_path: Path, lines_file: Path
) -> None:
    """Results of replicate-fanout + raw app arrive flat in the raw assembler's
    TASK_RESULTS_DIR, which joins them by name."""
    request = write_request(
        tmp_path / "job.json",
        app=RAW_APP,
        partitioner="replicate-fanout",
        assembler=RAW_ASSEMBLER,
        source=lines_file,
        params={
            "partitioner": {"num_replicas": 2},
            "app": {"mode": "copy", "name": "r{chunk}.txt"},
        },
    )
    run = simulate(request)
    assert run.returncode == 0, run.stderr
    assert (run.output / "joined.txt").read_bytes() == (LINES * 2).encode()


def _env_job(tmp_path: Path, name: str = "env_{chunk}.json", replicas: int = 2) -> Path:
    return write_request(
        tmp_path / "env-job.json",
        app=RAW_APP,
        partitioner="replicate-fanout",
        assembler=RAW_ASSEMBLER,
        source=write_json(tmp_path / "input" / "in.json", {"x": 1}),
        params={
            "partitioner": {"num_replicas": replicas},
            "app": {"mode": "env", "name": name},
            "assembler": {"mode": "env"},
        },
    )


def _caller_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        TASK_DIR="/bogus", SOURCE_DIR="/bogus", CHUNKS_DIR="/bogus", OUTPUT_DIR="/bogus",
        TASK_RESULTS_DIR="/bogus", APP_PARAMS='{"bogus": true}', CHUNK_NUMBER="99",
        MY_OWN_VAR="x",
    )  # fmt: skip
    env.update(extra)
    return env


def test_raw_app_sees_exactly_the_contract_environment(simulate: Simulate, tmp_path: Path) -> None:
    """A raw app gets the simulator's contract variables (never the caller's values), no
    partitioner or assembler variables, none of the caller's own variables, and CHUNK_NUMBER."""
    run = simulate(_env_job(tmp_path), env=_caller_env(), timeout=60)
    assert run.returncode == 0, run.stderr
    for chunk in (0, 1):
        env = json.loads((run.output / f"env_{chunk}.json").read_text())
        keys, values = env["keys"], env["values"]
        assert set(keys) & CONTRACT == APP_VARS
        assert _non_basic(keys) == APP_VARS
        assert "MY_OWN_VAR" not in keys
        assert values["CHUNK_NUMBER"] == str(chunk)
        assert json.loads(values["APP_PARAMS"]) == {"mode": "env", "name": "env_{chunk}.json"}
        for variable in ("TASK_DIR", "TASK_RESULTS_DIR"):
            assert values[variable] != "/bogus"
            assert Path(values[variable]).is_relative_to(run.job_dir)
        assert values["USER_CACHE_DIR"] == str(tmp_path / "cache" / "user")
        assert values["SHARED_CACHE_DIR"] == str(tmp_path / "cache" / "shared")


def test_raw_assembler_sees_exactly_its_contract_environment(
    simulate: Simulate, tmp_path: Path
) -> None:
    """A raw assembler gets only TASK_RESULTS_DIR, OUTPUT_DIR, ASSEMBLER_PARAMS and
    SHARED_CACHE_DIR of the contract, with every task's results flat in its folder."""
    run = simulate(_env_job(tmp_path), env=_caller_env(), timeout=60)
    assert run.returncode == 0, run.stderr
    env = json.loads((run.output / "assembler-env.json").read_text())
    assert _non_basic(env["keys"]) == ASSEMBLER_VARS
    assert env["results"] == ["env_0.json", "env_1.json"]


def test_raw_partitioner_sees_exactly_its_contract_environment(
    simulate: Simulate, tmp_path: Path
) -> None:
    """A raw partitioner gets only SOURCE_DIR, CHUNKS_DIR, PARTITIONER_PARAMS and
    SHARED_CACHE_DIR of the contract, with the source file in SOURCE_DIR."""
    source = tmp_path / "input" / "hello.txt"
    source.parent.mkdir()
    source.write_text("hello\n")
    request = write_request(
        tmp_path / "job.json",
        app=RAW_APP,
        partitioner=RAW_PARTITIONER,
        source=source,
        params={"partitioner": {"mode": "env"}, "app": {"mode": "copy", "name": "penv.json"}},
    )
    run = simulate(request, env=_caller_env())
    assert run.returncode == 0, run.stderr
    env = json.loads((run.output / "penv.json").read_text())
    assert _non_basic(env["keys"]) == PARTITIONER_VARS
    assert env["sources"] == {"hello.txt": "hello\n"}


def test_pass_env_forwards_a_caller_variable_but_never_a_contract_one(
    simulate: Simulate, tmp_path: Path
) -> None:
    """--pass-env MY_OWN_VAR gives the app the caller's value; --pass-env TASK_DIR still
    leaves the simulator's TASK_DIR in place, with one warning saying it is ignored."""
    run = simulate(
        _env_job(tmp_path, replicas=1),
        "--pass-env", "MY_OWN_VAR", "--pass-env", "TASK_DIR",
        env=_caller_env(),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert [line for line in run.stderr.splitlines() if "--pass-env" in line] == [
        "warning: --pass-env TASK_DIR: a contract variable, set by the simulator and never "
        "passed from yours; ignored"
    ]
    env = json.loads((run.output / "env_0.json").read_text())
    assert "MY_OWN_VAR" in env["keys"]
    assert env["values"]["TASK_DIR"] != "/bogus"
    assert _non_basic(env["keys"]) == APP_VARS | {"MY_OWN_VAR"}


def test_no_chunk_number_leaves_chunk_number_out(simulate: Simulate, tmp_path: Path) -> None:
    """With --no-chunk-number the raw app's environment has no CHUNK_NUMBER at all."""
    run = simulate(_env_job(tmp_path, name="env.json", replicas=1), "--no-chunk-number")
    assert run.returncode == 0, run.stderr
    env = json.loads((run.output / "env.json").read_text())
    assert "CHUNK_NUMBER" not in env["keys"]
    assert _non_basic(env["keys"]) == APP_VARS - {"CHUNK_NUMBER"}


def test_raw_app_gets_only_the_secrets_its_manifest_declares(
    simulate: Simulate, tmp_path: Path
) -> None:
    """A raw app gets API_TOKEN and STORE_ACCESS_KEY/STORE_SECRET_KEY it declares, but neither
    an undeclared secret from the secrets file nor the caller's variable of that name."""
    app = tmp_path / "secret-app"
    shutil.copytree(RAW_APP, app)
    manifest = json.loads((app / "manifest.json").read_text())
    manifest["platform_config"]["secrets"] = ["API_TOKEN", "STORE"]
    write_json(app / "manifest.json", manifest)
    secrets = write_json(
        tmp_path / "secrets.json",
        {
            "API_TOKEN": "tok-123",
            "STORE": {"access_key": "ak", "secret_key": "sk"},
            "UNDECLARED": "nope",
        },
    )
    request = write_request(
        tmp_path / "job.json",
        app=app,
        source=write_json(tmp_path / "input" / "in.json", {}),
        params={"app": {"mode": "env", "name": "env.json"}},
    )
    run = simulate(request, "--secrets", secrets, env=_caller_env(UNDECLARED="caller"))
    assert run.returncode == 0, run.stderr
    keys = json.loads((run.output / "env.json").read_text())["keys"]
    assert {"API_TOKEN", "STORE_ACCESS_KEY", "STORE_SECRET_KEY"} <= set(keys)
    assert "UNDECLARED" not in keys
    assert _non_basic(keys) == APP_VARS | {"API_TOKEN", "STORE_ACCESS_KEY", "STORE_SECRET_KEY"}
