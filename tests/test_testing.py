"""bytenite_runtime.testing: the helpers app authors use in their own tests."""

from __future__ import annotations

import io
import logging
import re
import struct
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from pydantic import BaseModel, ConfigDict, Field

from bytenite_runtime import (
    ChunkMeta,
    ComponentError,
    SettingsError,
    UnknownNameError,
    task,
)
from bytenite_runtime.chunks import FOOTER_MAGIC
from bytenite_runtime.testing import (
    AppRun,
    PartitionedChunk,
    run_app,
    run_assembler,
    run_partitioner,
)


class Case(BaseModel):
    case: str = "upper"


@task.app(params=Case)
def shout(ctx: task.AppContext[Case]) -> None:
    text = ctx.chunk.read_text()
    ctx.results.write_text("out.txt", text.upper() if ctx.params.case == "upper" else text.lower())


@task.app
def describe(ctx: task.AppContext[Any]) -> None:
    chunk = ctx.chunk
    info = f"{chunk.index}|{chunk.source}|{dict(chunk.fields)}|{chunk.read_bytes()!r}"
    ctx.results.write_text("info.txt", info)


# -- run_app -----------------------------------------------------------------------------


def test_run_app_returns_results_by_original_name() -> None:
    """Results come back keyed by their original names, raw names keeping the marker."""
    run = run_app(shout, "hello", params={"case": "upper"})
    raw = {"chunk-000000.out.txt": b"HELLO"}
    assert run == AppRun({"out.txt": b"HELLO"}, ("chunk-000000.out.txt",), (), raw)


def test_app_runs_chain_into_run_assembler_by_their_raw_results() -> None:
    """The raw results of several app runs, merged, are what run_assembler takes: a
    partition, app and assembly test needs no renaming."""
    chunks = run_partitioner("replicate-fanout", {"in.txt": b"hi"}, {"num_replicas": 3})
    runs = [run_app(shout, c.data, chunk_number=i) for i, c in enumerate(chunks)]
    merged = {name: data for run in runs for name, data in run.raw_results.items()}
    assert run_assembler("concat", merged) == {"out.txt": b"HIHIHI"}


def test_chunks_of_a_partitioner_without_metadata_run_as_their_own_tasks() -> None:
    """A chunk run_partitioner returned, given to run_app whole, runs as its task: results
    named by its index, so merged runs keep every chunk's result, not chunk 0's alone."""

    @task.partitioner
    def halves(ctx: task.PartitionerContext[Any]) -> Iterator[bytes]:
        yield from (b"ab", b"cd")

    chunks = run_partitioner(halves, {"p.txt": ""})
    runs = [run_app(shout, chunk) for chunk in chunks]
    merged = {name: data for run in runs for name, data in run.raw_results.items()}
    assert run_assembler("concat", merged) == {"out.txt": b"ABCD"}


def test_a_footer_chunk_given_to_run_app_whole_keeps_its_metadata() -> None:
    """The footer run_partitioner strips off a chunk goes back on when run_app gets the
    chunk whole, so the app sees the metadata its task would."""

    @task.partitioner(chunk_metadata="footer")
    def pair(ctx: task.PartitionerContext[Any]) -> Iterator[task.NewChunk]:
        for number in range(2):
            yield task.NewChunk(data=b"x", source="p.txt", fields={"n": number})

    last = run_partitioner(pair, {"p.txt": ""})[1]
    run = run_app(describe, last)
    assert run.raw_names == ("chunk-000001.info.txt",)
    assert run.results["info.txt"] == b"1|p.txt|{'n': 1}|b'x'"


@task.app
def nests(ctx: task.AppContext[Any]) -> None:
    ctx.results.write_text("top.txt", "kept")
    (ctx.results.dir / "sub").mkdir()
    (ctx.results.dir / "sub" / "deep.txt").write_text("lost")


def test_run_app_warns_about_a_result_in_a_subfolder() -> None:
    """A result folder, which the platform and the simulator do not collect, is warned
    about as simulate warns, and listed in the run's warnings, not left out silently."""
    expected = "'chunk-000000.sub' is not a file; only top-level files are results"
    with pytest.warns(UserWarning, match=re.escape(f"run_app: {expected}")):
        run = run_app(nests, "x")
    assert run.results == {"top.txt": b"kept"}
    assert run.warnings == (expected,)


def test_run_app_passes_chunk_number() -> None:
    """chunk_number becomes CHUNK_NUMBER and so the index in the result name."""
    run = run_app(shout, b"Hi", chunk_number=12)
    assert run.raw_names == ("chunk-000012.out.txt",)


def test_run_app_without_chunk_number_gives_unordered_results() -> None:
    """chunk_number=None leaves CHUNK_NUMBER unset: the result is unordered."""
    run = run_app(shout, "x", chunk_number=None)
    (raw,) = run.raw_names
    assert re.fullmatch(r"task-[0-9a-f]{8}\.out\.txt", raw)
    assert run.results == {"out.txt": b"X"}


def test_run_app_chunk_meta_travels_as_a_footer() -> None:
    """chunk_meta reaches the app as chunk metadata; the payload is seen without it."""
    meta = ChunkMeta(4, 9, "video.mp4", {"start": 2.5})
    run = run_app(describe, b"\x00\x01", chunk_number=None, chunk_meta=meta)
    assert run.raw_names == ("chunk-000004.info.txt",)
    assert run.results["info.txt"] == b"4|video.mp4|{'start': 2.5}|b'\\x00\\x01'"


def test_run_app_sends_chunk_metas_index_as_chunk_number(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With chunk_meta and no chunk_number, CHUNK_NUMBER is the metadata's index, as the
    platform's task for that chunk gets, so the app warns of no mismatch."""

    @task.partitioner(chunk_metadata="footer")
    def thirds(ctx: task.PartitionerContext[Any]) -> Iterator[bytes]:
        yield from (b"a", b"b", b"c")

    for index, chunk in enumerate(run_partitioner(thirds, {"p.txt": ""})):
        run = run_app(describe, chunk.data, chunk_meta=chunk.meta)
        assert run.raw_names == (f"chunk-{index:06d}.info.txt",)
    assert "WARNING" not in capsys.readouterr().err


def test_run_app_sends_the_index_a_chunk_carries_in_its_format_slot_as_chunk_number(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A chunk whose metadata sits in its format's own slot (a tile's PNG text) gets that
    index as CHUNK_NUMBER by default, not 0, so the app warns of no mismatch."""
    image = pytest.importorskip("PIL.Image")
    buffer = io.BytesIO()
    image.new("L", (4, 2)).save(buffer, "PNG")

    @task.app
    def number(ctx: task.AppContext[Any]) -> None:
        ctx.results.write_text("n.txt", str(ctx.settings.chunk_number))

    tiles = run_partitioner("tile", {"p.png": buffer.getvalue()}, {"tile_width": 2})
    assert [t.meta.index for t in tiles if t.meta is not None] == [0, 1]
    run = run_app(number, tiles[1].data)
    assert run.results == {"n.txt": b"1"}
    assert "WARNING" not in capsys.readouterr().err


def test_run_app_reads_a_chunk_that_merely_ends_in_the_footer_magic_whole() -> None:
    """A plain chunk whose last bytes are the footer magic (or a footer failing its checks)
    reaches the app whole, with no metadata, and the index comes from CHUNK_NUMBER."""
    for chunk in (b"row,1\n" + FOOTER_MAGIC, b"xy" + struct.pack("<II", 2, 0) + FOOTER_MAGIC):
        run = run_app(describe, chunk, chunk_number=6)
        assert run.raw_names == ("chunk-000006.info.txt",)
        assert run.results["info.txt"] == f"6|None|{{}}|{chunk!r}".encode()


def test_run_app_validates_params() -> None:
    """Params go through the app's model: a wrong type is the SettingsError a run would give."""
    with pytest.raises(SettingsError, match=r"APP_PARAMS\.case"):
        run_app(shout, "x", params={"case": 5})


def test_run_app_raises_the_component_error() -> None:
    """A failing app raises ComponentError carrying the chunk index."""

    @task.app
    def broken(ctx: task.AppContext[Any]) -> None:
        raise RuntimeError("nope")

    with pytest.raises(ComponentError) as exc:
        run_app(broken, "x", chunk_number=3)
    assert exc.value.chunk == 3


def test_run_app_hands_over_secrets() -> None:
    """Storage pairs and plain secrets arrive in ctx.secrets under the declared ids."""
    seen: dict[str, list[str]] = {}

    @task.app(secrets=["AWS", "TOKEN"])
    def uses(ctx: task.AppContext[Any]) -> None:
        seen.update({k: v.revealed() for k, v in ctx.secrets.items()})

    run_app(uses, "x", secrets={"AWS": ("access", "key"), "TOKEN": "t0k3n"})
    assert seen == {"AWS": ["access", "key"], "TOKEN": ["t0k3n"]}


def test_secrets_give_their_values_as_plain_strings_by_kind() -> None:
    """get_secret_value() is a plain secret's str and get_keys() a storage secret's pair,
    each a TypeError naming the secret on the other kind, never showing a value."""
    seen: dict[str, object] = {}
    errors: list[str] = []

    @task.app(secrets=["AWS", "TOKEN"])
    def uses(ctx: task.AppContext[Any]) -> None:
        seen["token"] = ctx.secrets["TOKEN"].get_secret_value()
        seen["aws"] = ctx.secrets["AWS"].get_keys()
        for call in (ctx.secrets["TOKEN"].get_keys, ctx.secrets["AWS"].get_secret_value):
            with pytest.raises(TypeError) as exc:
                call()
            errors.append(str(exc.value))

    run_app(uses, "x", secrets={"AWS": ("access", "key"), "TOKEN": "t0k3n"})
    assert seen == {"token": "t0k3n", "aws": ("access", "key")}
    assert errors == [
        "secret TOKEN holds one value: use get_secret_value()",
        "secret AWS is a storage secret: use get_keys()",
    ]


def test_run_app_takes_secrets_in_the_shape_of_simulates_secrets_file() -> None:
    """A storage secret given as simulate's --secrets file holds it, {access_key,
    secret_key}, or as a list pair, arrives as the pair, not as an AttributeError."""
    seen: list[list[str]] = []

    @task.app(secrets=["AWS"])
    def uses(ctx: task.AppContext[Any]) -> None:
        seen.append(ctx.secrets["AWS"].revealed())

    run_app(uses, "x", secrets={"AWS": {"access_key": "AKIA1", "secret_key": "k/1"}})
    run_app(uses, "x", secrets={"AWS": ["AKIA2", "k/2"]})  # type: ignore[dict-item]
    assert seen == [["AKIA1", "k/1"], ["AKIA2", "k/2"]]


@pytest.mark.parametrize(
    "value",
    [{"access_key": "AKIA1"}, ("AKIA1", "k/1", "x"), b"hunter2", {"key": "hunter2"}, None],
    ids=["half-a-pair", "three", "bytes", "other-keys", "none"],
)
def test_run_app_names_a_secret_of_the_wrong_shape(value: Any) -> None:
    """A secret run_app cannot hand over is a TypeError naming its id and the shapes it
    takes, never showing the value."""

    @task.app(secrets=["AWS"])
    def uses(ctx: task.AppContext[Any]) -> None:
        raise AssertionError("must not run")

    with pytest.raises(TypeError, match=r"^secrets\['AWS'\]: expected a str, an") as raised:
        run_app(uses, "x", secrets={"AWS": value})
    assert "hunter2" not in str(raised.value) and "AKIA1" not in str(raised.value)


def test_run_app_missing_declared_secret_fails() -> None:
    """A declared secret not given to run_app is the configuration error a run would give."""

    @task.app(secrets=["TOKEN"])
    def uses(ctx: task.AppContext[Any]) -> None:
        raise AssertionError("must not run")

    with pytest.raises(SettingsError, match="TOKEN: is not set"):
        run_app(uses, "x")


def test_run_app_masks_secrets_in_the_error_it_raises() -> None:
    """A secret's value quoted by an app's exception or its sys.exit() message is masked in
    the error run_app raises and in the exception chained to it, as run() masks it."""

    @task.app(secrets=["TOKEN"])
    def rejects(ctx: task.AppContext[Any]) -> None:
        token = ctx.secrets["TOKEN"].revealed()[0]
        if ctx.chunk.read_text() == "exit":
            sys.exit(f"bad token {token}")
        if ctx.chunk.read_text() == "file":
            (ctx.results.dir / token / "cfg").read_bytes()
        if ctx.chunk.read_text() == "group":
            raise ExceptionGroup("calls failed", [ValueError(f"rejected {token}")])
        try:
            raise KeyError(token)
        except KeyError as exc:
            exc.add_note(f"while sending {token}")
            raise RuntimeError(f"auth failed with {token!r}") from exc

    secrets = {"TOKEN": "s3cr3t-value"}
    with pytest.raises(ComponentError) as raised:
        run_app(rejects, "x", secrets=secrets)
    chain = "".join(traceback.format_exception(raised.value))
    assert "s3cr3t" not in chain
    assert "chunk 0: RuntimeError: auth failed with '***'" in chain
    assert "KeyError: '***'" in chain and "while sending ***" in chain
    with pytest.raises(ComponentError, match=re.escape("called sys.exit('bad token ***')")):
        run_app(rejects, "exit", secrets=secrets)
    with pytest.raises(ComponentError) as raised:
        run_app(rejects, "file", secrets=secrets)
    chain = "".join(traceback.format_exception(raised.value))
    assert "/***/cfg'" in chain and "s3cr3t" not in chain
    with pytest.raises(ComponentError) as raised:
        run_app(rejects, "group", secrets=secrets)
    chain = "".join(traceback.format_exception(raised.value))
    assert "ValueError: rejected ***" in chain and "s3cr3t" not in chain


def test_run_app_masks_secrets_held_in_an_errors_containers() -> None:
    """A secret inside a dict or list an app's exception was raised with is masked too,
    and an argument that is a named tuple is left whole rather than breaking the mask."""

    class Call(NamedTuple):
        url: str

    @task.app(secrets=["TOKEN"])
    def rejects(ctx: task.AppContext[Any]) -> None:
        token = ctx.secrets["TOKEN"].revealed()[0]
        raise ValueError({"token": token}, [token], Call("https://example.invalid"))

    secrets = {"TOKEN": "s3cr3t-value"}  # not on the line the traceback quotes
    with pytest.raises(ComponentError) as raised:
        run_app(rejects, "x", secrets=secrets)
    chain = "".join(traceback.format_exception(raised.value))
    assert "s3cr3t" not in chain
    assert "({'token': '***'}, ['***'], Call(url='https://example.invalid'))" in chain


def test_component_logs_reach_caplog_with_secrets_masked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """What an app, a partitioner and an assembler log through ctx.log reaches pytest's
    caplog (the component loggers do not propagate outside the helpers), secrets masked."""

    @task.app(secrets=["TOKEN"])
    def app(ctx: task.AppContext[Any]) -> None:
        ctx.log.info("app used %s", ctx.secrets["TOKEN"].revealed()[0])
        ctx.results.write_bytes("out.txt", b"x")

    @task.partitioner
    def split(ctx: task.PartitionerContext[Any]) -> Iterator[bytes]:
        ctx.log.warning("partitioner saw %d files", len(ctx.sources))
        yield b"a"

    @task.assembler
    def join(ctx: task.AssemblerContext[Any]) -> None:
        ctx.log.info("assembler joined %d results", len(ctx.results))

    with caplog.at_level(logging.INFO):
        run_app(app, "x", secrets={"TOKEN": "t0k3n-value"})
        run_partitioner(split, {"in.txt": b"a"})
        run_assembler(join, {"out.txt": b"x"})
    logged = [(r.name, r.getMessage()) for r in caplog.records]
    assert ("bytenite.app", "app used ***") in logged
    assert ("bytenite.partitioner", "partitioner saw 1 files") in logged
    assert ("bytenite.assembler", "assembler joined 1 results") in logged
    assert "t0k3n-value" not in caplog.text


class Rate(BaseModel):
    tax_rate: float = 0.1


class OpenRate(Rate):
    model_config = ConfigDict(extra="allow")


@pytest.mark.parametrize(("model", "warned"), [(Rate, True), (OpenRate, False)])
def test_a_params_key_the_apps_model_ignores_is_warned_about(
    capsys: pytest.CaptureFixture[str], model: type[Rate], warned: bool
) -> None:
    """A params key the app's model drops without a word (pydantic's default) is warned
    about with the field it may have meant, and the run goes on with the default; a model
    that takes extra keys is not warned about."""

    @task.app(params=model)
    def rate(ctx: task.AppContext[Rate]) -> None:
        ctx.results.write_text("o.txt", str(ctx.params.tax_rate))

    assert run_app(rate, "x", params={"tax_rat": 0.5}).results == {"o.txt": b"0.1"}
    lines = [line for line in capsys.readouterr().err.splitlines() if "tax_rat:" in line]
    assert lines == (
        [
            "WARNING bytenite.app: APP_PARAMS.tax_rat: not a field of Rate, ignored (did you "
            "mean 'tax_rate'?); model_config = ConfigDict(extra='forbid') makes such a key an "
            "error"
        ]
        if warned
        else []
    )


def test_run_app_ignores_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Variables in os.environ do not leak into the run: only the contract's are set."""
    monkeypatch.setenv("CHUNK_NUMBER", "not a number")
    monkeypatch.setenv("APP_PARAMS", '{"case": 1}')
    monkeypatch.setenv("TOKEN", "from-the-shell")

    @task.app(secrets=["TOKEN"])
    def uses(ctx: task.AppContext[Any]) -> None:
        raise AssertionError("must not run")

    assert run_app(shout, "a").results == {"out.txt": b"A"}
    with pytest.raises(SettingsError, match="TOKEN: is not set"):
        run_app(uses, "x")


def test_run_app_gives_real_cache_folders(tmp_path: Path) -> None:
    """The app gets a writable user cache and the shared cache folder passed in."""
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "weights.bin").write_bytes(b"w")
    seen: list[bytes] = []

    @task.app
    def cached(ctx: task.AppContext[Any]) -> None:
        (ctx.user_cache / "note").write_text("kept")
        seen.append((ctx.shared_cache / "weights.bin").read_bytes())

    run_app(cached, "x", shared_cache=tmp_path / "models")
    assert seen == [b"w"]


def test_run_app_keeps_its_folders_under_tmp_path(tmp_path: Path) -> None:
    """With tmp_path each run gets its own folder there, left for inspection."""
    run_app(shout, "one", tmp_path=tmp_path)
    run_app(shout, "two", tmp_path=tmp_path)
    runs = sorted(tmp_path.iterdir())
    assert len(runs) == 2
    outputs = sorted((run / "results" / "chunk-000000.out.txt").read_text() for run in runs)
    assert outputs == ["ONE", "TWO"]


def test_run_app_rejects_other_kinds() -> None:
    """Passing a partitioner, or a name, to run_app is a TypeError."""

    @task.partitioner
    def part(ctx: task.PartitionerContext[Any]) -> Iterator[bytes]:
        yield b""

    with pytest.raises(TypeError, match="expected app entry point, got partitioner 'part'"):
        run_app(part, "x")
    with pytest.raises(TypeError, match="not registered by name"):
        run_app("passthrough", "x")  # type: ignore[arg-type]


# -- run_partitioner ---------------------------------------------------------------------


def test_run_partitioner_returns_chunks_in_order() -> None:
    """A custom partitioner's chunks come back in index order, payloads only."""

    @task.partitioner(chunk_metadata="footer")
    def lines(ctx: task.PartitionerContext[Any]) -> Iterator[task.NewChunk]:
        for source in ctx.sources:
            for number, line in enumerate(source.read_bytes().splitlines()):
                yield task.NewChunk(data=line, source=source.name, fields={"line": number})

    chunks = run_partitioner(lines, {"a.txt": b"one\ntwo", "b.txt": b"three"})
    assert chunks == [
        PartitionedChunk(b"one", ChunkMeta(0, 3, "a.txt", {"line": 0})),
        PartitionedChunk(b"two", ChunkMeta(1, 3, "a.txt", {"line": 1})),
        PartitionedChunk(b"three", ChunkMeta(2, 3, "b.txt", {"line": 0})),
    ]


def test_run_partitioner_and_run_assembler_give_a_shared_cache(tmp_path: Path) -> None:
    """Partitioners and assemblers get SHARED_CACHE_DIR, as the contract and simulate give
    every component: the folder passed in, else an empty one, never an unset variable."""
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "vocab.txt").write_text("v")

    @task.partitioner
    def split(ctx: task.PartitionerContext[Any]) -> Iterator[bytes]:
        yield b"|".join(sorted(p.name.encode() for p in ctx.shared_cache.iterdir()))

    @task.assembler
    def merge(ctx: task.AssemblerContext[Any]) -> None:
        names = sorted(p.name for p in ctx.shared_cache.iterdir())
        ctx.output.write_text("cache.txt", "|".join(names))

    assert run_partitioner(split, {"a": b""}) == [PartitionedChunk(b"", None)]
    chunks = run_partitioner(split, {"a": b""}, shared_cache=tmp_path / "models")
    assert chunks == [PartitionedChunk(b"vocab.txt", None)]
    assert run_assembler(merge, {}) == {"cache.txt": b""}
    output = run_assembler(merge, {}, shared_cache=tmp_path / "models")
    assert output == {"cache.txt": b"vocab.txt"}


def test_run_partitioner_warns_about_files_not_named_as_chunks() -> None:
    """A file written into CHUNKS_DIR directly under another name comes back after the
    data_<i>.bin chunks, as simulate runs it as a task, and one in a subfolder (no task) is
    left out; both are warned about, not dropped without a word."""

    @task.partitioner
    def stray(ctx: task.PartitionerContext[Any]) -> Iterator[bytes]:
        chunks_dir = ctx.settings.chunks_dir
        (chunks_dir / "extra.bin").write_bytes(b"e")
        (chunks_dir / "sub").mkdir()
        (chunks_dir / "sub" / "deep.bin").write_bytes(b"d")
        yield from (b"a", b"b")

    with pytest.warns(UserWarning) as caught:
        chunks = run_partitioner(stray, {"a": b""})
    assert [c.data for c in chunks] == [b"a", b"b", b"e"]
    assert [str(w.message) for w in caught] == [
        "run_partitioner: 'extra.bin' is not named data_<i>.bin but is a chunk too, after those",
        "run_partitioner: 'sub/deep.bin' is in a subfolder of CHUNKS_DIR, so not a chunk",
    ]


def test_passthrough_chunk_ending_in_the_footer_magic_is_read_back_whole() -> None:
    """A source file ending in the footer magic passes through with metadata off and is
    read back whole, not refused as a broken footer."""
    data = b"payload" + struct.pack("<II", 1 << 30, 0) + FOOTER_MAGIC
    chunks = run_partitioner("passthrough", {"s.bin": data}, {"chunk_metadata": "off"})
    assert chunks == [PartitionedChunk(data, None)]


def test_run_partitioner_by_builtin_name_and_params() -> None:
    """A built-in partitioner is run by registry name, with its params validated."""
    chunks = run_partitioner("replicate-fanout", {"p.txt": "hi"}, {"num_replicas": 2})
    assert [c.data for c in chunks] == [b"hi", b"hi"]
    with pytest.raises(SettingsError, match=r"PARTITIONER_PARAMS\.num_replicas"):
        run_partitioner("replicate-fanout", {"p.txt": "hi"}, {"num_replicas": 0})


def test_run_partitioner_accepts_nested_source_paths() -> None:
    """Source file names may hold folders, as downloaded sources can."""
    chunks = run_partitioner("passthrough", {"x/y/z.bin": b"deep", "top.bin": b"top"})
    assert [c.data for c in chunks] == [b"top", b"deep"]


@pytest.mark.parametrize("name", ["../escape.txt", "/abs.txt", "", "a/../../b"])
def test_run_partitioner_rejects_paths_outside_the_source(name: str) -> None:
    """A file name that would land outside SOURCE_DIR is a ValueError."""
    with pytest.raises(ValueError, match="must be a relative path"):
        run_partitioner("passthrough", {name: b"x"})


def test_run_partitioner_unknown_name_suggests() -> None:
    """A misspelt built-in name raises the registry's UnknownNameError."""
    with pytest.raises(UnknownNameError, match="did you mean 'passthrough'"):
        run_partitioner("passthru", {"a": b""})


# -- run_assembler -----------------------------------------------------------------------


def test_run_assembler_returns_the_output_files() -> None:
    """The files the assembler leaves in OUTPUT_DIR come back by name."""
    results = {"chunk-000001.o.txt": "b", "chunk-000000.o.txt": "a"}
    assert run_assembler("concat", results) == {"o.txt": b"ab"}


def test_run_assembler_with_a_custom_entry_and_params() -> None:
    """A user's assembler sees results in chunk order and its params."""

    @task.assembler
    def listing(ctx: task.AssemblerContext[Any]) -> None:
        names = [r.original for r in ctx.results]
        ctx.output.write_text(ctx.params["name"], ",".join(names))

    results = {"chunk-000001.b.txt": b"", "chunk-000002.a.txt": b"", "chunk-000000.c.txt": b""}
    output = run_assembler(listing, results, {"name": "list.txt"})
    assert output == {"list.txt": b"c.txt,b.txt,a.txt"}


def test_run_assembler_returns_files_in_output_subfolders() -> None:
    """Files an assembler leaves in a subfolder of OUTPUT_DIR, which simulate delivers,
    come back under their relative paths instead of being left out."""

    @task.assembler
    def frames(ctx: task.AssemblerContext[Any]) -> None:
        (ctx.output.dir / "frames" / "raw").mkdir(parents=True)
        for result in ctx.results:
            (ctx.output.dir / "frames" / "raw" / result.original).write_bytes(
                result.path.read_bytes()
            )
        ctx.output.write_text("index.txt", "1")

    output = run_assembler(frames, {"chunk-000000.f0.png": b"p"})
    assert output == {"frames/raw/f0.png": b"p", "index.txt": b"1"}


@pytest.mark.parametrize("name", ["sub/r.txt", "../r.txt", ""])
def test_run_assembler_results_must_be_flat(name: str) -> None:
    """Results arrive flat, so a result name with a folder is a ValueError."""
    with pytest.raises(ValueError, match="must be a plain file name"):
        run_assembler("passthrough", {name: b""})


def test_run_assembler_rejects_a_partitioner() -> None:
    """Passing an entry point of another kind is a TypeError naming both kinds."""

    @task.partitioner
    def part(ctx: task.PartitionerContext[Any]) -> Iterator[bytes]:
        yield b""

    with pytest.raises(TypeError, match="expected assembler entry point, got partitioner"):
        run_assembler(part, {})


class Aliased(BaseModel):
    model_config = ConfigDict(extra="forbid")
    api_url: str = Field(alias="apiUrl")
    depth: int = 1


def test_params_may_be_an_instance_of_the_params_model() -> None:
    """A params model instance is given to the component as JSON carries it, under the
    names validation takes (a field's alias), not refused as unserialisable."""

    @task.app(params=Aliased)
    def echo(ctx: task.AppContext[Aliased]) -> None:
        ctx.results.write_text("o.txt", f"{ctx.params.api_url} {ctx.params.depth}")

    run = run_app(echo, "x", params=Aliased(apiUrl="https://x.test", depth=3))
    assert run.results == {"o.txt": b"https://x.test 3"}
