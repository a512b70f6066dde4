"""Chunk metadata and result naming: the one place these conventions live.

The platform moves only bytes (``data_{i}.bin`` becomes a task's ``data.bin``), so what
a task knows about its chunk has to travel inside those bytes, and what an assembler
knows about a result has to travel in its name.

Chunk metadata
    :class:`ChunkMeta` holds the chunk's index, the chunk count, the source file name and
    family fields (row range, tile box, time range…). A partitioner chooses how it
    travels with ``chunk_metadata``:

    ``auto`` (default)
        inside the format's own metadata slot when the partitioner writes a format that
        has one (the chunk stays a plain, valid file); nothing otherwise.
    ``footer``
        a self-delimiting footer appended after the payload (``FOOTER_MAGIC`` below).
        The library strips it before the app sees the bytes; an app that does not use
        the library sees it, so choose it when chunks are opaque or only read by apps
        built with this library.
    ``off``
        nothing: the index comes from ``CHUNK_NUMBER`` alone.

    An app resolves its index from the metadata first, then ``CHUNK_NUMBER``; with
    neither, the index is unknown and results get a unique, unordered name.

Result names
    A result ``out.png`` written by the task of chunk 7 is named
    ``chunk-000007.out.png`` (with no index known: ``task-<8 hex>.out.png``). The marker
    is searched for anywhere in the name, so a prefix the platform adds
    (``3f9c_chunk-000007.out.png``) keeps both the index and the original name
    readable; :func:`parse_result_name` gives them back.
"""

from __future__ import annotations

import re
import secrets
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal

import orjson

__all__ = [
    "FOOTER_MAGIC",
    "META_KEY",
    "META_TEXT_PREFIX",
    "ChunkFiles",
    "ChunkMeta",
    "MetadataMode",
    "ResultName",
    "append_footer",
    "chunk_file_name",
    "chunk_files",
    "chunk_index_of",
    "parse_result_name",
    "read_footer",
    "read_meta",
    "read_slot",
    "result_name",
]

MetadataMode = Literal["auto", "footer", "off"]

FOOTER_MAGIC = b"BNCHUNK1"
# footer := json_bytes | uint32 LE length | uint32 LE crc32(json) | FOOTER_MAGIC
_TAIL = struct.Struct("<II")
_TAIL_SIZE = _TAIL.size + len(FOOTER_MAGIC)
_MAX_FOOTER_JSON = 1 << 20

_CHUNK_FILE = re.compile(r"data_([0-9]+)\.bin")
# Leading, not infix: a per-task prefix the platform may add lands before the marker,
# so everything after it is still exactly the name the app wrote. A marker starts the
# name or follows a separator ("0003_chunk-…"), never the inside of a word ("mytask-…").
_MARKER = re.compile(r"(?<![A-Za-z0-9])(?:chunk-(?P<index>\d{6,})|task-[0-9a-f]{8})\.(?=.)")


@dataclass(frozen=True, slots=True)
class ChunkMeta:
    """What travels with a chunk: its index, the chunk count, its source and family fields."""

    index: int
    count: int | None = None
    source: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        doc: dict[str, Any] = {"v": 1, "index": self.index}
        if self.count is not None:
            doc["count"] = self.count
        if self.source is not None:
            doc["source"] = self.source
        if self.fields:
            doc["fields"] = dict(self.fields)
        return orjson.dumps(doc)

    @classmethod
    def from_json(cls, raw: bytes) -> ChunkMeta:
        doc = orjson.loads(raw)
        if not isinstance(doc, dict) or type(doc.get("index")) is not int:
            raise ValueError("chunk metadata has no integer 'index'")
        # Every reader trusts these types (a count compared, a source joined into a name),
        # so metadata another tool wrote with the wrong ones is not metadata.
        for key, kind, what in (
            ("count", int, "an integer"),
            ("source", str, "a string"),
            ("fields", dict, "an object"),
        ):
            value = doc.get(key)
            if value is not None and type(value) is not kind:
                raise ValueError(f"chunk metadata's {key!r} is not {what} (got {value!r})")
        return cls(
            index=doc["index"],
            count=doc.get("count"),
            source=doc.get("source"),
            fields=doc.get("fields") or {},
        )


def chunk_file_name(index: int) -> str:
    """The name the contract requires for chunk ``index`` in ``CHUNKS_DIR``."""
    return f"data_{index}.bin"


def chunk_index_of(name: str) -> int | None:
    """The index in a ``data_{i}.bin`` name, or None for any other name."""
    match = _CHUNK_FILE.fullmatch(name)
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class ChunkFiles:
    """What a partitioner left in ``CHUNKS_DIR``, as the platform takes it."""

    tasks: list[Path]
    """Every top-level file, one task each: ``data_<i>.bin`` in index order, then any
    other by name."""
    odd: list[str]
    """The names of those tasks' files not named ``data_<i>.bin``."""
    nested: list[str]
    """Files in a subfolder (paths relative to ``CHUNKS_DIR``), which are no task."""


def chunk_files(chunks_dir: Path) -> ChunkFiles:
    """The files in ``chunks_dir`` that become tasks, and those that are odd or none."""
    tasks = [p for p in chunks_dir.iterdir() if p.is_file()]
    tasks.sort(key=lambda p: (chunk_index_of(p.name) is None, chunk_index_of(p.name) or 0, p.name))
    nested = sorted(
        p.relative_to(chunks_dir).as_posix()
        for p in chunks_dir.rglob("*")
        if p.parent != chunks_dir and p.is_file()
    )
    odd = [p.name for p in tasks if chunk_index_of(p.name) is None]
    return ChunkFiles(tasks, odd, nested)


def append_footer(stream: BinaryIO, meta: ChunkMeta) -> None:
    """Append the metadata footer at the stream's current position (its end)."""
    body = meta.to_json()
    stream.write(body + _TAIL.pack(len(body), zlib.crc32(body)) + FOOTER_MAGIC)


def read_footer(path: Path) -> tuple[ChunkMeta | None, int]:
    """Return ``(metadata, payload_size)``; ``(None, file size)`` when there is no footer.

    Eight bytes of ``FOOTER_MAGIC`` at the end are only a claim: any file may end in
    them (a result, a chunk written with ``chunk_metadata: off``). A footer counts only
    when its length is in range, its checksum matches and its JSON is chunk metadata;
    anything else is read as plain data, whole.
    """
    size = path.stat().st_size
    if size < _TAIL_SIZE:
        return None, size
    with path.open("rb") as stream:
        stream.seek(size - _TAIL_SIZE)
        tail = stream.read(_TAIL_SIZE)
        if tail[-len(FOOTER_MAGIC) :] != FOOTER_MAGIC:
            return None, size
        length, crc = _TAIL.unpack(tail[: _TAIL.size])
        start = size - _TAIL_SIZE - length
        if length > _MAX_FOOTER_JSON or start < 0:
            return None, size
        stream.seek(start)
        body = stream.read(length)
    if zlib.crc32(body) != crc:
        return None, size
    try:
        return ChunkMeta.from_json(body), start
    except (ValueError, TypeError):
        return None, size


# Formats with a metadata slot of their own, by leading magic bytes: the reader named
# here is imported only when a chunk starts with its magic, so plain chunks cost nothing.
_SLOT_READERS: tuple[tuple[bytes, str], ...] = (
    (b"PAR1", "bytenite_runtime.tables.slots:read_parquet_meta"),
    (b"ARROW1", "bytenite_runtime.tables.slots:read_arrow_meta"),
    (b"\x89PNG\r\n\x1a\n", "bytenite_runtime.images.slots:read_png_meta"),
    (b"\xff\xd8\xff", "bytenite_runtime.images.slots:read_jpeg_meta"),
    (b"RIFF", "bytenite_runtime.images.slots:read_webp_meta"),
    (b"II*\x00", "bytenite_runtime.images.slots:read_tiff_meta"),
    (b"MM\x00*", "bytenite_runtime.images.slots:read_tiff_meta"),
    (b"\x1aE\xdf\xa3", "bytenite_runtime.media.slots:read_media_meta"),  # Matroska, WebM
    (b"fLaC", "bytenite_runtime.media.slots:read_media_meta"),
    (b"OggS", "bytenite_runtime.media.slots:read_media_meta"),
    (b"ID3", "bytenite_runtime.media.slots:read_media_meta"),
)
# Magic after a size field (an ISO BMFF box, a RIFF chunk), checked first: (offset, magic).
_SLOT_READERS_AT: tuple[tuple[int, bytes, str], ...] = (
    (4, b"ftyp", "bytenite_runtime.media.slots:read_media_meta"),  # MP4, MOV, M4A
    (8, b"WAVE", "bytenite_runtime.media.slots:read_media_meta"),
)
META_KEY = "bytenite.chunk"
"""The key under which formats with a key/value metadata slot carry ``ChunkMeta`` JSON."""
META_TEXT_PREFIX = f"{META_KEY}="
"""What leads ``ChunkMeta`` JSON in a free-text slot (a PNG text chunk, a JPEG comment, a
container's ``comment`` tag), so the library's text is told apart from anyone else's."""


def read_slot(path: Path) -> ChunkMeta | None:
    """Metadata from the format's own slot (Parquet/Arrow key-value metadata…), if any."""
    import importlib

    with path.open("rb") as stream:
        head = stream.read(12)
    at = ((t, head[o : o + len(m)] == m) for o, m, t in _SLOT_READERS_AT)
    for target, matched in (*at, *((t, head.startswith(m)) for m, t in _SLOT_READERS)):
        if matched:
            module_name, _, attr = target.partition(":")
            reader = getattr(importlib.import_module(module_name), attr)
            meta: ChunkMeta | None = reader(path)
            return meta
    return None


def read_meta(path: Path) -> tuple[ChunkMeta | None, int]:
    """What a chunk carries, wherever it travels: ``(metadata, payload_size)`` from its
    footer, else from its format's slot; ``(None, file size)`` when it carries none."""
    meta, size = read_footer(path)
    return (meta, size) if meta is not None else (read_slot(path), size)


@dataclass(frozen=True, slots=True)
class ResultName:
    """A result file name taken apart: chunk index (None if unordered) and original name."""

    index: int | None
    original: str


def result_name(name: str, index: int | None) -> str:
    """``out.png`` → ``chunk-000007.out.png``; with no index, a unique unordered name."""
    if "/" in name or "\\" in name or name in {"", ".", ".."}:
        raise ValueError(f"result name {name!r} must be a plain file name")
    marked = _MARKER.match(name)
    own = marked is not None and (
        marked.group("index") is None
        if index is None
        else marked.group("index") is not None and int(marked.group("index")) == index
    )
    if own:
        return name  # already this chunk's (committed twice, or named by hand)
    # Anything else is the app's own name, even one that looks like a marker
    # ("task-20261124.log", another chunk's "chunk-000009.x"): ours goes in front.
    marker = f"chunk-{index:06d}" if index is not None else f"task-{secrets.token_hex(4)}"
    return f"{marker}.{name}"


def parse_result_name(name: str) -> ResultName:
    """Find the leftmost marker in ``name``: what precedes it (a platform prefix) is
    dropped, what follows it is the name the app wrote."""
    match = _MARKER.search(name)
    if match is None:
        return ResultName(None, name)
    index = int(match.group("index")) if match.group("index") else None
    return ResultName(index, name[match.end() :])
