"""engines/: generated from the registry, kept in step with it, and each engine's
``app/main.py`` doing exactly what the built-in run by name does."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import REPO, Simulate, base_env, run_component, write_component

from bytenite_runtime import TemplateError, _engines, registry
from bytenite_runtime.simulate._resolve import resolve

ENGINES = REPO / "engines"
FOLDERS = sorted(p for p in ENGINES.iterdir() if p.is_dir())
BUILTINS = list(_engines.engines())

# One sample input per built-in: it writes source files (partitioners) or task results
# (assemblers) into the folder it is given and returns the params to run with. A built-in
# without one fails the equivalence test, so a new engine cannot go untested.
Sample = Callable[[Path], dict[str, object]]


def _texts(files: dict[str, str], params: dict[str, object]) -> Sample:
    def write(folder: Path) -> dict[str, object]:
        for rel, text in files.items():
            (folder / rel).write_text(text)
        return params

    return write


def _png(path: Path) -> None:
    from PIL import Image

    image = Image.new("RGB", (40, 28))
    image.putdata([(x * 6, y * 9, (x + y) % 256) for y in range(28) for x in range(40)])
    image.save(path)


def _tile_sample(folder: Path) -> dict[str, object]:
    _png(folder / "photo.png")
    return {"tile_width": 16, "tile_height": 12}


def _mosaic_sample(folder: Path) -> dict[str, object]:
    # Real tiles, as the tile partitioner writes them (metadata in the PNG), returned by an
    # app unchanged under the library's result names.
    source, chunks = folder.parent / "source", folder.parent / "chunks"
    source.mkdir()
    chunks.mkdir()
    params = _tile_sample(source)
    env = {"SOURCE_DIR": str(source), "CHUNKS_DIR": str(chunks)}
    env["PARTITIONER_PARAMS"] = json.dumps(params)
    command = [sys.executable, "-m", "bytenite_runtime", "serve", "partitioner", "tile"]
    run = run_component(command, base_env(**env))
    assert run.returncode == 0, run.stderr
    for chunk in chunks.iterdir():
        index = int(chunk.stem.removeprefix("data_"))
        chunk.rename(folder / f"chunk-{index:06d}.photo.png")
    return {"format": "png"}


def _time_chunk_sample(folder: Path) -> dict[str, object]:
    from bytenite_runtime.media import find_ffmpeg

    command = [find_ffmpeg(), "-v", "error", "-f", "lavfi", "-i", "testsrc=d=3:s=64x48:r=10"]
    command += ["-c:v", "libx264", "-g", "10", "-pix_fmt", "yuv420p", str(folder / "clip.mp4")]
    run = run_component(command, base_env())
    assert run.returncode == 0, run.stderr
    return {"segment_seconds": 1}


SAMPLES: dict[tuple[str, str], Sample] = {
    ("partitioner", "passthrough"): _texts({"input.txt": "hi\n"}, {"chunk_metadata": "footer"}),
    ("partitioner", "replicate-fanout"): _texts({"prompt.txt": "a red fox"}, {"num_replicas": 3}),
    ("partitioner", "row"): _texts({"t.csv": "a,b\n1,2\n3,4\n5,6\n7,8\n"}, {"rows_per_chunk": 2}),
    ("partitioner", "tile"): _tile_sample,
    ("partitioner", "time-chunk"): _time_chunk_sample,
    ("assembler", "passthrough"): _texts(
        {"chunk-000000.out.txt": "zero\n", "chunk-000001.out.txt": "one\n", "log.txt": "x"}, {}
    ),
    ("assembler", "zipper"): _texts(
        {"chunk-000000.out.txt": "zero\n" * 50, "chunk-000001.out.txt": "one\n"},
        {"archive_name": "r.zip"},
    ),
    ("assembler", "concat"): _texts(
        {"chunk-000000.out.csv": "a,b\n1,2\n", "chunk-000001.out.csv": "a,b\n3,4\n"}, {}
    ),
    ("assembler", "mosaic"): _mosaic_sample,
}


def _manifest(folder: Path) -> dict[str, str]:
    manifest: dict[str, str] = json.loads((folder / "manifest.json").read_text())
    return manifest


@pytest.mark.parametrize(
    ("kind", "name"), BUILTINS, ids=[_engines.folder_name(k, n) for k, n in BUILTINS]
)
def test_committed_engine_matches_generation(kind: str, name: str) -> None:
    """Every built-in has an engine folder whose files are exactly what generation gives;
    the failure names the folder and the command that regenerates it."""
    folder = ENGINES / _engines.folder_name(kind, name)  # type: ignore[arg-type]
    stale = [line for line in _engines.stale_engines(ENGINES) if line.startswith(f"{folder}:")]
    assert stale == [], "\n".join(stale)


def test_engines_folder_holds_only_generated_engines() -> None:
    """No folder in engines/ is left over from a component that is no longer registered."""
    expected = {_engines.folder_name(k, n) for k, n in BUILTINS}
    assert {p.name for p in FOLDERS} == expected, _engines.REGENERATE


def test_stale_engine_is_named_with_the_command_to_regenerate(tmp_path: Path) -> None:
    """A hand-edited engine file is reported naming its folder, the file and the fix."""
    shutil.copytree(ENGINES, tmp_path / "engines")
    readme = tmp_path / "engines" / "row" / "README.md"
    readme.write_text(readme.read_text() + "edited\n")
    row = tmp_path / "engines" / "row"
    stale = [s for s in _engines.stale_engines(tmp_path / "engines") if s.startswith(f"{row}:")]
    assert stale == [
        f"{row}: README.md differs from generation; regenerate with "
        f"`python -m bytenite_runtime engines --write {tmp_path / 'engines'}/`"
    ]


def test_ambiguous_names_get_their_kind_in_the_folder_name() -> None:
    """``passthrough`` is both a partitioner and an assembler: two folders, one manifest name."""
    for kind in ("partitioner", "assembler"):
        manifest = _manifest(ENGINES / f"passthrough-{kind}")
        assert (manifest["name"], manifest["type"]) == ("passthrough", kind)
    assert (ENGINES / "row").is_dir() and (ENGINES / "zipper").is_dir()


@pytest.mark.parametrize("folder", FOLDERS, ids=[p.name for p in FOLDERS])
def test_engine_schema_and_readme_come_from_the_params_model(folder: Path) -> None:
    """schema.json rejects unknown keys and lists every field; the README has a row per field."""
    manifest = _manifest(folder)
    component = registry.get(manifest["type"], manifest["name"])  # type: ignore[arg-type]
    schema = json.loads((folder / "schema.json").read_text())
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == set(component.model_fields)
    readme = (folder / "README.md").read_text()
    for field in component.model_fields:
        assert f"| `{field}` |" in readme


def _run_both(folder: Path, tmp_path: Path) -> tuple[dict[str, bytes], dict[str, bytes]]:
    manifest = _manifest(folder)
    kind, name = manifest["type"], manifest["name"]
    if (kind, name) not in SAMPLES:
        pytest.fail(f"no sample input for the {name} {kind}: add one to SAMPLES in {__file__}")
    given = tmp_path / "given"
    given.mkdir()
    params = SAMPLES[(kind, name)](given)
    outputs = []
    commands = [
        ([sys.executable, str(folder / "app" / "main.py")], folder / "app"),
        ([sys.executable, "-m", "bytenite_runtime", "serve", kind, name], tmp_path),
    ]
    for i, (command, cwd) in enumerate(commands):
        out = tmp_path / f"out{i}"
        out.mkdir()
        if kind == "partitioner":
            env = {"SOURCE_DIR": str(given), "CHUNKS_DIR": str(out)}
            env["PARTITIONER_PARAMS"] = json.dumps(params)
        else:
            env = {"TASK_RESULTS_DIR": str(given), "OUTPUT_DIR": str(out)}
            env["ASSEMBLER_PARAMS"] = json.dumps(params)
        run = run_component(command, base_env(**env), cwd=cwd)
        assert run.returncode == 0, run.stderr
        outputs.append({p.name: p.read_bytes() for p in sorted(out.iterdir())})
    return outputs[0], outputs[1]


@pytest.mark.parametrize("folder", FOLDERS, ids=[p.name for p in FOLDERS])
def test_engine_main_does_exactly_what_the_builtin_does(folder: Path, tmp_path: Path) -> None:
    """Run from its folder, each engine writes the same chunks (or output), byte for byte,
    as ``python -m bytenite_runtime serve KIND NAME`` on the same sample input."""
    from_folder, by_name = _run_both(folder, tmp_path)
    assert from_folder and from_folder == by_name


@pytest.mark.parametrize("folder", FOLDERS, ids=[p.name for p in FOLDERS])
def test_engine_tags_resolve_to_the_engine_folder(folder: Path) -> None:
    """``name``, ``name@1`` and ``name@1.0`` resolve to the engine folder for its own kind."""
    manifest = _manifest(folder)
    kind, name = manifest["type"], manifest["name"]
    for tag in (name, f"{name}@1", f"{name}@{manifest['version']}"):
        component = resolve(kind, tag, [ENGINES])  # type: ignore[arg-type]
        assert component.folder == folder.resolve()
        assert component.command[-1].endswith("main.py")


def test_built_in_engines_refuse_another_major_version() -> None:
    """``row@2`` names a version nobody has: neither engine folder nor built-in answers it."""
    with pytest.raises(TemplateError, match=r"built-in 'row' is version 1\.x"):
        resolve("partitioner", "row@2", [ENGINES])


def test_users_own_engine_wins_and_newest_minor_is_chosen(tmp_path: Path) -> None:
    """A user's engine folder of the same name in a search folder is preferred in order of
    version: ``row`` and ``row@1`` take the newest 1.x, ``row@1.0`` the exact one."""
    mine = write_component(
        tmp_path / "mine" / "row-fork", "print('mine')\n", name="row", kind="partitioner"
    )
    manifest = json.loads((mine / "manifest.json").read_text())
    (mine / "manifest.json").write_text(json.dumps({**manifest, "version": "1.3"}))
    search = [tmp_path / "mine", ENGINES]
    assert resolve("partitioner", "row", search).folder == mine.resolve()
    assert resolve("partitioner", "row@1", search).folder == mine.resolve()
    assert resolve("partitioner", "row@1.0", search).folder == (ENGINES / "row").resolve()


def test_simulate_runs_engines_from_their_folders_as_it_runs_builtins(
    simulate: Simulate, tmp_path: Path
) -> None:
    """A job whose partitioner and assembler are engine folders delivers the same output
    as the same job run with the built-ins by name."""
    source = tmp_path / "t.csv"
    source.write_text("a,b\n" + "".join(f"{i},{i * i}\n" for i in range(9)))
    app = REPO / "tests" / "fixtures" / "raw_app"
    common = ["--template", str(REPO / "templates" / "csv-map.json"), "--source", source]
    common += ["--app", app, "--set", "app.name=t.csv", "--set", "partitioner.rows_per_chunk=4"]
    by_folder = simulate(
        *common, "--partitioner", ENGINES / "row", "--assembler", ENGINES / "concat", cwd=tmp_path
    )
    assert by_folder.returncode == 0, by_folder.stderr
    by_name = simulate(*common, "--partitioner", "row", "--assembler", "concat", cwd=tmp_path)
    assert by_name.returncode == 0, by_name.stderr
    assert by_folder.report["job"]["chunks"] == by_name.report["job"]["chunks"] == 3
    assert by_folder.output is not None and by_name.output is not None
    assert (by_folder.output / "t.csv").read_bytes() == (by_name.output / "t.csv").read_bytes()


def test_engines_command_writes_then_checks_clean(tmp_path: Path) -> None:
    """``engines --write DIR`` generates every folder; ``--check DIR`` then passes, and fails
    with one line naming the folder, then an ``error:`` line counting the folders, once a
    generated file is edited."""
    command = [sys.executable, "-m", "bytenite_runtime", "engines"]
    wrote = run_component([*command, "--write", str(tmp_path)], base_env())
    assert wrote.returncode == 0, wrote.stderr
    assert {p.name for p in tmp_path.iterdir()} == {p.name for p in FOLDERS}
    assert run_component([*command, "--check", str(tmp_path)], base_env()).returncode == 0
    (tmp_path / "zipper" / "schema.json").write_text("{}")
    checked = run_component([*command, "--check", str(tmp_path)], base_env())
    assert checked.returncode == 1
    assert checked.stderr.splitlines() == [
        f"{tmp_path / 'zipper'}: schema.json differs from generation; "
        f"regenerate with `python -m bytenite_runtime engines --write {tmp_path}/`",
        "error: 1 engine folder(s) failed the checks",
    ]


def test_engines_check_of_a_missing_folder_is_one_line(tmp_path: Path) -> None:
    """``--check`` of a folder that does not exist says so in one line, with the command
    that writes it, instead of one "missing" line per engine."""
    missing = tmp_path / "nowhere"
    command = [sys.executable, "-m", "bytenite_runtime", "engines", "--check", str(missing)]
    checked = run_component(command, base_env())
    assert checked.returncode == 2
    assert checked.stderr.splitlines() == [
        f"error: --check: {str(missing)!r}: no such folder "
        f"(write it with `python -m bytenite_runtime engines --write {missing}/`)"
    ]


def test_readme_type_column_shows_the_models_string_length_bounds() -> None:
    """A string param's length bounds reach the generated table: one character for a
    delimiter, the 255-character limit of a file-name param."""
    row = _engines.readme("partitioner", "row")
    zipper = _engines.readme("assembler", "zipper")
    assert "| `delimiter` | string, one character (optional) |" in row
    assert "| `archive_name` | string, non-empty, ≤ 255 characters |" in zipper


def test_engines_ask_for_the_memory_their_largest_work_took() -> None:
    """tile asks for more than two decoded RGBA copies of its largest accepted image
    (measured: 2.04 GiB at 16384²), time-chunk for more than 4K 'exact' mode took (2.4 GiB)."""
    from bytenite_runtime.partitioners.tile import Tile

    copies = 2 * Tile.model_fields["max_pixels"].default * 4 / 2**30
    needs = {
        name: json.loads((ENGINES / name / "manifest.json").read_text())["device_requirements"]
        for name in ("tile", "time-chunk")
    }
    assert needs["tile"]["min_memory"] > copies
    assert needs["time-chunk"]["min_memory"] > 2.4


@pytest.mark.parametrize("folder", FOLDERS, ids=[p.name for p in FOLDERS])
def test_engine_docs_point_only_at_what_a_pushing_user_can_read(folder: Path) -> None:
    """An engine's README and schema never send the reader to a module docstring, which
    lives in the library's source and not in the engine folder."""
    for text in ((folder / "README.md").read_text(), (folder / "schema.json").read_text()):
        assert "module docstring" not in text


@pytest.mark.parametrize("folder", FOLDERS, ids=[p.name for p in FOLDERS])
def test_engine_schema_description_is_plain_prose(folder: Path) -> None:
    """A schema's description, which a form or an error shows, has no reST double
    backticks and no line breaks left from the docstring's wrapping."""
    description = json.loads((folder / "schema.json").read_text()).get("description", "")
    assert "``" not in description and "\n" not in description
