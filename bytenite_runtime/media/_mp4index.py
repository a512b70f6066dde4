"""An MP4/MOV file's packets as the demuxer would give them, read from its index.

Demuxing reads every byte of the file (776 MB for a minute of mezzanine video), but
libavformat's MP4 demuxer builds its whole index when it opens the file: each packet's
decode time, size, position and keyframe and edit-list flags, and what it would give
out is that index in order. Only the presentation time is missing (decode time plus the
``ctts`` offset of the sample at that position), so the sample tables are read here
(``ctts``, and ``stts`` for the durations). Anything this module does not follow exactly
(fragments, negative or huge ``ctts`` offsets, a packet that is no sample of the table)
gives None, and the caller demuxes; and the stretch from the last video keyframe is
demuxed all the same, to check every field against what the demuxer gives.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from typing import Any, BinaryIO, NamedTuple

__all__ = ["Moov", "Record", "iter_boxes", "read_moov", "records_from_index"]


class Record(NamedTuple):
    """What the probe reads of one packet, by the names a PyAV packet gives it."""

    stream_index: int
    pts: int
    dts: int
    duration: int
    size: int
    is_keyframe: bool
    is_discard: bool
    time_base: Any


_CONTAINERS = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl"})
# libavformat drops a ctts it finds implausible (an offset of 2^28 or more) and shifts
# decode times for negative offsets (ctts version 1, cslg): left to the demuxer.
_CTTS_LIMIT = 1 << 28
# A moov of hours of video is a few MB; more is a damaged size, not worth reading.
_MOOV_LIMIT = 256 << 20


def iter_boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """``(type, payload start, payload end)`` of the boxes in ``data[start:end]``."""
    at = start
    while at + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, at)
        head = 8
        if size == 1:
            if at + 16 > end:
                raise ValueError("truncated box")
            (size,) = struct.unpack_from(">Q", data, at + 8)
            head = 16
        elif size == 0:
            size = end - at
        if size < head or at + size > end:
            raise ValueError("bad box size")
        yield kind, at + head, at + size
        at += size


def moov_of(stream: BinaryIO, length: int) -> bytes | None:
    """The ``moov`` box of an unfragmented file, or None."""
    at, moov = 0, None
    while at + 8 <= length:
        stream.seek(at)
        head = stream.read(16)
        size, kind = struct.unpack_from(">I4s", head)
        if size == 1:
            (size,) = struct.unpack_from(">Q", head, 8)
        elif size == 0:
            size = length - at
        if size < 8:
            return None
        if kind == b"moof" or (kind == b"moov" and moov is not None):
            return None
        if kind == b"moov":
            if size > _MOOV_LIMIT:
                return None
            stream.seek(at)
            moov = stream.read(size)
        at += size
    return moov


class _Track(NamedTuple):
    track_id: int
    samples: dict[int, tuple[int, int, int]]
    """``(composition offset, duration, size)`` of each sample, by its position."""


def _expand(data: bytes, box: tuple[int, int], signed: bool, samples: int) -> list[int] | None:
    """An ``stts`` or ``ctts`` table, one value per sample; None unless it covers exactly
    ``samples`` samples."""
    a, _ = box
    (count,) = struct.unpack_from(">I", data, a + 4)
    pairs = struct.unpack_from(f">{2 * count}{'i' if signed else 'I'}", data, a + 8)
    values: list[int] = []
    for n in range(0, len(pairs), 2):
        # A damaged count (billions) must not be expanded before it is found out.
        if len(values) + pairs[n] > samples:
            return None
        values += [pairs[n + 1]] * pairs[n]
    return values if len(values) == samples else None


def _track(data: bytes, start: int, end: int, wanted: dict[int, int]) -> _Track | None:
    """The track's samples, if it is one of ``wanted`` (track id: index entries); an
    empty one if not."""
    boxes: dict[bytes, tuple[int, int]] = {}

    def walk(lo: int, hi: int) -> None:
        for kind, a, b in iter_boxes(data, lo, hi):
            if kind in _CONTAINERS:
                walk(a, b)
            elif kind not in boxes:
                boxes[kind] = (a, b)

    walk(start, end)
    if any(k not in boxes for k in (b"tkhd", b"stts", b"stsz", b"stsc")) or b"cslg" in boxes:
        return None
    a, _ = boxes[b"tkhd"]
    track_id = struct.unpack_from(">I", data, a + (20 if data[a] == 1 else 12))[0]
    if track_id not in wanted:
        return _Track(track_id, {})
    a, _ = boxes[b"stsz"]
    (count,) = struct.unpack_from(">I", data, a + 8)
    # Far more samples than packets: the demuxer groups them (MOV's PCM), which this
    # module does not follow; a sample table that size would only be read in vain.
    if count > 2 * wanted[track_id] + 16:
        return None
    found = _positions(data, boxes)
    if found is None:
        return None
    positions, sizes = found
    durations = _expand(data, boxes[b"stts"], False, len(positions))
    if b"ctts" in boxes:
        ctts = boxes[b"ctts"]
        offsets = _expand(data, ctts, data[ctts[0]] == 1, len(positions))
        if offsets is None or any(not 0 <= o < _CTTS_LIMIT for o in offsets):
            return None
    else:
        offsets = [0] * len(positions)
    if durations is None:
        return None
    samples = dict(zip(positions, zip(offsets, durations, sizes, strict=True), strict=True))
    # Two samples at one position (empty ones) cannot be told apart.
    return _Track(track_id, samples) if len(samples) == len(positions) else None


def _positions(
    data: bytes, boxes: dict[bytes, tuple[int, int]]
) -> tuple[list[int], list[int]] | None:
    """Each sample's position in the file and size, from ``stsz``, ``stsc`` and
    ``stco``/``co64``."""
    a, _ = boxes[b"stsz"]
    uniform, count = struct.unpack_from(">II", data, a + 4)
    sizes = [uniform] * count if uniform else list(struct.unpack_from(f">{count}I", data, a + 12))
    if b"stco" in boxes:
        a, _ = boxes[b"stco"]
        (chunks,) = struct.unpack_from(">I", data, a + 4)
        starts = struct.unpack_from(f">{chunks}I", data, a + 8)
    elif b"co64" in boxes:
        a, _ = boxes[b"co64"]
        (chunks,) = struct.unpack_from(">I", data, a + 4)
        starts = struct.unpack_from(f">{chunks}Q", data, a + 8)
    else:
        return None
    a, _ = boxes[b"stsc"]
    (runs,) = struct.unpack_from(">I", data, a + 4)
    table = struct.unpack_from(f">{3 * runs}I", data, a + 8)
    positions: list[int] = []
    sample = 0
    for r in range(runs):
        first, per_chunk = table[3 * r], table[3 * r + 1]
        last = table[3 * (r + 1)] - 1 if r + 1 < runs else chunks
        if first < 1 or last > chunks:
            return None
        for chunk in range(first - 1, last):
            at = starts[chunk]
            for size in sizes[sample : sample + per_chunk]:
                positions.append(at)
                at += size
            sample += per_chunk
    return (positions, sizes) if sample == count else None


class Moov(NamedTuple):
    """An MP4/MOV file's ``moov`` box, read once for the index and the rotation."""

    data: bytes
    file_size: int


def read_moov(path: str) -> Moov | None:
    """The ``moov`` box of the file at ``path``, or None for a fragmented, damaged or
    unreadable one."""
    try:
        with open(path, "rb") as stream:  # noqa: PTH123 (a str from PyAV's side)
            size = os.fstat(stream.fileno()).st_size
            data = moov_of(stream, size)
    except (OSError, ValueError, struct.error):
        return None
    return None if data is None else Moov(data, size)


def _tracks(moov: bytes, wanted: dict[int, int]) -> dict[int, _Track] | None:
    """The wanted tracks' samples."""
    tracks: dict[int, _Track] = {}
    for kind, a, b in iter_boxes(moov, 8, len(moov)):
        if kind == b"mvex":
            return None
        if kind == b"trak":
            track = _track(moov, a, b, wanted)
            if track is None:
                return None
            tracks[track.track_id] = track
    return tracks


def records_from_index(
    container: Any, moov: Moov | None, streams: list[Any]
) -> list[Record] | None:
    """Every packet of ``streams`` (stream by stream, each in decode order) as the
    demuxer gives it out, or None where the index cannot say for sure."""
    # Older PyAV releases do not expose the index.
    if moov is None or not all(hasattr(s, "index_entries") for s in streams):
        return None
    try:
        tracks = _tracks(moov.data, {s.id: len(s.index_entries) for s in streams})
    except (ValueError, struct.error):
        return None
    if tracks is None:
        return None
    size = moov.file_size
    records: list[Record] = []
    tail_from: int | None = None
    for stream in streams:
        track = tracks.get(stream.id)
        entries = stream.index_entries
        if track is None or not len(entries):
            return None
        index, time_base = stream.index, stream.time_base
        samples = track.samples
        for entry in entries:
            pos, length = entry.pos, entry.size
            sample = samples.get(pos)
            # A demuxer's packet of several samples (MOV's PCM) is no sample of the table.
            if sample is None or sample[2] != length or pos + length > size:
                return None
            dts, flags = entry.timestamp, entry.flags
            records.append(
                Record(
                    index, dts + sample[0], dts, sample[1], length, bool(flags & 1),
                    bool(flags & 2), time_base,
                )
            )  # fmt: skip
            if flags & 1 and stream.type == "video":
                tail_from = dts
    if tail_from is None or not _tail_agrees(container, streams, records, tail_from):
        return None
    return records


def _tail_agrees(container: Any, streams: list[Any], records: list[Record], dts: int) -> bool:
    """Whether the packets demuxed from the last video keyframe on (to the last of each
    stream) are the records, field for field."""
    video = next(s for s in streams if s.type == "video")
    by_position: dict[tuple[int, int], int] = {}
    at = 0
    for stream in streams:
        for entry in stream.index_entries:
            by_position[stream.index, entry.pos] = at
            at += 1
    container.seek(dts, backward=True, any_frame=False, stream=video)
    last = {r.stream_index: n for n, r in enumerate(records)}
    for packet in container.demux(streams):
        if packet.size == 0 and packet.pts is None:
            continue
        n = by_position.get((packet.stream_index, packet.pos))
        if n is None:
            return False
        record = records[n]
        got = (
            packet.pts, packet.dts, packet.duration or 0, packet.size, packet.is_keyframe,
            packet.is_discard,
        )  # fmt: skip
        if got != record[1:7]:
            return False
        if last.get(record.stream_index) == n:
            del last[record.stream_index]
    return not last
