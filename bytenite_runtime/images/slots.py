"""Chunk metadata inside an image file's own metadata slot, read without Pillow.

Where ``ChunkMeta`` travels in each format (``META_KEY`` is ``bytenite.chunk``):

======  ======================================================================
PNG     a ``tEXt`` chunk (``iTXt``/``zTXt`` also read) with keyword ``META_KEY``
JPEG    a ``COM`` segment ``META_KEY=<json>``
WebP    an ``XMP`` chunk whose ``rdf:Description`` has ``bytenite:chunk="<json>"``
TIFF    the first IFD's ``ImageDescription`` (tag 270): ``META_KEY=<json>``
======  ======================================================================

The JSON is ASCII (non-ASCII escaped), so every slot holds it unchanged. The tile stays
a plain image: any viewer or library opens it and ignores the slot.

``chunks.read_slot`` calls the readers for any chunk or result that starts with the
format's magic bytes, so they only walk headers (seeking over pixel data) and never
judge the payload: a file that only looks like an image, or is damaged, carries no
metadata here and the app or assembler that decodes it meets the damage. Only a value
under ``META_KEY`` that is present but not valid metadata is an error.
"""

from __future__ import annotations

import functools
import html
import json
import re
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from ..chunks import META_KEY, META_TEXT_PREFIX, ChunkMeta
from ..errors import DataError

__all__ = [
    "meta_text",
    "read_jpeg_meta",
    "read_png_meta",
    "read_tiff_meta",
    "read_webp_meta",
    "xmp_packet",
]

_PREFIX_BYTES = META_TEXT_PREFIX.encode()

_MAX_SLOT = 1 << 20
_MAX_STEPS = 4096
_XMP_ATTR = re.compile(rb'bytenite:chunk="([^"]*)"')


def meta_text(meta: ChunkMeta) -> str:
    """``meta`` as ASCII JSON, the same document ``ChunkMeta.to_json`` gives."""
    return json.dumps(json.loads(meta.to_json()), ensure_ascii=True, separators=(",", ":"))


def xmp_packet(meta: ChunkMeta) -> bytes:
    """An XMP packet holding ``meta`` as the ``bytenite:chunk`` attribute."""
    value = html.escape(meta_text(meta), quote=True)
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:bytenite="https://bytenite.com/ns/chunk/1/" '
        f'bytenite:chunk="{value}"/></rdf:RDF></x:xmpmeta>'
    ).encode("ascii")


def _decode(path: Path, raw: bytes) -> ChunkMeta:
    try:
        return ChunkMeta.from_json(raw)
    except (ValueError, TypeError) as exc:
        raise DataError(f"{path.name}: metadata under {META_KEY!r} is not valid ({exc})") from None


def _no_meta_on_damage(
    read: Callable[[Path], ChunkMeta | None],
) -> Callable[[Path], ChunkMeta | None]:
    """``read``, with a file it cannot walk (unreadable, truncated, a broken length or
    deflate stream) read as carrying no metadata, as the module docstring says."""

    @functools.wraps(read)
    def walk(path: Path) -> ChunkMeta | None:
        try:
            return read(path)
        except (OSError, struct.error, zlib.error, UnicodeDecodeError):
            return None

    return walk


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    data = stream.read(size)
    return data if len(data) == size else None


def _png_text(kind: bytes, body: bytes) -> bytes | None:
    keyword, sep, rest = body.partition(b"\0")
    if not sep or keyword != META_KEY.encode():
        return None
    if kind == b"tEXt":
        return rest
    if kind == b"zTXt":
        return zlib.decompress(rest[1:], bufsize=_MAX_SLOT)
    # iTXt: compression flag, method, language\0, translated keyword\0, text
    if len(rest) < 2:
        return None
    compressed, tail = rest[0], rest[2:]
    parts = tail.split(b"\0", 2)
    if len(parts) != 3:
        return None
    return zlib.decompress(parts[2]) if compressed else parts[2]


@_no_meta_on_damage
def read_png_meta(path: Path) -> ChunkMeta | None:
    """The chunk metadata in a PNG's text chunks before the first ``IDAT``, or None."""
    with path.open("rb") as stream:
        stream.seek(8)
        for _ in range(_MAX_STEPS):
            header = _read_exactly(stream, 8)
            if header is None:
                return None
            length, kind = struct.unpack(">I4s", header)
            if kind in (b"IDAT", b"IEND"):
                return None
            if kind in (b"tEXt", b"zTXt", b"iTXt") and length <= _MAX_SLOT:
                body = _read_exactly(stream, length)
                text = _png_text(kind, body) if body is not None else None
                if text is not None:
                    return _decode(path, text)
                stream.seek(4, 1)
            else:
                stream.seek(length + 4, 1)
    return None


@_no_meta_on_damage
def read_jpeg_meta(path: Path) -> ChunkMeta | None:
    """The chunk metadata in a JPEG's ``COM`` segments before the scan data, or None."""
    with path.open("rb") as stream:
        stream.seek(2)
        for _ in range(_MAX_STEPS):
            byte = stream.read(1)
            if byte != b"\xff":
                return None
            marker = stream.read(1)
            while marker == b"\xff":
                marker = stream.read(1)
            if not marker or marker in (b"\xda", b"\xd9"):
                return None
            if marker == b"\x01" or b"\xd0" <= marker <= b"\xd7":
                continue
            size_bytes = _read_exactly(stream, 2)
            if size_bytes is None:
                return None
            size = struct.unpack(">H", size_bytes)[0] - 2
            if marker == b"\xfe":
                body = _read_exactly(stream, size)
                if body is not None and body.startswith(_PREFIX_BYTES):
                    return _decode(path, body[len(_PREFIX_BYTES) :])
            else:
                stream.seek(size, 1)
    return None


@_no_meta_on_damage
def read_webp_meta(path: Path) -> ChunkMeta | None:
    """The chunk metadata in a WebP's ``XMP`` chunk, or None."""
    with path.open("rb") as stream:
        head = _read_exactly(stream, 12)
        if head is None or head[8:12] != b"WEBP":
            return None
        for _ in range(_MAX_STEPS):
            header = _read_exactly(stream, 8)
            if header is None:
                return None
            kind, length = struct.unpack("<4sI", header)
            if kind == b"XMP " and length <= _MAX_SLOT:
                body = _read_exactly(stream, length)
                match = _XMP_ATTR.search(body or b"")
                if match:
                    return _decode(path, html.unescape(match.group(1).decode("ascii")).encode())
                return None
            stream.seek(length + (length & 1), 1)
    return None


@_no_meta_on_damage
def read_tiff_meta(path: Path) -> ChunkMeta | None:
    """The chunk metadata in a TIFF's first ``ImageDescription``, or None."""
    with path.open("rb") as stream:
        head = _read_exactly(stream, 8)
        if head is None:
            return None
        order = "<" if head[:2] == b"II" else ">"
        (ifd,) = struct.unpack(order + "I", head[4:8])
        stream.seek(ifd)
        count_bytes = _read_exactly(stream, 2)
        if count_bytes is None:
            return None
        (count,) = struct.unpack(order + "H", count_bytes)
        for _ in range(min(count, _MAX_STEPS)):
            entry = _read_exactly(stream, 12)
            if entry is None:
                return None
            tag, _type, length = struct.unpack(order + "HHI", entry[:8])
            if tag != 270:
                continue
            if length <= 4:
                body = entry[8 : 8 + length]
            elif length <= _MAX_SLOT:
                (offset,) = struct.unpack(order + "I", entry[8:])
                stream.seek(offset)
                body = stream.read(length)
            else:
                return None
            body = body.rstrip(b"\0")
            return (
                _decode(path, body[len(_PREFIX_BYTES) :])
                if body.startswith(_PREFIX_BYTES)
                else None
            )
    return None
