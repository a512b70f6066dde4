"""Run a component in-process, in the folders the platform would mount, for your own tests.

::

    from bytenite_runtime.testing import run_app, run_assembler, run_partitioner
    from my_app.main import main

    def test_upper(tmp_path):
        run = run_app(main, "hello", params={"case": "upper"}, tmp_path=tmp_path)
        assert run.results == {"out.txt": b"HELLO"}

    def test_fanout():
        chunks = run_partitioner("replicate-fanout", {"prompt.txt": b"hi"}, {"num_replicas": 3})
        assert [c.data for c in chunks] == [b"hi"] * 3

Each helper lays out real folders, builds exactly the contract's environment for that
component (nothing from ``os.environ`` leaks in) and calls ``Entrypoint.invoke``, so bad
params or data raise the same ``ByteniteError`` a platform run would exit with.
Built-in partitioners and assemblers can be named by their registry key. What a
component logs through ``ctx.log`` reaches pytest's ``caplog`` too, secrets masked.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel

from ._log import propagating
from .chunks import ChunkMeta, append_footer, chunk_files, parse_result_name, read_meta
from .settings import (
    CHUNK_FILE,
    app_environment,
    assembler_environment,
    partitioner_environment,
    secret_environment,
    secret_value,
)
from .task import Entrypoint, entrypoint_for

__all__ = ["AppRun", "PartitionedChunk", "Secrets", "run_app", "run_assembler", "run_partitioner"]

Secrets = Mapping[str, str | tuple[str, str] | Mapping[str, str]]
"""Secret values by id: a str, or for a storage secret an ``(access_key, secret_key)`` pair
or ``{"access_key": …, "secret_key": …}`` (the shape of simulate's ``--secrets`` file)."""


@dataclass(frozen=True)
class AppRun:
    """What one app task left in ``TASK_RESULTS_DIR``.

    ``results`` maps each result's original name (chunk marker removed) to its bytes;
    ``raw_names`` are the names as the assembler would receive them, sorted;
    ``warnings`` the simulator's warnings about this task's results (an entry that is
    not a top-level file, which never reaches the assembler), each also given to
    :func:`warnings.warn`; ``raw_results`` maps the raw names to the bytes, ready for
    :func:`run_assembler` (merge the runs of several chunks into one mapping).
    """

    results: dict[str, bytes]
    raw_names: tuple[str, ...]
    warnings: tuple[str, ...] = ()
    raw_results: dict[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class PartitionedChunk:
    """One ``data_{i}.bin`` a partitioner wrote: payload (footer stripped), its metadata,
    and ``index``, the task it becomes (``i``); give it to :func:`run_app` whole."""

    data: bytes
    meta: ChunkMeta | None
    index: int = field(default=0, compare=False)


@contextmanager
def _workspace(tmp_path: Path | None) -> Iterator[Path]:
    if tmp_path is not None:
        # A fresh folder per call, so several runs can share one pytest tmp_path.
        yield Path(tempfile.mkdtemp(prefix="bytenite-", dir=tmp_path))
        return
    with tempfile.TemporaryDirectory(prefix="bytenite-") as root:
        yield Path(root)


def _folders(root: Path, *names: str) -> list[Path]:
    for name in names:
        (root / name).mkdir()
    return [root / name for name in names]


def _entry(
    kind: Literal["partitioner", "app", "assembler"], entry: Entrypoint[Any] | str
) -> Entrypoint[Any]:
    if isinstance(entry, str):
        if kind == "app":
            raise TypeError("apps are not registered by name; pass the decorated function")
        return entrypoint_for(kind, entry)
    if entry.kind != kind:
        raise TypeError(f"expected {kind} entry point, got {entry.kind} {entry.__name__!r}")
    return entry


def _write_files(folder: Path, files: Mapping[str, bytes | str], *, flat: bool) -> None:
    for name, data in files.items():
        relative = PurePosixPath(name)
        bad = relative.is_absolute() or ".." in relative.parts or name in {"", "."}
        if bad or (flat and len(relative.parts) != 1):
            where = "a plain file name" if flat else "a relative path without '..'"
            raise ValueError(f"file name {name!r} must be {where}")
        path = folder.joinpath(*relative.parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)


def _secret_environment(secrets: Secrets | None) -> dict[str, str]:
    values: dict[str, str | tuple[str, str]] = {}
    for secret_id, value in (secrets or {}).items():
        stored: str | tuple[str, str] | None
        if isinstance(value, tuple | list):
            pair = tuple(value)
            stored = pair if len(pair) == 2 and all(isinstance(v, str) for v in pair) else None
        else:
            stored = secret_value(value)  # a str, or simulate's --secrets file shape
        if stored is None:
            # Naming the type only: the value is the secret.
            raise TypeError(
                f"secrets[{secret_id!r}]: expected a str, an (access_key, secret_key) pair of "
                f'str or {{"access_key": …, "secret_key": …}}, got {type(value).__name__} '
                "(value hidden)"
            )
        values[secret_id] = stored
    return secret_environment(values)


def _read_flat(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def run_app(
    entry: Entrypoint[Any],
    chunk: bytes | str | PartitionedChunk,
    *,
    params: Mapping[str, Any] | BaseModel | None = None,
    chunk_number: int | Literal["auto"] | None = "auto",
    secrets: Secrets | None = None,
    chunk_meta: ChunkMeta | None = None,
    shared_cache: Path | None = None,
    tmp_path: Path | None = None,
) -> AppRun:
    """Run an app on one chunk and return what it wrote.

    ``params`` is a mapping, as ``APP_PARAMS`` holds it, or an instance of the app's params
    model (so are the other helpers'); ``chunk_number`` becomes ``CHUNK_NUMBER`` (None
    leaves it unset, as on a platform that does not send it; ``"auto"``, the default, is
    the index of the chunk's metadata, ``chunk_meta`` or what ``chunk`` carries in its
    format's slot, else 0);
    ``chunk_meta`` is appended to the chunk as a footer, as a built-in partitioner with
    ``chunk_metadata="footer"`` would; ``shared_cache`` is the folder given as
    ``SHARED_CACHE_DIR`` (an empty one by default). A chunk :func:`run_partitioner`
    returned is run as its task would be: its metadata with it, and ``"auto"`` its
    ``index``, so runs over several chunks give results that do not share names.
    """
    app = _entry("app", entry)
    stripped: ChunkMeta | None = None
    if isinstance(chunk, PartitionedChunk):
        # Without its index every chunk would be task 0 (a chunk whose partitioner wrote no
        # metadata, or whose footer run_partitioner stripped), and merging the runs' raw
        # results would keep one chunk's alone.
        if chunk_number == "auto":
            chunk_number = chunk.index
        stripped = chunk.meta
        chunk = chunk.data
    with _workspace(tmp_path) as root:
        task_dir, results_dir, user_cache, empty_cache = _folders(
            root, "task", "results", "user-cache", "shared-cache"
        )
        with (task_dir / CHUNK_FILE).open("wb") as stream:
            stream.write(chunk.encode() if isinstance(chunk, str) else chunk)
            if chunk_meta is not None:
                append_footer(stream, chunk_meta)
        # Metadata a format slot holds is in the payload still; a footer's was cut off.
        if (
            chunk_meta is None
            and stripped is not None
            and read_meta(task_dir / CHUNK_FILE)[0] is None
        ):
            with (task_dir / CHUNK_FILE).open("ab") as stream:
                append_footer(stream, stripped)
        if chunk_number == "auto":
            # The platform's task i gets data_i.bin, so CHUNK_NUMBER is the index the chunk's
            # own metadata names (a footer, or a format slot such as a tile's PNG text); any
            # other number would be warned about as a mismatch.
            meta = chunk_meta or read_meta(task_dir / CHUNK_FILE)[0]
            chunk_number = meta.index if meta is not None else 0
        shared = shared_cache or empty_cache
        env = app_environment(task_dir, results_dir, params or {}, user_cache, shared, chunk_number)
        env.update(_secret_environment(secrets))
        with propagating():
            app.invoke(env)
        raw = _read_flat(results_dir)
        # The platform collects top-level files only, as the simulator does: a folder
        # (or a link to one) would be lost without a word, so it is warned about as there.
        dropped = tuple(
            f"{entry.name!r} is not a file; only top-level files are results"
            for entry in sorted(results_dir.iterdir())
            if not entry.is_file()
        )
    for message in dropped:
        warnings.warn(f"run_app: {message}", UserWarning, stacklevel=2)
    results = {parse_result_name(name).original: data for name, data in raw.items()}
    return AppRun(results, tuple(raw), dropped, raw)


def run_partitioner(
    entry: Entrypoint[Any] | str,
    files: Mapping[str, bytes | str],
    params: Mapping[str, Any] | BaseModel | None = None,
    *,
    secrets: Secrets | None = None,
    shared_cache: Path | None = None,
    tmp_path: Path | None = None,
) -> list[PartitionedChunk]:
    """Run a partitioner (an entry point or a built-in's name) over ``files``.

    ``files`` maps relative paths inside ``SOURCE_DIR`` to their bytes; the chunks come
    back in index order, payload without any footer, with the metadata the chunk carries
    (footer or format slot). ``shared_cache`` is as for :func:`run_app`. A file the
    partitioner wrote into ``CHUNKS_DIR`` itself under another name than ``data_<i>.bin``
    comes back after those (simulate runs it as a task too), one in a subfolder of it not
    at all (it is no task); both are warned about with :func:`warnings.warn`.
    """
    partitioner = _entry("partitioner", entry)
    with _workspace(tmp_path) as root:
        source_dir, chunks_dir, empty_cache = _folders(root, "source", "chunks", "shared-cache")
        _write_files(source_dir, files, flat=False)
        shared = shared_cache or empty_cache
        env = partitioner_environment(source_dir, chunks_dir, params or {}, shared)
        env.update(_secret_environment(secrets))
        with propagating():
            partitioner.invoke(env)
        # Every top-level file becomes a task on the platform, data_<i>.bin in index order
        # and, as simulate runs them, any other after; files in a subfolder become none.
        # Either is warned about, as simulate warns, not dropped without a word.
        found = chunk_files(chunks_dir)
        chunks: list[PartitionedChunk] = []
        for path in found.tasks:
            meta, size = read_meta(path)
            chunks.append(PartitionedChunk(path.read_bytes()[:size], meta, len(chunks)))
    notes = [
        f"{name!r} is not named data_<i>.bin but is a chunk too, after those" for name in found.odd
    ]
    notes += [f"{name!r} is in a subfolder of CHUNKS_DIR, so not a chunk" for name in found.nested]
    for note in notes:
        warnings.warn(f"run_partitioner: {note}", UserWarning, stacklevel=2)
    return chunks


def run_assembler(
    entry: Entrypoint[Any] | str,
    results: Mapping[str, bytes | str],
    params: Mapping[str, Any] | BaseModel | None = None,
    *,
    secrets: Secrets | None = None,
    shared_cache: Path | None = None,
    tmp_path: Path | None = None,
) -> dict[str, bytes]:
    """Run an assembler (an entry point or a built-in's name) over task results.

    ``results`` maps flat result names, as tasks write them (``chunk-000003.out.txt``),
    to their bytes; returns every file left in ``OUTPUT_DIR``, as the destination gets
    them, by its path there (``frames/0001.png`` for one in a subfolder). ``shared_cache``
    is as for :func:`run_app`.
    """
    assembler = _entry("assembler", entry)
    with _workspace(tmp_path) as root:
        results_dir, output_dir, empty_cache = _folders(root, "results", "output", "shared-cache")
        _write_files(results_dir, results, flat=True)
        shared = shared_cache or empty_cache
        env = assembler_environment(results_dir, output_dir, params or {}, shared)
        env.update(_secret_environment(secrets))
        with propagating():
            assembler.invoke(env)
        # The platform uploads the output folder whole, subfolders too, as simulate delivers it.
        return {
            path.relative_to(output_dir).as_posix(): path.read_bytes()
            for path in sorted(output_dir.rglob("*"))
            if path.is_file()
        }
