"""The entry API: decorators, invoke/main/run, staging and commit, exit codes, redaction."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pydantic import BaseModel

from bytenite_runtime import (
    ByteniteError,
    ChunkMeta,
    ComponentError,
    ConfigError,
    DataError,
    SettingsError,
    task,
)
from bytenite_runtime.chunks import append_footer, read_footer
from bytenite_runtime.settings import (
    app_environment,
    assembler_environment,
    partitioner_environment,
    secret_environment,
)
from bytenite_runtime.task import entrypoint_for

SECRET = "hunter2-very-secret"


class Case(BaseModel):
    case: str = "upper"


def _app_env(
    root: Path,
    data: bytes = b"hello",
    *,
    chunk_number: int | None = 0,
    params: dict[str, Any] | None = None,
    meta: ChunkMeta | None = None,
) -> dict[str, str]:
    for name in ("task", "results", "user", "shared"):
        (root / name).mkdir(exist_ok=True)
    with (root / "task" / "data.bin").open("wb") as stream:
        stream.write(data)
        if meta is not None:
            append_footer(stream, meta)
    return app_environment(
        root / "task", root / "results", params or {}, root / "user", root / "shared", chunk_number
    )


def _partitioner_env(root: Path, files: dict[str, bytes], params: dict[str, Any] | None = None):
    (root / "src").mkdir()
    (root / "chunks").mkdir()
    for name, data in files.items():
        (root / "src" / name).write_bytes(data)
    return partitioner_environment(root / "src", root / "chunks", params or {}, None)


def _assembler_env(root: Path, results: dict[str, bytes], params: dict[str, Any] | None = None):
    (root / "results").mkdir()
    (root / "out").mkdir()
    for name, data in results.items():
        (root / "results" / name).write_bytes(data)
    return assembler_environment(root / "results", root / "out", params or {}, None)


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error: ")]


@task.app(params=Case)
def upper(ctx: task.AppContext[Case]) -> None:
    text = ctx.chunk.read_text()
    ctx.results.write_text("out.txt", text.upper() if ctx.params.case == "upper" else text)


@task.app
def record_index(ctx: task.AppContext[Any]) -> None:
    ctx.results.write_json(
        "meta.json", {"index": ctx.chunk.index, "payload": ctx.chunk.read_text()}
    )


# -- decorators --------------------------------------------------------------------------


def test_decorators_work_with_and_without_parentheses() -> None:
    """@task.app, @task.app() and @task.app(params=...) all give an Entrypoint of that kind."""

    def fn(ctx: Any) -> str:
        """Doc of fn."""
        return "called"

    for decorate in (task.app, task.partitioner, task.assembler):
        bare = decorate(fn)
        empty = decorate()(fn)
        with_args = decorate(params=Case)(fn)
        for entry in (bare, empty, with_args):
            assert isinstance(entry, task.Entrypoint)
            assert entry.kind == decorate.__name__
            assert entry.__name__ == "fn"
            assert entry.__doc__ == "Doc of fn."
            assert entry(None) == "called"
        assert bare.params_model is None
        assert with_args.params_model is Case


@dataclasses.dataclass
class _NotAModel:
    case: str = "upper"


@pytest.mark.parametrize(
    ("params", "shown"),
    [
        (dict, "<class 'dict'>"),
        (_NotAModel, "<class 'test_task._NotAModel'>"),
        (Case(), "Case(case='upper')"),
    ],
)
@pytest.mark.parametrize("decorate", [task.app, task.partitioner, task.assembler])
def test_params_that_is_not_a_pydantic_model_class_fails_at_decoration(
    decorate: Any, params: Any, shown: str
) -> None:
    """params= takes a pydantic model class; anything else (a dict type, a dataclass, a
    model instance) is a TypeError where it is declared, not an AttributeError from the
    library at run time or params silently left unvalidated."""
    with pytest.raises(TypeError) as exc:
        decorate(params=params)
    assert str(exc.value) == (
        f"params must be a pydantic BaseModel subclass (got {shown}); for a plain dict "
        "of params leave params out"
    )


@pytest.mark.parametrize(
    ("inner", "shown"),
    [(task.app, "an app"), (task.partitioner, "a partitioner"), (task.assembler, "an assembler")],
)
@pytest.mark.parametrize("decorate", [task.app, task.partitioner, task.assembler])
def test_decorating_an_entry_point_again_is_a_type_error(
    decorate: Any, inner: Any, shown: str
) -> None:
    """Decorating twice is a TypeError naming the function: the outer entry point could not
    find the schema.json beside it, and would skip that validation without a word."""

    def once(ctx: Any) -> None:
        pass

    entry = inner(once)
    expected = f"'once' is already {shown} entry point; decorate the function once"
    with pytest.raises(TypeError) as exc:
        decorate(entry)
    assert str(exc.value) == expected
    with pytest.raises(TypeError, match=expected):
        decorate(params=Case)(entry)


def test_decorator_records_secrets_and_chunk_metadata() -> None:
    """Declared secret ids and the partitioner's metadata mode are kept on the entry point."""

    @task.partitioner(secrets=["AWS", "TOKEN"], chunk_metadata="footer")
    def part(ctx: Any) -> Iterator[bytes]:
        yield b""

    assert part.secret_ids == ("AWS", "TOKEN")
    assert part.chunk_metadata == "footer"


# -- app ---------------------------------------------------------------------------------


def test_app_invoke_commits_results_with_the_chunk_marker(tmp_path: Path) -> None:
    """An app's results land in TASK_RESULTS_DIR named with the chunk index, nothing else."""
    env = _app_env(tmp_path, b"hello", chunk_number=4, params={"case": "upper"})
    upper.invoke(env)
    assert _listing(tmp_path / "results") == ["chunk-000004.out.txt"]
    assert (tmp_path / "results" / "chunk-000004.out.txt").read_text() == "HELLO"


def test_app_params_reach_the_function_as_a_model(tmp_path: Path) -> None:
    """APP_PARAMS is validated into the declared model before the function runs."""
    upper.invoke(_app_env(tmp_path, b"Hello", params={"case": "keep"}))
    assert (tmp_path / "results" / "chunk-000000.out.txt").read_text() == "Hello"


def test_index_comes_from_footer_metadata_before_chunk_number(tmp_path: Path) -> None:
    """With both a footer and CHUNK_NUMBER, the footer's index names the results."""
    env = _app_env(tmp_path, b"payload", chunk_number=2, meta=ChunkMeta(9, 12))
    record_index.invoke(env)
    assert _listing(tmp_path / "results") == ["chunk-000009.meta.json"]
    result = json.loads((tmp_path / "results" / "chunk-000009.meta.json").read_text())
    assert result == {"index": 9, "payload": "payload"}


def test_index_falls_back_to_chunk_number(tmp_path: Path) -> None:
    """Without chunk metadata, CHUNK_NUMBER gives the index."""
    record_index.invoke(_app_env(tmp_path, b"p", chunk_number=5))
    assert _listing(tmp_path / "results") == ["chunk-000005.meta.json"]


def test_unknown_index_gives_unordered_results_and_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With neither metadata nor CHUNK_NUMBER, results get a task marker and a warning is logged."""
    record_index.invoke(_app_env(tmp_path, b"p", chunk_number=None))
    (name,) = _listing(tmp_path / "results")
    assert name.startswith("task-") and name.endswith(".meta.json")
    assert "chunk index unknown" in capsys.readouterr().err


def test_app_sees_the_payload_without_the_footer(tmp_path: Path) -> None:
    """The footer is stripped from what read_bytes, open and path give the app."""
    seen: dict[str, Any] = {}

    @task.app
    def look(ctx: task.AppContext[Any]) -> None:
        seen["bytes"] = ctx.chunk.read_bytes()
        with ctx.chunk.open() as stream:
            seen["stream"] = stream.read()
        seen["path"] = ctx.chunk.path.read_bytes()
        seen["meta"] = ctx.chunk.meta

    meta = ChunkMeta(1, 2, "in.txt", {"rows": [10, 20]})
    look.invoke(_app_env(tmp_path, b"\x00payload\xff", meta=meta))
    assert seen == {
        "bytes": b"\x00payload\xff",
        "stream": b"\x00payload\xff",
        "path": b"\x00payload\xff",
        "meta": meta,
    }
    assert read_footer(tmp_path / "task" / "data.bin")[0] == meta  # input left as it was


def test_failing_app_leaves_results_empty(tmp_path: Path) -> None:
    """An app that raises after writing results leaves TASK_RESULTS_DIR empty (no staging)."""

    @task.app
    def half(ctx: task.AppContext[Any]) -> None:
        ctx.results.write_bytes("a.bin", b"a")
        ctx.results.write_text("b.txt", "b")
        raise RuntimeError("boom")

    with pytest.raises(ComponentError) as exc:
        half.invoke(_app_env(tmp_path, chunk_number=3))
    assert str(exc.value) == "chunk 3: RuntimeError: boom"
    assert exc.value.chunk == 3
    assert isinstance(exc.value.__cause__, RuntimeError)
    assert _listing(tmp_path / "results") == []


@pytest.mark.parametrize("code", [None, 0])
def test_an_app_that_exits_with_success_keeps_its_results(tmp_path: Path, code: Any) -> None:
    """sys.exit(0) (or sys.exit()) in an app is a return: what it wrote is committed."""

    @task.app
    def done(ctx: task.AppContext[Any]) -> None:
        ctx.results.write_text("a.txt", "data")
        sys.exit(code)

    done.invoke(_app_env(tmp_path, chunk_number=0))
    assert _listing(tmp_path / "results") == ["chunk-000000.a.txt"]


def test_an_app_that_exits_with_a_failure_is_one_error_without_results(tmp_path: Path) -> None:
    """sys.exit(3) in an app fails the task like an exception: no results, and the main
    entry point prints one error line and exits non-zero."""

    @task.app
    def quits(ctx: task.AppContext[Any]) -> None:
        ctx.results.write_text("a.txt", "data")
        sys.exit(3)

    with pytest.raises(ComponentError) as exc:
        quits.invoke(_app_env(tmp_path, chunk_number=2))
    assert str(exc.value) == "chunk 2: called sys.exit(3)"
    assert _listing(tmp_path / "results") == []


def test_a_partitioner_that_exits_with_success_keeps_the_chunks_so_far(tmp_path: Path) -> None:
    """sys.exit(0) inside a partitioner's generator ends it: the chunks before it stay."""

    @task.partitioner
    def split(ctx: task.PartitionerContext[Any]) -> Iterator[bytes]:
        yield b"a"
        yield b"b"
        sys.exit(0)

    split.invoke(_partitioner_env(tmp_path, {"in.txt": b"x"}))
    assert len(_listing(tmp_path / "chunks")) == 2


def test_a_result_made_as_a_symlink_is_committed_as_the_file_it_points_to(
    tmp_path: Path,
) -> None:
    """A result the app made as a symbolic link (to its chunk, say) is committed as the file
    it points to: the chunk's stripped copy is removed when the task ends, and a link is
    not a file the platform can upload."""

    @task.app
    def link(ctx: task.AppContext[Any]) -> None:
        os.symlink(ctx.chunk.path, ctx.results.dir / "out.bin")

    link.invoke(_app_env(tmp_path, b"payload", meta=ChunkMeta(2, 3, "s.bin", {})))
    result = tmp_path / "results" / "chunk-000002.out.bin"
    assert not result.is_symlink()
    assert result.read_bytes() == b"payload"
    assert _listing(tmp_path / "results") == ["chunk-000002.out.bin"]


def test_a_dangling_symlink_result_fails_the_task_and_commits_nothing(tmp_path: Path) -> None:
    """A result that is a symbolic link to nothing fails the task naming it; no result of
    the task is committed."""

    @task.app
    def dangling(ctx: task.AppContext[Any]) -> None:
        ctx.results.write_text("ok.txt", "fine")
        os.symlink(tmp_path / "nowhere", ctx.results.dir / "out.bin")

    with pytest.raises(DataError) as exc:
        dangling.invoke(_app_env(tmp_path, chunk_number=1))
    assert str(exc.value) == (
        f"result 'out.bin' is a symbolic link to a missing file ({str(tmp_path / 'nowhere')!r})"
    )
    assert _listing(tmp_path / "results") == []


def test_result_name_clash_commits_nothing(tmp_path: Path) -> None:
    """Two results that would share a final name fail the task and commit neither."""

    @task.app
    def clash(ctx: task.AppContext[Any]) -> None:
        ctx.results.write_text("a.txt", "first")
        ctx.results.write_text("out.txt", "a")
        ctx.results.write_text("chunk-000005.out.txt", "b")

    with pytest.raises(DataError, match=r"^chunk-000005\.out\.txt: written twice"):
        clash.invoke(_app_env(tmp_path, chunk_number=5))
    assert _listing(tmp_path / "results") == []


def test_existing_result_is_never_overwritten(tmp_path: Path) -> None:
    """A result whose name already exists in TASK_RESULTS_DIR fails the task; nothing moves."""
    env = _app_env(tmp_path, chunk_number=1)
    (tmp_path / "results" / "chunk-000001.out.txt").write_text("earlier")
    with pytest.raises(DataError, match=r"^chunk-000001\.out\.txt: already exists"):
        upper.invoke(env)
    assert _listing(tmp_path / "results") == ["chunk-000001.out.txt"]
    assert (tmp_path / "results" / "chunk-000001.out.txt").read_text() == "earlier"


def test_library_errors_from_the_app_pass_through_unwrapped(tmp_path: Path) -> None:
    """A DataError raised by the app keeps its class (and exit code 3)."""

    @task.app
    def bad_data(ctx: task.AppContext[Any]) -> None:
        raise DataError("chunk 0 row 5: not a number")

    with pytest.raises(DataError, match="row 5"):
        bad_data.invoke(_app_env(tmp_path))


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        *((n, "must be a plain file name") for n in ("sub/out.txt", "a\\b.txt", "..", "")),
        *(
            (n, "without control characters")
            for n in ("a\nb.txt", "a\tb.txt", "nul\x00.txt", "del\x7f.txt")
        ),
    ],
)
def test_result_names_must_be_plain(tmp_path: Path, name: str, problem: str) -> None:
    """Writing a result under a path-like name, or one holding a control character, is a
    ConfigError naming the problem, before any byte is written, and nothing is committed."""

    @task.app
    def nested(ctx: task.AppContext[Any]) -> None:
        ctx.results.write_text("fine.txt", "ok")
        ctx.results.write_text(name, "x")

    with pytest.raises(ConfigError, match=problem):
        nested.invoke(_app_env(tmp_path))
    assert _listing(tmp_path / "results") == []


@pytest.mark.parametrize(
    ("name", "ok"),
    [("L" * 242, True), ("L" * 243, False), ("é" * 121, True), ("é" * 122, False)],
    ids=["ascii-fits", "ascii-over", "utf8-fits", "utf8-over"],
)
def test_result_name_limit_counts_the_chunk_prefix_in_bytes(
    tmp_path: Path, name: str, ok: bool
) -> None:
    """A result name fits when, with its 'chunk-000000.' prefix, it is at most 255 UTF-8
    bytes; one longer fails when written (not at commit), naming the limit, and nothing
    of the task is committed."""
    written: list[str] = []

    @task.app
    def long_name(ctx: task.AppContext[Any]) -> None:
        ctx.results.write_text("fine.txt", "ok")
        ctx.results.write_text(name, "x")
        written.append(name)

    if ok:
        long_name.invoke(_app_env(tmp_path))
        assert _listing(tmp_path / "results") == sorted(
            ["chunk-000000.fine.txt", f"chunk-000000.{name}"]
        )
        return
    with pytest.raises(ConfigError, match="over the 255-byte file-name limit; keep result names"):
        long_name.invoke(_app_env(tmp_path))
    assert written == []
    assert _listing(tmp_path / "results") == []


def test_result_name_limit_also_holds_for_files_made_in_the_results_dir(tmp_path: Path) -> None:
    """A file the app creates in ``ctx.results.dir`` directly, whose name grows past 255
    bytes with its chunk prefix, fails the commit cleanly: nothing is committed."""

    @task.app
    def direct(ctx: task.AppContext[Any]) -> None:
        ctx.results.write_text("fine.txt", "ok")
        (ctx.results.dir / ("L" * 250)).write_text("x")

    with pytest.raises(ConfigError, match=r"'chunk-000000\.' prefix it is 263 bytes"):
        direct.invoke(_app_env(tmp_path))
    assert _listing(tmp_path / "results") == []


def test_output_name_over_255_bytes_is_a_config_error(tmp_path: Path) -> None:
    """An assembler output name over 255 UTF-8 bytes is a ConfigError naming the limit,
    raised before the file is opened."""
    for name in ("results", "output"):
        (tmp_path / name).mkdir()

    @task.assembler
    def long_output(ctx: task.AssemblerContext[Any]) -> None:
        ctx.output.write_text("é" * 128, "x")

    env = {"TASK_RESULTS_DIR": str(tmp_path / "results"), "OUTPUT_DIR": str(tmp_path / "output")}
    with pytest.raises(ConfigError, match=r"output name .* is 256 bytes in UTF-8, over the 255"):
        long_output.invoke({**env, "ASSEMBLER_PARAMS": "{}"})
    assert _listing(tmp_path / "output") == []


def test_missing_chunk_file_is_a_settings_error(tmp_path: Path) -> None:
    """An app whose TASK_DIR holds no data.bin fails naming TASK_DIR."""
    env = _app_env(tmp_path)
    (tmp_path / "task" / "data.bin").unlink()
    with pytest.raises(SettingsError, match=r"TASK_DIR: folder .* holds no data\.bin"):
        upper.invoke(env)


def test_env_params_and_secret_problems_are_reported_together(tmp_path: Path) -> None:
    """A bad variable, a bad params field and a missing secret appear in one SettingsError."""

    @task.app(params=Case, secrets=["TOKEN"])
    def needs(ctx: task.AppContext[Case]) -> None:
        raise AssertionError("must not run")

    env = dict(_app_env(tmp_path, params={"case": 1}), CHUNK_NUMBER="-1")
    with pytest.raises(SettingsError) as exc:
        needs.invoke(env)
    located = {(p.variable, p.field) for p in exc.value.problems}
    assert located == {("CHUNK_NUMBER", ""), ("APP_PARAMS", "case"), ("TOKEN", "")}


def test_caches_are_reachable_from_the_context(tmp_path: Path) -> None:
    """ctx.user_cache and ctx.shared_cache are the folders the environment names."""
    seen: list[Path] = []

    @task.app
    def caches(ctx: task.AppContext[Any]) -> None:
        seen.extend([ctx.user_cache, ctx.shared_cache])

    caches.invoke(_app_env(tmp_path))
    assert seen == [tmp_path / "user", tmp_path / "shared"]


def test_absent_cache_is_a_config_error_naming_the_variable(tmp_path: Path) -> None:
    """Asking for USER_CACHE_DIR when it was not given raises a ConfigError naming it."""

    @task.app
    def caches(ctx: task.AppContext[Any]) -> None:
        _ = ctx.user_cache

    env = _app_env(tmp_path)
    del env["USER_CACHE_DIR"]
    with pytest.raises(ConfigError, match=r"^USER_CACHE_DIR: is not set"):
        caches.invoke(env)


# -- partitioner -------------------------------------------------------------------------


def test_partitioner_writes_chunks_in_yield_order(tmp_path: Path) -> None:
    """Yielded bytes, str and paths become data_0.bin, data_1.bin… in order."""

    @task.partitioner
    def split(ctx: task.PartitionerContext[Any]) -> Iterator[Any]:
        yield b"zero"
        yield "one"
        yield ctx.sources[0]

    env = _partitioner_env(tmp_path, {"in.txt": b"two"})
    split.invoke(env)
    chunks = tmp_path / "chunks"
    assert _listing(chunks) == ["data_0.bin", "data_1.bin", "data_2.bin"]
    contents = [(chunks / f"data_{i}.bin").read_bytes() for i in range(3)]
    assert contents == [b"zero", b"one", b"two"]


def test_partitioner_footer_mode_appends_metadata(tmp_path: Path) -> None:
    """chunk_metadata='footer' gives every chunk its index, the count, source and fields."""

    @task.partitioner(chunk_metadata="footer")
    def split(ctx: task.PartitionerContext[Any]) -> Iterator[Any]:
        for i in range(3):
            yield task.NewChunk(data=bytes([i]) * 3, source="in.bin", fields={"part": i})

    split.invoke(_partitioner_env(tmp_path, {"in.bin": b"x"}))
    for i in range(3):
        meta, size = read_footer(tmp_path / "chunks" / f"data_{i}.bin")
        assert meta == ChunkMeta(i, 3, "in.bin", {"part": i})
        assert size == 3


def test_failing_partitioner_leaves_no_chunks(tmp_path: Path) -> None:
    """A partitioner raising after two chunks leaves no data_*.bin; the error names chunk 2."""

    @task.partitioner
    def split(ctx: task.PartitionerContext[Any]) -> Iterator[bytes]:
        yield b"a"
        yield b"b"
        raise ValueError("bad row")

    with pytest.raises(ComponentError) as exc:
        split.invoke(_partitioner_env(tmp_path, {"in.txt": b"x"}))
    assert str(exc.value) == "chunk 2: ValueError: bad row"
    assert _listing(tmp_path / "chunks") == []


def test_partitioner_failing_removes_what_it_wrote_into_chunks_dir_itself(
    tmp_path: Path,
) -> None:
    """A partitioner that fails after writing into CHUNKS_DIR itself (a file, a folder)
    leaves nothing there either."""

    @task.partitioner
    def split(ctx: task.PartitionerContext[Any]) -> Iterator[bytes]:
        yield b"a"
        (ctx.settings.chunks_dir / "notes.txt").write_text("half")
        (ctx.settings.chunks_dir / "sub").mkdir()
        (ctx.settings.chunks_dir / "sub" / "x.bin").write_text("half")
        raise ValueError("bad row")

    with pytest.raises(ComponentError, match="bad row"):
        split.invoke(_partitioner_env(tmp_path, {"in.txt": b"x"}))
    assert _listing(tmp_path / "chunks") == []


def test_partitioner_writing_chunks_itself_and_yielding_none_is_told_to_yield(
    tmp_path: Path,
) -> None:
    """A partitioner that writes data_<i>.bin itself, as a plain platform one does, and
    yields nothing is told to yield its chunks instead of that no chunks came, and its
    files are removed."""

    @task.partitioner
    def split(ctx: task.PartitionerContext[Any]) -> list[bytes]:
        for i in range(2):
            (ctx.settings.chunks_dir / f"data_{i}.bin").write_bytes(b"x")
        return []

    with pytest.raises(ConfigError) as exc:
        split.invoke(_partitioner_env(tmp_path, {"in.txt": b"x"}))
    assert str(exc.value) == (
        "the partitioner yielded no chunks but wrote 'data_0.bin', 'data_1.bin' into "
        "CHUNKS_DIR itself; yield each chunk instead (bytes, str, a path or task.NewChunk) "
        "and the runtime writes it as data_<i>.bin"
    )
    assert _listing(tmp_path / "chunks") == []


def test_partitioner_yielding_a_chunk_it_wrote_itself_is_not_overwritten(
    tmp_path: Path,
) -> None:
    """A chunk yielded where the partitioner already wrote data_<i>.bin itself is an
    error naming it, not a silent overwrite of that file."""

    @task.partitioner
    def split(ctx: task.PartitionerContext[Any]) -> Iterator[bytes]:
        (ctx.settings.chunks_dir / "data_0.bin").write_bytes(b"mine")
        yield b"yielded"

    with pytest.raises(ConfigError, match=r"^chunk 0: 'data_0.bin' is already in CHUNKS_DIR"):
        split.invoke(_partitioner_env(tmp_path, {"in.txt": b"x"}))
    assert _listing(tmp_path / "chunks") == []


def test_partitioner_failing_before_it_yields_is_a_component_error(tmp_path: Path) -> None:
    """A plain function that raises (no generator) is a ComponentError without a chunk."""

    @task.partitioner
    def split(ctx: task.PartitionerContext[Any]) -> list[bytes]:
        raise KeyError("nope")

    with pytest.raises(ComponentError, match="KeyError"):
        split.invoke(_partitioner_env(tmp_path, {"in.txt": b"x"}))
    assert _listing(tmp_path / "chunks") == []


def test_partitioner_yielding_a_non_chunk_is_a_component_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Yielding something that is not a chunk fails with exit 4 naming the chunk; no chunks stay."""

    @task.partitioner
    def odd(ctx: task.PartitionerContext[Any]) -> Iterator[Any]:
        yield b"fine"
        yield 42

    env = _partitioner_env(tmp_path, {"in.txt": b"x"})
    with pytest.raises(ComponentError, match=r"^chunk 1: TypeError: a partitioner must yield"):
        odd.invoke(env)
    assert _listing(tmp_path / "chunks") == []
    assert odd.main(env) == 4
    assert _error_lines(capsys.readouterr().err) == [
        "error: chunk 1: TypeError: a partitioner must yield bytes, str, a path or NewChunk, "
        "not int"
    ]


def test_failing_chunk_write_callable_leaves_no_chunks(tmp_path: Path) -> None:
    """A NewChunk whose write callable raises is a ComponentError; no partial file remains."""

    def write(stream: Any) -> None:
        stream.write(b"half")
        raise RuntimeError("encoder crashed")

    @task.partitioner
    def split(ctx: task.PartitionerContext[Any]) -> Iterator[Any]:
        yield b"first"
        yield task.NewChunk(write=write)

    with pytest.raises(ComponentError, match=r"^chunk 1: RuntimeError: encoder crashed"):
        split.invoke(_partitioner_env(tmp_path, {"in.txt": b"x"}))
    assert _listing(tmp_path / "chunks") == []


def test_partitioner_returning_none_is_a_config_error(tmp_path: Path) -> None:
    """A partitioner that forgot to yield (returns None) fails with a ConfigError."""

    @task.partitioner
    def forgot(ctx: task.PartitionerContext[Any]) -> None:
        return None

    with pytest.raises(ConfigError, match="returned None"):
        forgot.invoke(_partitioner_env(tmp_path, {"in.txt": b"x"}))


@pytest.mark.parametrize(
    ("returned", "what"),
    [("chunk text", "one str"), (b"chunk bytes", "one bytes"), (Path("in.txt"), "one path")],
)
def test_partitioner_returning_one_chunk_is_a_config_error(
    tmp_path: Path, returned: Any, what: str
) -> None:
    """A partitioner that returns one chunk instead of yielding it fails naming what it
    returned, rather than cutting a str into one chunk per character."""

    @task.partitioner
    def single(ctx: task.PartitionerContext[Any]) -> Any:
        return returned

    with pytest.raises(ConfigError, match=f"returned {what} instead of yielding chunks"):
        single.invoke(_partitioner_env(tmp_path, {"in.txt": b"x"}))
    assert _listing(tmp_path / "chunks") == []


def test_partitioner_returning_a_non_iterable_is_a_config_error(tmp_path: Path) -> None:
    """A partitioner that returns something no chunk can come from fails with a ConfigError
    naming its type, not as a bug of the library."""

    @task.partitioner
    def count(ctx: task.PartitionerContext[Any]) -> Any:
        return 3

    with pytest.raises(ConfigError, match="returned int; it must yield chunks"):
        count.invoke(_partitioner_env(tmp_path, {"in.txt": b"x"}))


def test_partitioner_yielding_nothing_is_a_data_error(tmp_path: Path) -> None:
    """Zero chunks is a DataError: the job would have no task to run."""

    @task.partitioner
    def nothing(ctx: task.PartitionerContext[Any]) -> list[bytes]:
        return []

    with pytest.raises(DataError, match="no chunks"):
        nothing.invoke(_partitioner_env(tmp_path, {"in.txt": b"x"}))


def test_empty_source_dir_is_a_data_error(tmp_path: Path) -> None:
    """A partitioner given an empty SOURCE_DIR fails naming SOURCE_DIR."""
    with pytest.raises(DataError, match=r"^SOURCE_DIR: folder .* holds no files"):
        entrypoint_for("partitioner", "passthrough").invoke(_partitioner_env(tmp_path, {}))


def test_source_dir_of_only_hidden_files_says_they_are_skipped(tmp_path: Path) -> None:
    """A SOURCE_DIR holding only dotfiles fails naming one of them and saying hidden files
    are skipped, not that the folder is empty."""
    env = _partitioner_env(tmp_path, {".env": b"A=1"})
    (tmp_path / "src" / ".git").mkdir()
    (tmp_path / "src" / ".git" / "HEAD").write_bytes(b"ref")
    with pytest.raises(
        DataError,
        match=r"^SOURCE_DIR: folder .* holds only hidden files \(such as '\.env'\), which are "
        r"skipped$",
    ):
        entrypoint_for("partitioner", "passthrough").invoke(env)


@pytest.mark.parametrize("name", ["row", "passthrough"])
def test_a_named_pipe_among_the_sources_is_named_not_waited_on(tmp_path: Path, name: str) -> None:
    """A named pipe in SOURCE_DIR (which a read would wait on forever for a writer) fails
    naming it before any chunk is written."""
    env = _partitioner_env(tmp_path, {"a.csv": b"x\n1\n"})
    os.mkfifo(tmp_path / "src" / "b.csv")
    with pytest.raises(
        DataError, match=r"^SOURCE_DIR: 'b\.csv' is a named pipe, not a file: only files are read$"
    ):
        entrypoint_for("partitioner", name).invoke(env)
    assert _listing(tmp_path / "chunks") == []


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: os.mkfifo(p), "is a named pipe, not a file"),
        (lambda p: p.symlink_to(p.with_name("gone")), "is a symbolic link that cannot be followed"),
        (lambda p: p.mkdir(), "is a folder, not a file"),
    ],
)
@pytest.mark.parametrize("name", ["passthrough", "zipper", "concat"])
def test_a_result_that_is_not_a_file_is_named_not_left_out(
    tmp_path: Path, name: str, make: Any, reason: str
) -> None:
    """An entry of TASK_RESULTS_DIR that is not a file (a pipe, a dangling link, a folder)
    fails the assembler naming it, before any output, never a chunk left out of it."""
    env = _assembler_env(tmp_path, {"chunk-000000.a.txt": b"0", "chunk-000002.a.txt": b"2"})
    make(tmp_path / "results" / "chunk-000001.a.txt")
    with pytest.raises(
        DataError,
        match=rf"^TASK_RESULTS_DIR: 'chunk-000001\.a\.txt' {reason}.*: only files are results$",
    ):
        entrypoint_for("assembler", name).invoke(env)
    assert _listing(tmp_path / "out") == []


@pytest.mark.parametrize(
    ("name", "suffix"),
    [
        ("passthrough", "txt"),
        ("concat", "txt"),
        ("concat", "csv"),
        ("concat", "npy"),
    ],
)
def test_a_result_deleted_after_listing_is_named_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, suffix: str
) -> None:
    """A result that vanishes between the listing and its reading fails the assembler with
    a DataError naming it (exit 3, not a ComponentError), and no output is left."""
    import bytenite_runtime._entry as entry

    data = {"txt": b"0", "csv": b"a\n0\n", "npy": _npy_bytes()}[suffix]
    results = {f"chunk-{i:06d}.a.{suffix}": data for i in range(3)}
    env = _assembler_env(tmp_path, results)
    listed = entry.list_results

    def list_then_delete(folder: Path) -> Any:
        found = listed(folder)
        (folder / f"chunk-000001.a.{suffix}").unlink()
        return found

    monkeypatch.setattr(entry, "list_results", list_then_delete)
    with pytest.raises(
        DataError, match=rf"^chunk 1: result 'chunk-000001\.a\.{suffix}'.*No such file or directory"
    ):
        entrypoint_for("assembler", name).invoke(env)
    assert _listing(tmp_path / "out") == []


def _npy_bytes() -> bytes:
    import io

    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, np.arange(3))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p.symlink_to(p.with_name("gone")), r"No such file or directory"),
        (lambda p: p.symlink_to(p), r"Too many levels of symbolic links"),
    ],
    ids=["dangling", "loop"],
)
def test_a_source_link_that_cannot_be_followed_is_named_by_its_path_and_why(
    tmp_path: Path, make: Any, reason: str
) -> None:
    """A source that is a symbolic link to nothing, or a loop, fails passthrough naming it
    by its path in SOURCE_DIR and why it cannot be read, before any chunk is kept."""
    env = _partitioner_env(tmp_path, {"a.txt": b"a"})
    make(tmp_path / "src" / "b.txt")
    with pytest.raises(
        DataError,
        match=rf"^chunk 1: source 'b\.txt' is a symbolic link that cannot be followed "
        rf"\({reason}\)$",
    ):
        entrypoint_for("partitioner", "passthrough").invoke(env)
    assert _listing(tmp_path / "chunks") == []


def test_a_source_link_to_a_folder_is_read_as_the_folder_and_a_loop_once(tmp_path: Path) -> None:
    """A symbolic link to a folder in SOURCE_DIR gives its files as a folder would, never
    none without a word, and a link back to an ancestor is not walked round again."""
    env = _partitioner_env(tmp_path, {"a.txt": b"a"})
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.txt").write_bytes(b"x")
    (tmp_path / "src" / "b").symlink_to(tmp_path / "other")
    (tmp_path / "src" / "loop").symlink_to(tmp_path / "src")
    entrypoint_for("partitioner", "passthrough").invoke(env)
    chunks = sorted((tmp_path / "chunks").iterdir())
    assert [c.read_bytes() for c in chunks] == [b"a", b"x"]


def test_a_result_named_like_the_runtime_s_own_files_is_a_result(tmp_path: Path) -> None:
    """A raw app's result named .bytenite-… reaches the assembler; only a staging folder a
    killed task left behind is passed over."""
    env = _assembler_env(tmp_path, {".bytenite-notes.txt": b"n", "chunk-000000.a.txt": b"a"})
    (tmp_path / "results" / ".bytenite-staging-x1y2").mkdir()
    entrypoint_for("assembler", "passthrough").invoke(env)
    assert _listing(tmp_path / "out") == [".bytenite-notes.txt", "a.txt"]


def test_skipped_hidden_sources_are_named_in_one_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Hidden source files next to visible ones are skipped with one warning line that
    counts them and names the first three, then 'and N more'."""
    env = _partitioner_env(tmp_path, {"a.csv": b"a", ".b.csv": b"b"})
    (tmp_path / "src" / ".git").mkdir()
    for i in range(4):
        (tmp_path / "src" / ".git" / f"f{i}").write_bytes(b"x")
    entrypoint_for("partitioner", "passthrough").invoke(env)
    assert _listing(tmp_path / "chunks") == ["data_0.bin"]
    warnings = [line for line in capsys.readouterr().err.splitlines() if "hidden" in line]
    assert warnings == [
        "WARNING bytenite.partitioner: SOURCE_DIR: skipping 5 hidden files (a name starting "
        "with '.'): '.b.csv', '.git/f0', '.git/f1' and 2 more"
    ]


def test_one_skipped_hidden_source_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A single skipped hidden source is named alone, without 'and N more'."""
    env = _partitioner_env(tmp_path, {"a.csv": b"a", ".b.csv": b"b"})
    entrypoint_for("partitioner", "passthrough").invoke(env)
    assert "skipping 1 hidden file (a name starting with '.'): '.b.csv'\n" in (
        capsys.readouterr().err
    )


def test_no_hidden_sources_no_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without hidden source files nothing is said about them."""
    env = _partitioner_env(tmp_path, {"a.csv": b"a"})
    entrypoint_for("partitioner", "passthrough").invoke(env)
    assert "hidden" not in capsys.readouterr().err


def test_sources_are_sorted_and_skip_dotfiles(tmp_path: Path) -> None:
    """ctx.sources lists regular files recursively by relative path, hidden ones skipped."""
    seen: list[str] = []

    @task.partitioner
    def names(ctx: task.PartitionerContext[Any]) -> Iterator[bytes]:
        seen.extend(p.relative_to(ctx.source_dir).as_posix() for p in ctx.sources)
        yield b"x"

    env = _partitioner_env(tmp_path, {"b.txt": b"", "a.txt": b"", ".hidden": b""})
    (tmp_path / "src" / "sub").mkdir()
    (tmp_path / "src" / "sub" / "c.txt").write_bytes(b"")
    (tmp_path / "src" / ".git").mkdir()
    (tmp_path / "src" / ".git" / "x").write_bytes(b"")
    names.invoke(env)
    assert seen == ["a.txt", "b.txt", "sub/c.txt"]


async def _async_body(ctx: Any) -> None:
    ctx.log.info("the body ran")


async def _async_generator(ctx: Any) -> Any:
    yield b"chunk"


def _generator(ctx: Any) -> Any:
    ctx.log.info("the body ran")
    yield b"chunk"


@pytest.mark.parametrize(
    ("fn", "what"),
    [
        (_async_body, "a coroutine"),
        (_async_generator, "an async generator"),
        (_generator, "a generator"),
    ],
)
@pytest.mark.parametrize("kind", ["app", "assembler"])
def test_app_or_assembler_whose_body_never_ran_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fn: Any, what: str, kind: str
) -> None:
    """An 'async def' or generator app or assembler returns before its body runs: that is an
    error (exit 2) naming what it returned, never a success that wrote nothing."""
    entry = task.app(fn) if kind == "app" else task.assembler(fn)
    env = (
        _app_env(tmp_path)
        if kind == "app"
        else _assembler_env(tmp_path, {"chunk-000000.r.txt": b"x"})
    )
    assert entry.main(env) == 2
    err = capsys.readouterr().err
    assert _error_lines(err) == [
        f"error: the {kind} function returned {what}, so its body never ran; "
        "it must be a plain 'def' that writes its files and returns"
    ]
    assert "the body ran" not in err and "never awaited" not in err


@pytest.mark.parametrize(
    ("fn", "what"), [(_async_body, "a coroutine"), (_async_generator, "an async generator")]
)
def test_async_partitioner_is_a_config_error(tmp_path: Path, fn: Any, what: str) -> None:
    """An 'async def' partitioner is named as such, not reported as a library bug."""
    with pytest.raises(ConfigError, match=f"returned {what}; it must yield chunks from a plain"):
        task.partitioner(fn).invoke(_partitioner_env(tmp_path, {"in.txt": b"x"}))
    assert _listing(tmp_path / "chunks") == []


# -- assembler ---------------------------------------------------------------------------


def test_assembler_sees_results_in_chunk_order(tmp_path: Path) -> None:
    """ctx.results is ordered by chunk index (not by name), unordered results last."""
    order: list[tuple[int | None, str]] = []

    @task.assembler
    def collect(ctx: task.AssemblerContext[Any]) -> None:
        order.extend((r.index, r.original) for r in ctx.results)
        ctx.output.write_text("done.txt", "ok")

    results = {
        "chunk-000000.z.txt": b"",
        "chunk-000010.a.txt": b"",
        "chunk-000002.m.txt": b"",
        "task-0123abcd.loose.txt": b"",
    }
    collect.invoke(_assembler_env(tmp_path, results))
    assert order == [(0, "z.txt"), (2, "m.txt"), (10, "a.txt"), (None, "loose.txt")]
    assert _listing(tmp_path / "out") == ["done.txt"]


def test_failing_assembler_leaves_output_empty(tmp_path: Path) -> None:
    """An assembler that raises after writing output leaves OUTPUT_DIR empty."""

    @task.assembler
    def half(ctx: task.AssemblerContext[Any]) -> None:
        ctx.output.write_bytes("part.bin", b"partial")
        with ctx.output.path("big.bin").open("wb") as stream:
            stream.write(b"x" * 1000)
        raise OSError("disk full")

    with pytest.raises(ComponentError, match="OSError: disk full"):
        half.invoke(_assembler_env(tmp_path, {"chunk-000000.r.txt": b"x"}))
    assert _listing(tmp_path / "out") == []


def test_failing_components_remove_what_they_wrote_into_their_folder_itself(
    tmp_path: Path,
) -> None:
    """An app or assembler that writes into TASK_RESULTS_DIR or OUTPUT_DIR itself (not
    through ctx.results or ctx.output) and then raises leaves that folder as it found it."""

    @task.app
    def app(ctx: task.AppContext[Any]) -> None:
        (ctx.settings.task_results_dir / "direct.txt").write_text("half")
        raise RuntimeError("boom")

    @task.assembler
    def assembler(ctx: task.AssemblerContext[Any]) -> None:
        (ctx.settings.output_dir / "frames").mkdir()
        (ctx.settings.output_dir / "frames" / "0001.png").write_bytes(b"half")
        raise RuntimeError("boom")

    (tmp_path / "app").mkdir()
    with pytest.raises(ComponentError):
        app.invoke(_app_env(tmp_path / "app"))
    assert _listing(tmp_path / "app" / "results") == []
    with pytest.raises(ComponentError):
        assembler.invoke(_assembler_env(tmp_path, {"chunk-000000.r.txt": b"x"}))
    assert _listing(tmp_path / "out") == []


def test_output_clash_commits_nothing(tmp_path: Path) -> None:
    """An output name already in OUTPUT_DIR fails the assembler before any file moves."""

    @task.assembler
    def two(ctx: task.AssemblerContext[Any]) -> None:
        ctx.output.write_text("a.txt", "new")
        ctx.output.write_text("b.txt", "new")

    env = _assembler_env(tmp_path, {"chunk-000000.r.txt": b"x"})
    (tmp_path / "out" / "b.txt").write_text("old")
    with pytest.raises(DataError, match=r"^b\.txt: already exists"):
        two.invoke(env)
    assert _listing(tmp_path / "out") == ["b.txt"]


def test_builtin_entrypoint_runs_by_name(tmp_path: Path) -> None:
    """entrypoint_for gives a built-in component an Entrypoint that validates its params."""
    entry = entrypoint_for("assembler", "concat")
    assert entry.kind == "assembler"
    env = _assembler_env(tmp_path, {"chunk-000001.o.txt": b"B", "chunk-000000.o.txt": b"A"})
    entry.invoke(env)
    assert (tmp_path / "out" / "o.txt").read_bytes() == b"AB"
    with pytest.raises(SettingsError, match=r"ASSEMBLER_PARAMS\.typo"):
        entry.invoke(dict(env, ASSEMBLER_PARAMS='{"typo": 1}'))


# -- main / run --------------------------------------------------------------------------


def test_main_returns_zero_on_success(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A successful run returns 0 and prints no error line."""
    assert upper.main(_app_env(tmp_path)) == 0
    assert _error_lines(capsys.readouterr().err) == []


def test_main_returns_two_for_configuration_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad params exit 2 with exactly one final error line naming the field."""
    assert upper.main(_app_env(tmp_path, params={"case": 3})) == 2
    err = capsys.readouterr().err
    assert _error_lines(err) == [err.splitlines()[-1]]
    assert err.splitlines()[-1].startswith("error: invalid settings (1 problem): APP_PARAMS.case:")


def test_main_returns_three_for_data_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad data (here, a chunk that is not UTF-8) exits 3 with one error line naming the byte."""
    assert upper.main(_app_env(tmp_path, b"ok\xffno", chunk_number=6)) == 3
    err = capsys.readouterr().err
    assert _error_lines(err) == [err.splitlines()[-1]]
    assert err.splitlines()[-1].startswith("error: chunk 6 byte 2: not valid utf-8")


def test_main_returns_four_for_component_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """User code raising exits 4: traceback first, then exactly one final error line."""

    @task.app
    def crash(ctx: task.AppContext[Any]) -> None:
        raise ZeroDivisionError("division by zero")

    assert crash.main(_app_env(tmp_path, chunk_number=1)) == 4
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert "Traceback (most recent call last):" in lines
    assert _error_lines(err) == ["error: chunk 1: ZeroDivisionError: division by zero"]
    assert lines[-1] == "error: chunk 1: ZeroDivisionError: division by zero"


def test_main_turns_an_unexpected_exception_into_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception outside the hierarchy (an OS failure) still exits 1 with one error line."""
    import bytenite_runtime._entry as entry_module

    def unreadable(folder: Path) -> list[Any]:
        raise OSError(5, "Input/output error", str(folder))

    monkeypatch.setattr(entry_module, "list_results", unreadable)

    @task.assembler
    def merge(ctx: task.AssemblerContext[Any]) -> None:
        raise AssertionError("must not run")

    assert merge.main(_assembler_env(tmp_path, {})) == 1
    err = capsys.readouterr().err
    assert _error_lines(err) == [err.splitlines()[-1]]
    assert err.splitlines()[-1].startswith(
        "error: assembler failed: OSError: [Errno 5] Input/output error"
    )


def test_exit_codes_live_on_the_error_classes() -> None:
    """Each error class carries the exit code main() returns for it."""
    assert ByteniteError.exit_code == 1
    assert (ConfigError.exit_code, SettingsError.exit_code) == (2, 2)
    assert DataError.exit_code == 3
    assert ComponentError.exit_code == 4


def test_run_exits_with_the_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """run() is main() followed by sys.exit with its code."""
    with pytest.raises(SystemExit) as exc:
        upper.run(_app_env(tmp_path, params={"case": 3}))
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        upper.run(_app_env(tmp_path))
    assert exc.value.code == 0


# -- secrets and logging -----------------------------------------------------------------


def test_logger_redacts_secret_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Secret values are masked in log lines, whether passed as args or formatted in."""

    @task.app(secrets=["TOKEN", "AWS"])
    def chatty(ctx: task.AppContext[Any]) -> None:
        token = ctx.secrets["TOKEN"].value
        assert token is not None
        ctx.log.info("token=%s", token.get_secret_value())
        ctx.log.warning(f"inline {token.get_secret_value()} and {ctx.secrets['AWS'].revealed()}")
        try:
            raise RuntimeError(token.get_secret_value())
        except RuntimeError:
            ctx.log.exception("failed")

    env = _app_env(tmp_path) | secret_environment({"TOKEN": SECRET, "AWS": ("AK" + SECRET, "k2")})
    chatty.invoke(env)
    err = capsys.readouterr().err
    assert SECRET not in err
    assert "INFO bytenite.app: token=***" in err
    assert "RuntimeError: ***" in err


def test_error_line_and_traceback_redact_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """main() masks secrets in the traceback and the final error line."""

    @task.app(secrets=["TOKEN"])
    def leak(ctx: task.AppContext[Any]) -> None:
        raise RuntimeError(f"could not log in with {SECRET}")

    env = _app_env(tmp_path) | secret_environment({"TOKEN": SECRET})
    assert leak.main(env) == 4
    err = capsys.readouterr().err
    assert SECRET not in err
    assert err.splitlines()[-1] == "error: chunk 0: RuntimeError: could not log in with ***"


def test_settings_error_quoting_a_secret_is_redacted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A params value that holds a declared secret is masked in the raised error and in main()."""

    class Numeric(BaseModel):
        n: int

    @task.app(params=Numeric, secrets=["TOKEN"])
    def strict(ctx: task.AppContext[Numeric]) -> None:
        raise AssertionError("must not run")

    env = _app_env(tmp_path, params={"n": SECRET}) | secret_environment({"TOKEN": SECRET})
    with pytest.raises(SettingsError) as exc:
        strict.invoke(env)
    assert SECRET not in str(exc.value) and SECRET not in repr(exc.value.problems)
    assert "APP_PARAMS.n" in str(exc.value)
    assert strict.main(env) == 2
    assert SECRET not in capsys.readouterr().err


def test_secret_cut_short_in_a_quoted_param_shows_no_part_of_it(tmp_path: Path) -> None:
    """A secret that a long quoted param value cuts in two is masked first, so no head shows."""

    class Numeric(BaseModel):
        n: int

    @task.app(params=Numeric, secrets=["TOKEN"])
    def strict(ctx: task.AppContext[Numeric]) -> None:
        raise AssertionError("must not run")

    value = "f" * 50 + SECRET  # the quoted input is shortened to 57 characters
    env = _app_env(tmp_path, params={"n": value}) | secret_environment({"TOKEN": SECRET})
    with pytest.raises(SettingsError) as exc:
        strict.invoke(env)
    assert SECRET[:6] not in str(exc.value)
    assert "(got 'ffffffffffffffffffffffffffffffffffffffffffffffffff***')" in str(exc.value)


def test_invalid_secret_never_reaches_the_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A secret rejected for its own value (whitespace) is named, its value never printed."""

    @task.app(secrets=["TOKEN"])
    def needs(ctx: task.AppContext[Any]) -> None:
        raise AssertionError("must not run")

    env = _app_env(tmp_path) | secret_environment({"TOKEN": f" {SECRET} "})
    assert needs.main(env) == 2
    err = capsys.readouterr().err
    assert SECRET not in err
    assert err.splitlines()[-1] == (
        "error: invalid settings (1 problem): TOKEN: has leading or trailing whitespace "
        "(value hidden)"
    )


# -- schema ------------------------------------------------------------------------------

_MODULE = textwrap.dedent(
    """
    from bytenite_runtime import task

    @task.app
    def main(ctx):
        ctx.results.write_text("out.txt", str(ctx.params["size"]))
    """
)
_SCHEMA = {
    "type": "object",
    "properties": {"size": {"type": "integer", "minimum": 1}},
    "required": ["size"],
}


def _load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"app_{abs(hash(path))}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("schema_at", ["app/schema.json", "schema.json"])
def test_schema_auto_finds_schema_json(tmp_path: Path, schema_at: str) -> None:
    """schema='auto' (the default) uses schema.json beside the script or in the app folder."""
    component = tmp_path / "my-app"
    (component / "app").mkdir(parents=True)
    (component / "app" / "main.py").write_text(_MODULE)
    (component / schema_at).write_text(json.dumps(_SCHEMA))
    entry = _load_module(component / "app" / "main.py").main
    with pytest.raises(SettingsError) as exc:
        entry.invoke(_app_env(tmp_path, params={"size": 0}))
    (problem,) = exc.value.problems
    assert (problem.variable, problem.field) == ("APP_PARAMS", "size")
    assert problem.reason.endswith("(schema.json)")
    entry.invoke(_app_env(tmp_path, params={"size": 3}))
    assert (tmp_path / "results" / "chunk-000000.out.txt").read_text() == "3"


def test_schema_auto_without_a_file_validates_nothing(tmp_path: Path) -> None:
    """With no schema.json nearby, 'auto' accepts any params object."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "main.py").write_text(_MODULE)
    entry = _load_module(tmp_path / "app" / "main.py").main
    entry.invoke(_app_env(tmp_path / "app", params={"size": -5}))
    assert _listing(tmp_path / "app" / "results") == ["chunk-000000.out.txt"]


def test_broken_schema_file_is_a_settings_error(tmp_path: Path) -> None:
    """A schema.json that is not JSON fails the run, naming the file."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "main.py").write_text(_MODULE)
    (tmp_path / "app" / "schema.json").write_text("{oops")
    entry = _load_module(tmp_path / "app" / "main.py").main
    with pytest.raises(SettingsError, match=r"schema\.json: is not valid JSON"):
        entry.invoke(_app_env(tmp_path / "app", params={"size": 1}))


def test_broken_schema_is_reported_with_the_other_problems(tmp_path: Path) -> None:
    """A broken schema.json joins the environment's problems in the same SettingsError."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "main.py").write_text(_MODULE)
    (tmp_path / "app" / "schema.json").write_text("[]")
    entry = _load_module(tmp_path / "app" / "main.py").main
    env = dict(_app_env(tmp_path / "app", params={"size": 1}), CHUNK_NUMBER="x")
    with pytest.raises(SettingsError) as exc:
        entry.invoke(env)
    assert [p.variable for p in exc.value.problems] == ["CHUNK_NUMBER", "schema.json"]


def test_explicit_schema_mapping_and_path(tmp_path: Path) -> None:
    """A schema given as a mapping or a path is used instead of searching."""
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(_SCHEMA))
    for number, schema in enumerate((_SCHEMA, path, str(path))):

        @task.app(schema=schema)
        def entry(ctx: task.AppContext[Any]) -> None:
            raise AssertionError("must not run")

        root = tmp_path / f"run-{number}"
        root.mkdir()
        with pytest.raises(SettingsError, match=r"APP_PARAMS: 'size' is a required property"):
            entry.invoke(_app_env(root, params={}))


def test_schema_none_turns_validation_off(tmp_path: Path) -> None:
    """schema=None skips JSON Schema validation even when a schema.json sits beside the code."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "schema.json").write_text(json.dumps(_SCHEMA))
    (tmp_path / "app" / "main.py").write_text(
        _MODULE.replace("@task.app", "@task.app(schema=None)")
    )
    entry = _load_module(tmp_path / "app" / "main.py").main
    entry.invoke(_app_env(tmp_path / "app", params={"size": 0}))
    assert _listing(tmp_path / "app" / "results") == ["chunk-000000.out.txt"]


def test_chunk_read_text_names_the_bad_byte(tmp_path: Path) -> None:
    """Undecodable chunk text is a DataError naming the chunk and byte offset."""
    seen: list[str] = []

    @task.app
    def read(ctx: task.AppContext[Any]) -> None:
        try:
            ctx.chunk.read_text()
        except DataError as exc:
            seen.append(str(exc))
            raise

    with pytest.raises(DataError):
        read.invoke(_app_env(tmp_path, b"abc\xc3", chunk_number=2))
    assert seen == ["chunk 2 byte 3: not valid utf-8 (unexpected end of data)"]


@pytest.mark.parametrize(("data", "code"), [(b"a\n1\n2\n", 0), (b"", 3)])
def test_serve_exits_with_the_components_code_and_flushes_its_lines(
    tmp_path: Path, data: bytes, code: int
) -> None:
    """``serve`` skips interpreter teardown, but its exit code and every log or error line
    still reach the pipes it was given."""
    source, chunks = tmp_path / "src", tmp_path / "chunks"
    source.mkdir()
    chunks.mkdir()
    (source / "t.csv").write_bytes(data)
    env = {
        **os.environ,
        **partitioner_environment(source, chunks, {"rows_per_chunk": 1}, None),
    }
    command = [sys.executable, "-m", "bytenite_runtime", "serve", "partitioner", "row"]
    done = subprocess.run(command, env=env, capture_output=True, check=False)
    lines = done.stderr.decode().splitlines()
    assert done.returncode == code
    if code:
        assert lines[-1] == "error: t.csv: no records"
    else:
        assert lines[-1] == "INFO bytenite.partitioner: wrote 2 chunks"
        assert sorted(p.name for p in chunks.iterdir()) == ["data_0.bin", "data_1.bin"]
