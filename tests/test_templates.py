"""templates/: every shipped template runs end to end through simulate with the example app
its ``app`` tag names, on that example's own input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, Simulate

from bytenite_runtime.simulate._resolve import resolve, search_folders

TEMPLATES = sorted((REPO / "templates").glob("*.json"))
EXAMPLES = REPO / "examples"


def _example_source(template: dict[str, str], scratch: Path) -> Path:
    """The input of the example whose app the template names: its job.json's file source,
    or, for media never committed, what the example's ``make_*.py TARGET`` script writes."""
    app = resolve("app", template["app"], search_folders([EXAMPLES], REPO))
    assert app.folder is not None, f"app {template['app']!r} is no example folder"
    job = app.folder / "job.json"
    assert job.is_file(), f"{app.folder} has no job.json to take a sample input from"
    source = json.loads(job.read_text())["dataSource"]
    assert source["dataSourceDescriptor"] == "file", f"{job}: expected a file source"
    path = app.folder / source["params"]["path"]
    if path.exists():
        return path
    makers = sorted(app.folder.glob("make_*.py"))
    assert makers, f"{path} does not exist and {app.folder} has no make_*.py to write it"
    made = scratch / path.name
    subprocess.run([sys.executable, str(makers[0]), str(made)], check=True, timeout=120)
    return made


@pytest.mark.parametrize("path", TEMPLATES, ids=[p.stem for p in TEMPLATES])
def test_template_runs_end_to_end_with_its_example_app(
    path: Path, simulate: Simulate, tmp_path: Path
) -> None:
    """The template, as shipped (tags resolved against engines/ and examples/ from the
    repository root), completes on its example's input and delivers output."""
    template = json.loads(path.read_text())
    source = _example_source(template, tmp_path)
    run = simulate("--template", path, "--source", source, "--search", EXAMPLES, cwd=REPO)
    assert run.returncode == 0, run.stderr
    job = run.report["job"]
    assert job["state"] == "Complete" and job["chunks"] >= 1
    assert job["template"]["app"] == template["app"]
    assert run.output is not None and any(p.stat().st_size for p in run.output.iterdir())


def test_template_ids_are_unique_and_match_their_file_names() -> None:
    """``--template ID`` finds ``templates/ID.json`` first, so every id is its file's stem."""
    ids = [json.loads(p.read_text())["id"] for p in TEMPLATES]
    assert ids == [p.stem for p in TEMPLATES]


def test_template_is_found_by_id_from_the_repository_root(
    simulate: Simulate, tmp_path: Path
) -> None:
    """``simulate --template hello-world`` finds the shipped template by its id and runs it."""
    source = tmp_path / "in.txt"
    source.write_text("by id\n")
    run = simulate("--template", "hello-world", "--source", source, cwd=REPO)
    assert run.returncode == 0, run.stderr
    assert run.output is not None
    assert (run.output / "hello_world_processed.txt").read_text() == "BY ID\n"
