"""``python -m bytenite_runtime.check``: one line per problem in a manifest, schema or
template, and a clean pass on everything this project ships."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, write_component, write_json

from bytenite_runtime.check import check_paths
from bytenite_runtime.check.__main__ import main
from bytenite_runtime.errors import TemplateError
from bytenite_runtime.simulate._resolve import resolve

APP = """
    from bytenite_runtime import task

    @task.app
    def main(ctx):
        ctx.results.write_bytes("out.bin", ctx.chunk.read_bytes())

    if __name__ == "__main__":
        main.run()
"""

SCHEMA = {
    "type": "object",
    "properties": {"case": {"enum": ["upper", "lower"]}},
    "additionalProperties": False,
}


@pytest.fixture
def app_folder(tmp_path: Path) -> Path:
    """A valid app folder ``my-app`` (manifest, app/main.py, schema.json)."""
    return write_component(
        tmp_path / "my-app", APP, kind="app", extra_files={"schema.json": json.dumps(SCHEMA)}
    )


def _lines(*paths: Path, search: tuple[Path, ...] = ()) -> list[str]:
    return [str(f) for f in check_paths(paths, search).findings]


def _edit_manifest(folder: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for key in parents:
            doc = doc.setdefault(key, {})
        doc[last] = value

    return change


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for key in parents:
            doc = doc[key]
        del doc[last]

    return change


BROKEN_MANIFESTS = [
    (_set("name", "my app"), "name: must be 1 to 64 letters, digits, '-' or '_' (got \"my app\")"),
    (_set("name", "x" * 65), "name: must be 1 to 64 letters, digits, '-' or '_' (got "),
    (_drop("name"), "name: is missing"),
    (_set("version", "1"), 'version: must be a string "major.minor" such as "1.0" (got "1")'),
    (_set("version", 1.0), 'version: must be a string "major.minor" such as "1.0" (got 1.0)'),
    (_set("type", "engine"), 'type: must be one of app, assembler, partitioner (got "engine")'),
    (_drop("description"), "description: is missing"),
    (_set("entrypoint", "run.py"), "entrypoint: app/run.py does not exist"),
    (_set("entrypoint", "../main.py"), 'entrypoint: must be a file in app/ (got "../main.py")'),
    (_set("platform", "k8s"), 'platform: must be "docker" (got "k8s")'),
    (_drop("platform_config"), "platform_config: is missing (it names the container image)"),
    (_drop("platform_config.container"), "platform_config.container: is missing"),
    (
        _set("platform_config.container", "my image"),
        'platform_config.container: must name a container image (got "my image")',
    ),
    (
        lambda m: m["platform_config"].update(private_image=True, username="me"),
        "platform_config.token: is required when private_image is true",
    ),
    (
        _set("platform_config.secrets", ["MY-KEY"]),
        "platform_config.secrets[0]: is not a valid secret id",
    ),
    (
        _set("platform_config.secrets", ["K", "K"]),
        "platform_config.secrets[1]: 'K' is listed twice",
    ),
    (_drop("device_requirements"), "device_requirements: is missing (min_cpu, min_memory)"),
    (
        _set("device_requirements.min_cpu", 0),
        "device_requirements.min_cpu: must be a whole number of cores, at least 1 (got 0)",
    ),
    (
        _set("device_requirements.min_cpu", 1.5),
        "device_requirements.min_cpu: must be a whole number of cores, at least 1 (got 1.5)",
    ),
    (
        _set("device_requirements.min_memory", 0),
        "device_requirements.min_memory: must be a number of GiB greater than 0 (got 0)",
    ),
    (
        _set("device_requirements.gpu", "A100"),
        "device_requirements.gpu: must be a list of GPU model names such as",
    ),
    (_set("device_requirements.min_gpu", 1), "device_requirements.min_gpu: unknown field"),
    (
        _set("entry_point", "main.py"),
        "entry_point: unknown field; did you mean 'entrypoint'? (expected one of",
    ),
]


@pytest.mark.parametrize(
    ("change", "expected"), BROKEN_MANIFESTS, ids=[e.split(":")[0] + f"-{i}" for i, (_, e) in
                                                   enumerate(BROKEN_MANIFESTS)]
)  # fmt: skip
def test_broken_manifest_gives_one_line_naming_file_and_field(
    app_folder: Path, change: Callable[[dict[str, Any]], None], expected: str
) -> None:
    """Each kind of broken manifest field gives exactly one ``path: field: problem`` line."""
    _edit_manifest(app_folder, change)
    lines = _lines(app_folder)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{app_folder / 'manifest.json'}: {expected}")


def test_manifest_that_is_not_json_is_one_line(app_folder: Path) -> None:
    """A manifest that does not parse is reported once, for the file as a whole."""
    (app_folder / "manifest.json").write_text("{name: 1}")
    lines = _lines(app_folder)
    assert len(lines) == 1
    assert lines[0].startswith(f"{app_folder / 'manifest.json'}: is not valid JSON (")


def test_invalid_schema_file_is_one_line(app_folder: Path) -> None:
    """A schema.json that is not a valid JSON Schema names the schema and the bad keyword."""
    (app_folder / "schema.json").write_text(json.dumps({"type": 5}))
    assert _lines(app_folder) == [
        f"{app_folder / 'schema.json'}: type: is not a valid JSON Schema "
        "(5 is not valid under any of the given schemas)"
    ]


GOOD_TEMPLATE: dict[str, Any] = {
    "id": "my-template",
    "description": "a template",
    "app": "my-app@1",
    "partitioner": "row@1",
    "assembler": "concat",
    "params": {"partitioner": {"rows_per_chunk": 10}, "app": {"case": "upper"}},
    "config": {"taskTimeout": 60},
    "dataDestination": {"dataSourceDescriptor": "bucket"},
}

BROKEN_TEMPLATES = [
    ({"app": "my-ap"}, "app: unknown app 'my-ap'; did you mean 'my-app'? (known: "),
    ({"assembler": "zipperr"}, "assembler: unknown assembler 'zipperr'; did you mean"),
    (
        {"partitioner": "zipper"},
        "partitioner: unknown partitioner 'zipper'; 'zipper' is an assembler, not a partitioner",
    ),
    ({"app": "./my-app"}, "app: './my-app' is a folder path, which only the simulator understands"),
    ({"partitioner": "row@v1"}, "partitioner: 'row@v1' is not a tag (expected name, name@major"),
    ({"partitioner": "row@2"}, "partitioner: partitioner 'row@2': built-in 'row' is version 1.x"),
    ({"app": "my-app@1.3"}, "app: app 'my-app@1.3': 'my-app' is found only at version 1.0"),
    ({"app": "my-ap@1"}, "app: unknown app 'my-ap@1'; did you mean 'my-app'?"),
    (
        {"params": {"partitioner": {"rows_per_chunk": 0}}},
        "params.partitioner.rows_per_chunk: Input should be greater than 0 (got 0)",
    ),
    (
        {"params": {"partitioner": {"row_per_chunk": 5}}},
        "params.partitioner.row_per_chunk: Extra inputs are not permitted, "
        "did you mean 'rows_per_chunk'? (got 5)",
    ),
    (
        {"params": {"app": {"case": "shout"}}},
        "params.app.case: 'shout' is not one of ['upper', 'lower'] (my-app/schema.json)",
    ),
    ({"params": {"partitioner": []}}, "params.partitioner: must be an object (got [])"),
    (
        {"params": {"partitoner": {}}},
        "params.partitoner: unknown field; did you mean 'partitioner'? (expected",
    ),
    ({"config": {"taskTimeout": -1}}, "config.taskTimeout: Input should be greater than 0"),
    (
        {"config": {"taskTimeOut": 5}},
        "config.taskTimeOut: unknown field; did you mean 'taskTimeout'? (expected",
    ),
    ({"id": None}, "id: is missing"),
    ({"id": "my template"}, "id: must be 1 to 64 letters, digits, '-' or '_'"),
    (
        {"partitoner": "row"},
        "partitoner: unknown field; did you mean 'partitioner'? (expected one of",
    ),
    (
        {"dataSource": {"dataSourceDescriptor": "ftp"}},
        "dataSource.dataSourceDescriptor: Input should be ",
    ),
    (
        {"dataDestination": {"dataSourceDescriptor": "url"}},
        "dataDestination.dataSourceDescriptor: 'url' is a source only",
    ),
]


@pytest.mark.parametrize(
    ("change", "expected"), BROKEN_TEMPLATES, ids=[e.split(":")[0] + f"-{i}" for i, (_, e) in
                                                   enumerate(BROKEN_TEMPLATES)]
)  # fmt: skip
def test_broken_template_gives_one_line_naming_file_and_field(
    app_folder: Path, tmp_path: Path, change: dict[str, Any], expected: str
) -> None:
    """Each kind of broken template (tags, params, config, data) gives exactly one line."""
    template = {**GOOD_TEMPLATE, **change}
    template = {k: v for k, v in template.items() if v is not None}
    path = write_json(tmp_path / "templates" / "t.json", template)
    lines = _lines(path, search=(tmp_path,))
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{path}: {expected}"), lines[0]


def test_a_version_or_tag_in_digits_of_another_script_is_named(
    app_folder: Path, tmp_path: Path
) -> None:
    """A manifest version "\u0661.\u0660" or a tag my-app@\u0661, which Python's \\d takes
    for 1.0 and 1, is no "major.minor" the platform knows: each is one line."""
    _edit_manifest(app_folder, _set("version", "\u0661.\u0660"))
    template = write_json(tmp_path / "t.json", {**GOOD_TEMPLATE, "app": "my-app@\u0661"})
    lines = _lines(app_folder, template, search=(tmp_path,))
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"{app_folder / 'manifest.json'}: version: must be a string")
    assert lines[1].startswith(f"{template}: app: 'my-app@\u0661' is not a tag")


@pytest.mark.parametrize("key", ["taskTimeout", "jobTimeout"])
def test_a_fractional_timeout_is_named_as_the_api_takes_whole_seconds(
    app_folder: Path, tmp_path: Path, key: str
) -> None:
    """A taskTimeout or jobTimeout of 1.5, which the simulator runs but the API's integer
    field refuses, is one line naming it."""
    template = {**GOOD_TEMPLATE, "config": {key: 1.5}}
    path = write_json(tmp_path / "templates" / "t.json", template)
    assert _lines(path, search=(tmp_path,)) == [
        f"{path}: config.{key}: must be a whole number of seconds (got 1.5)"
    ]


@pytest.mark.parametrize("key", ["templateId", "template"])
def test_a_job_request_is_named_as_one_not_checked_as_a_template(tmp_path: Path, key: str) -> None:
    """A job request given to check is one line saying it is a request, not a list of
    missing template fields and params unknown to a defaulted passthrough."""
    inline = {"app": "my-app", "partitioner": "replicate-fanout"}
    request = {key: "t" if key == "templateId" else inline, "params": {"partitioner": {"x": 1}}}
    path = write_json(tmp_path / "job.json", request)
    assert _lines(path, search=(tmp_path,)) == [
        f"{path}: a job request (it has {key!r}), not a template: check the template it "
        "names, or run it with python -m bytenite_runtime.simulate"
    ]


def test_good_app_and_template_pass(app_folder: Path, tmp_path: Path) -> None:
    """A well-formed app folder and a template whose tags resolve give no finding."""
    path = write_json(tmp_path / "templates" / "t.json", GOOD_TEMPLATE)
    assert _lines(app_folder, path, search=(tmp_path,)) == []


def test_a_project_folder_skips_json_files_that_are_not_templates(
    app_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """In a folder, the job's data, a --secrets file, a simulate report and a job request
    beside the template are not checked as templates, so a project folder passes."""
    write_json(tmp_path / "t.json", GOOD_TEMPLATE)
    write_json(tmp_path / "records.json", [{"url": "https://example.com"}])
    write_json(tmp_path / "secrets.json", {"API_TOKEN": "value"})
    write_json(tmp_path / "report.json", {"job": {"id": "j"}, "partitioner": {}, "tasks": []})
    write_json(tmp_path / "my-job.json", {"templateId": "t"})
    assert main([str(tmp_path)]) == 0
    assert capsys.readouterr().out == "ok: 1 app, 1 template, 1 schema checked\n"


def test_an_entrypoint_beside_the_manifest_says_to_move_it_into_app(tmp_path: Path) -> None:
    """main.py put beside manifest.json instead of in app/ is named where it is, with the
    move to make, by check and by simulate's resolution of the folder alike."""
    folder = write_component(tmp_path / "my-app", APP, kind="app")
    (folder / "app" / "main.py").rename(folder / "main.py")
    (line,) = _lines(folder)
    hint = "(it is beside manifest.json; the platform runs app/ only: move it to app/main.py)"
    assert line == f"{folder / 'manifest.json'}: entrypoint: app/main.py does not exist {hint}"
    with pytest.raises(TemplateError, match=re.escape(hint)):
        resolve("app", str(folder), (), tmp_path)


def test_unknown_tag_suggests_the_nearest_name(app_folder: Path, tmp_path: Path) -> None:
    """An unresolvable tag is reported with the nearest known name, as simulate does."""
    path = write_json(tmp_path / "t.json", {**GOOD_TEMPLATE, "app": "my-ap"})
    (line,) = _lines(path, search=(tmp_path,))
    assert "did you mean 'my-app'?" in line


def test_cli_prints_one_line_per_problem_and_exits_2(
    app_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command prints every problem on its own line, then an error summary, exit code 2."""
    _edit_manifest(app_folder, _set("version", "one"))
    _edit_manifest(app_folder, _set("device_requirements.min_cpu", 0))
    assert main([str(app_folder)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].endswith('version: must be a string "major.minor" such as "1.0" (got "one")')
    assert err[1].endswith("min_cpu: must be a whole number of cores, at least 1 (got 0)")
    assert err[2] == "error: 2 problems in 1 app, 1 schema"


def test_missing_path_is_a_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A path that does not exist, or holds nothing to check, fails instead of passing, and
    the summary line says nothing was found to check."""
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "nope"), str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].endswith("nope: does not exist")
    assert err[1].endswith("empty: holds no manifest.json, no component folder and no template")
    assert err[2] == "error: 2 problems (nothing found to check)"


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: p.unlink() or p.mkdir(), "is a folder, not a file"),
        (lambda p: p.unlink() or os.mkfifo(p), "is a named pipe, not a file"),
        (lambda p: p.unlink() or p.symlink_to(p.parent / "gone.py"),
         "is a symbolic link that cannot be followed (No such file or directory)"),
    ],
)  # fmt: skip
def test_an_entrypoint_that_is_not_a_file_says_what_it_is(
    app_folder: Path, make: Callable[[Path], object], expected: str
) -> None:
    """An entrypoint that is a folder, a named pipe or a broken link is named as what it is,
    not as a file that does not exist."""
    make(app_folder / "app" / "main.py")
    assert _lines(app_folder) == [
        f"{app_folder / 'manifest.json'}: entrypoint: app/main.py {expected}"
    ]


def test_a_manifest_that_is_a_broken_link_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A manifest.json that is a broken symbolic link is named so, not its folder said to
    hold no manifest."""
    (tmp_path / "app").mkdir()
    (tmp_path / "manifest.json").symlink_to(tmp_path / "gone.json")
    assert main([str(tmp_path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (
        f"{tmp_path / 'manifest.json'}: is a symbolic link that cannot be followed "
        "(No such file or directory)"
    )


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        (5, "platform_config.token: must be a non-empty string when private_image is true "
            "(got a number)"),
        (["ghp_PLANTED"], "platform_config.token: must be a non-empty string when "
                          "private_image is true (got a list)"),
        ("ghp_PLANTED\n", "platform_config.token: has leading or trailing whitespace "
                           "(value hidden)"),
    ],
)  # fmt: skip
def test_private_image_token_of_the_wrong_shape_is_named_without_its_value(
    app_folder: Path, token: object, expected: str
) -> None:
    """A private image's token that is set but not a clean string says what is wrong with
    it (not 'is required'), and never shows the token."""
    _edit_manifest(
        app_folder,
        lambda m: m["platform_config"].update(private_image=True, username="me", token=token),
    )
    lines = _lines(app_folder)
    assert [line.split(": ", 1)[1] for line in lines] == [expected]
    assert "ghp_PLANTED" not in "\n".join(lines)


SHIPPED = sorted(
    [p for p in (REPO / "engines").iterdir() if p.is_dir()]
    + [p for p in (REPO / "examples").iterdir() if p.is_dir()]
    + sorted((REPO / "templates").glob("*.json"))
)


@pytest.mark.parametrize("path", SHIPPED, ids=[str(p.relative_to(REPO)) for p in SHIPPED])
def test_check_passes_on_every_shipped_engine_template_and_example(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every folder in engines/ and examples/ and every template in templates/ checks clean
    from the repository root."""
    monkeypatch.chdir(REPO)
    report = check_paths([path])
    assert [str(f) for f in report.findings] == []
    assert report.ok


def test_module_runs_as_a_command() -> None:
    """``python -m bytenite_runtime.check`` over the shipped folders prints one ``ok:`` line."""
    run = subprocess.run(
        [sys.executable, "-m", "bytenite_runtime.check", "engines", "templates", "examples"],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("ok: ") and run.stdout.count("\n") == 1


def test_check_without_paths_is_one_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    """``check`` with no PATH is one ``error:`` line pointing at --help, exit 2."""
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: the following arguments are required: PATH "
        "(see python -m bytenite_runtime.check --help)"
    ]
