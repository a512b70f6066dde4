"""The simulator against the platform contract (``CONTRACT.md``): what each component is
given, and the requests the platform would refuse."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Simulate, write_component, write_request

from bytenite_runtime.simulate import JobOptions, run_job
from bytenite_runtime.simulate._args import build_parser
from bytenite_runtime.simulate._plan import plan_job

# Each component records the SHARED_CACHE_DIR it was given (None when unset) into the
# folder its params name, then does the least its role asks of it.
RECORDING = """
    import json, os, sys
    from pathlib import Path

    role = "{role}"
    params = json.loads(os.environ[{{"partitioner": "PARTITIONER_PARAMS", "app": "APP_PARAMS",
                                    "assembler": "ASSEMBLER_PARAMS"}}[role]])
    Path(params["record"], role + ".json").write_text(
        json.dumps(os.environ.get("SHARED_CACHE_DIR"))
    )
    if role == "partitioner":
        Path(os.environ["CHUNKS_DIR"], "data_0.bin").write_text("x")
    elif role == "app":
        Path(os.environ["TASK_RESULTS_DIR"], "r.txt").write_text("x")
"""


def test_run_job_gives_every_component_the_shared_cache(tmp_path: Path) -> None:
    """run_job without a shared_cache option gives the partitioner and the assembler the
    SHARED_CACHE_DIR the app's tasks get, as the platform gives it to engines too."""
    record = tmp_path / "record"
    record.mkdir()
    roles = ("partitioner", "app", "assembler")
    folders = {r: write_component(tmp_path / r, RECORDING.format(role=r), kind=r) for r in roles}
    (tmp_path / "input.txt").write_text("hello\n")
    request = write_request(
        tmp_path / "job.json",
        app=folders["app"],
        partitioner=folders["partitioner"],
        assembler=folders["assembler"],
        source=tmp_path / "input.txt",
        destination={"dataSourceDescriptor": "bypass"},
        params={r: {"record": str(record)} for r in roles},
    )
    plan = plan_job(build_parser().parse_args([str(request)]))
    report = run_job(plan, JobOptions(workdir=tmp_path / "wd", parallelism=1))
    assert report["job"]["state"] == "Complete", report["job"]["reason"]
    given = {r: json.loads((record / f"{r}.json").read_text()) for r in roles}
    assert given["app"] is not None
    assert given == {r: given["app"] for r in roles}


def test_simulate_warns_that_a_file_destination_is_refused_by_the_platform(
    simulate: Simulate, tmp_path: Path
) -> None:
    """A 'file' data destination, a source only on the platform, still writes to its
    params.path here, with a warning that the platform would refuse the request."""
    app = write_component(tmp_path / "app", "print('ok')")
    (tmp_path / "input.txt").write_text("hello\n")
    request = write_request(
        tmp_path / "job.json",
        app=app,
        source=tmp_path / "input.txt",
        destination={"dataSourceDescriptor": "file", "params": {"path": "delivered"}},
    )
    run = simulate(request, output=None)
    assert run.returncode == 0, run.stderr
    assert any(
        "dataDestination.dataSourceDescriptor: 'file' is a source only" in w
        for w in run.report["warnings"]
    )


def test_simulate_names_a_descriptor_the_platform_takes_only_in_the_other_role(
    simulate: Simulate, tmp_path: Path
) -> None:
    """A 'bucket' source or a 'url' destination is refused as the platform refuses it: one
    that works only the other way round, not one the simulator merely lacks."""
    app = write_component(tmp_path / "app", "print('ok')")
    (tmp_path / "input.txt").write_text("hello\n")
    bucket_source = write_request(
        tmp_path / "a.json", app=app, source={"dataSourceDescriptor": "bucket"}
    )
    run = simulate(bucket_source)
    assert run.returncode == 2
    assert run.last_error_line == (
        "error: dataSource.dataSourceDescriptor: 'bucket' is a destination only"
    )
    url_destination = write_request(
        tmp_path / "b.json",
        app=app,
        source=tmp_path / "input.txt",
        destination={"dataSourceDescriptor": "url", "params": {"url": "https://example.com/"}},
    )
    run = simulate(url_destination)
    assert run.returncode == 2
    assert run.last_error_line == (
        "error: dataDestination.dataSourceDescriptor: 'url' is a source only"
    )
