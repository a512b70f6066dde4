"""Streams, durations, frame times and keyframes of a media file, read with PyAV.

Packets are demuxed, never decoded: a 60 s 720p clip probes in tens of milliseconds,
and no ffprobe is needed. An MP4/MOV file with video is read from its index instead
(:mod:`._mp4index`: the same packets, but for the last keyframe's stretch without
reading their bytes; a 776 MB mezzanine probes in ~25 ms, not ~75).

Counts follow what a decoder gives out, as far as packets tell: one video packet is one
frame, and audio samples are the span of the packets; packets an MP4/MOV edit list hides
(a stream-copy cut's lead-in, AAC priming) count for neither. Other containers trim
priming and padding inside a packet, which packets do not show: joins are checked to
within one audio frame.
"""

from __future__ import annotations

import contextlib
import statistics
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from ..errors import DataError
from ._mp4index import Moov, read_moov, records_from_index
from ._rotation import display_rotation
from ._scan import (
    PacketScan,
    format_name_of,
    is_cover,
    layout_name,
    opening_of,
    pcm_unit,
)
from ._tracks import AudioTrack, MediaInfo, VideoTrack, is_indexed

__all__ = [
    "AudioTrack",
    "MediaInfo",
    "VideoTrack",
    "changed",
    "container_tags",
    "describe",
    "first_sample_time",
    "open_media",
    "probe",
    "stamp",
]


# PyAV < 19 decodes tags strictly unless told to ignore bytes that are not UTF-8; PyAV 19
# dropped the option and decodes them with "surrogateescape" (dropped in container_tags).
_OPEN_OPTIONS: dict[str, Any] = (
    {"metadata_errors": "ignore"} if int(av.__version__.split(".")[0]) < 19 else {}
)


def stamp(path: Path) -> tuple[int, int, int]:
    """What tells that a file changed under its reader: its inode, size and modified time."""
    st = path.stat()
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def changed(path: Path, seen: tuple[int, int, int]) -> str:
    """How ``path`` changed since :func:`stamp` gave ``seen``; "" when it did not."""
    try:
        now = stamp(path)
    except OSError as exc:
        return f"it is gone ({exc.strerror})"
    if now[0] != seen[0]:
        return "it was replaced"
    if now[1] != seen[1]:
        return f"its size went from {seen[1]} to {now[1]} bytes"
    return "it was modified" if now != seen else ""


def open_media(path: Path) -> Any:
    """``av.open`` with its errors turned into a one-line DataError naming the file."""
    with contextlib.suppress(OSError):
        if path.stat().st_size == 0:
            # An app that crashed after creating its output: ffmpeg's "Invalid data" hid it.
            raise DataError(f"{path.name}: empty file (0 bytes), not media")
    try:
        # Absolute: ffmpeg reads a relative 'http:x.mp4' or 'concat:a' as a protocol.
        return av.open(str(path.absolute()), **_OPEN_OPTIONS)
    except (av.FFmpegError, UnicodeDecodeError) as exc:
        raise DataError(f"{path.name}: not a readable media file ({_reason(exc)})") from None


def container_tags(container: Any) -> dict[str, str]:
    """The container's global tags over its streams' (Ogg keeps Vorbis comments on the
    stream): where a chunk's ``comment`` slot is found, whatever the format."""
    tags: dict[str, str] = {}
    # The first stream's tag wins over a later stream's, the container's over all.
    for stream in list(container.streams)[::-1]:
        tags.update(stream.metadata)
    tags.update(container.metadata)
    return {_utf8(k): _utf8(v) for k, v in tags.items()}


def _utf8(text: str) -> str:
    """``text`` without the bytes that were not UTF-8 (PyAV 19 keeps them as surrogates)."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "ignore")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, av.FFmpegError):
        return str(exc.strerror or exc).rstrip(".")
    return str(exc)


def _known_codec(path: Path, stream: Any) -> str:
    name = str(stream.codec_context.name if stream.codec_context else "none")
    if name in {"", "none"}:
        raise DataError(f"{path.name}: stream {stream.index} ({stream.type}): unknown codec")
    return name


def _scan_index(
    container: Any, moov: Moov | None, wanted: list[Any], video_index: int, pcm: tuple[int, float]
) -> PacketScan | None:
    """The scan of an MP4/MOV file from its index (see :mod:`._mp4index`), or None
    where the index cannot say for sure."""
    try:
        records = records_from_index(container, moov, wanted)
    except av.FFmpegError:
        return None
    scan = PacketScan.of(records, video_index, pcm) if records is not None else None
    # Which stream's disorder comes first is a matter of demux (interleaved) order.
    return scan if scan is not None and scan.disorder is None else None


def probe(path: Path) -> MediaInfo:
    """Demux ``path`` once and describe its first video and first audio stream.

    A file ffmpeg cannot open, with neither stream, with an unknown codec or with a
    stream that yields no packet is a DataError naming the file; but an audio stream
    without a packet beside a video is no audio (Matroska keeps the empty track of a
    chunk cut after its source's audio ended, which an app's output may carry on).
    """
    with open_media(path) as container:
        # Absolute, as every ffmpeg command is given it (see open_media).
        return describe(path.absolute(), container)


def describe(path: Path, container: Any) -> MediaInfo:
    """:func:`probe` of ``path`` opened as ``container`` (by :func:`open_media`), which
    is left open, at no particular packet: a caller that demuxes it seeks first."""
    videos = [s for s in container.streams if s.type == "video" and not is_cover(s)]
    audios = [s for s in container.streams if s.type == "audio"]
    if not videos and not audios:
        raise DataError(f"{path.name}: no video or audio stream")
    vstream = videos[0] if videos else None
    astream = audios[0] if audios else None
    left_out = tuple(
        f"stream {s.index} ({s.type})"
        for s in container.streams
        if s.type in {"video", "audio", "subtitle"}
        and s is not vstream
        and s is not astream
        and not is_cover(s)
    )
    vcodec = _known_codec(path, vstream) if vstream is not None else ""
    acodec = _known_codec(path, astream) if astream is not None else ""
    wanted = [s for s in (vstream, astream) if s is not None]
    video_index = vstream.index if vstream is not None else -1
    pcm = pcm_unit(astream, acodec)
    indexed = vstream is not None and is_indexed(container.format.name)
    moov = read_moov(str(path)) if indexed else None
    scan = _scan_index(container, moov, wanted, video_index, pcm) if indexed else None
    if scan is None:
        with contextlib.ExitStack() as stack:
            source = container
            if indexed:
                # The index's check seeked: a fresh open starts at the first packet,
                # edit list or not.
                source = stack.enter_context(open_media(path))
            streams = [source.streams[s.index] for s in wanted]
            try:
                scan = PacketScan.of(source.demux(streams), video_index, pcm)
            except av.FFmpegError as exc:
                raise DataError(f"{path.name}: damaged media ({_reason(exc)})") from None
    frame_pts, key_pts, keyed = scan.frame_pts, scan.key_pts, scan.keyed
    last_duration, audio_packets = scan.last_duration, scan.audio_packets
    first_audio, last_audio, disorder = scan.first_audio, scan.last_audio, scan.disorder
    fmt = str(container.format.name)
    tags = container_tags(container)
    declared = container.duration / 1_000_000 if container.duration else None
    container_start = container.start_time / 1_000_000 if container.start_time else 0.0
    video = audio = None
    if vstream is not None:
        if not frame_pts and scan.untimed:
            raise DataError(
                f"{path.name}: video stream {vstream.index} has no timestamps (a raw "
                f"{vcodec} stream carries none): put it in a container first, e.g. "
                f"ffmpeg -i {path.name} -c copy {path.stem}.mkv"
            )
        if not frame_pts:
            raise DataError(f"{path.name}: video stream {vstream.index} has no frames")
        if not vstream.codec_context.width or not vstream.codec_context.height:
            # Bytes that only open like an image (a PNG signature before garbage): copied,
            # the muxer refused them with EINVAL; re-encoded, no keyframe was found.
            raise DataError(
                f"{path.name}: video stream {vstream.index} ({vcodec}) has no picture size: "
                "its frames cannot be read (damaged, or not a video)"
            )
        decode_pts = tuple(frame_pts)
        frame_pts.sort()
        if not last_duration and len(frame_pts) > 1:
            last_duration = frame_pts[-1] - frame_pts[-2]
        video = VideoTrack(
            vstream.index, vcodec, int(vstream.codec_context.width or 0),
            int(vstream.codec_context.height or 0), Fraction(vstream.time_base),
            tuple(frame_pts), decode_pts, tuple(sorted(key_pts)), last_duration,
            tuple(sorted(scan.hidden)), opening_of(decode_pts, key_pts),
            # Without any keyframe flag (some raw streams) no frame can be told an orphan.
            tuple(sorted(scan.orphans)) if keyed else (), format_name_of(vstream),
            bytes(vstream.codec_context.extradata or b""),
            display_rotation(moov.data, vstream.index) if moov is not None else 0,
        )  # fmt: skip
    if astream is not None and first_audio is None and video is not None:
        astream = None
    if astream is not None:
        rate = int(astream.codec_context.sample_rate or 0)
        if first_audio is None or not rate:
            raise DataError(f"{path.name}: audio stream {astream.index} has no samples")
        tb = Fraction(astream.time_base)
        typical = statistics.median(d for _, d in audio_packets)
        # The span, not the sum of durations: in a millisecond time base (Matroska)
        # every AAC packet's 21.333 ms is rounded, and the sum drifts by 0.3 ms a packet.
        span = last_audio - min(p for p, _ in audio_packets)
        audio = AudioTrack(
            astream.index, acodec, rate, int(astream.codec_context.channels or 0), tb,
            float(first_audio * tb), round(span * tb * rate), round(typical * tb * rate),
            tuple(audio_packets), layout_name(astream), format_name_of(astream),
            bytes(astream.codec_context.extradata or b""),
        )  # fmt: skip
    info = MediaInfo(path, fmt, video, audio, disorder, container_start, left_out, tags)
    # A file cut short still demuxes (Matroska, MPEG-TS): its header knows better. Some
    # muxers write the end time as the duration (Matroska after -output_ts_offset 10 says
    # 14 s for 4 s from 10 s): short of both the span and the end time is truncated.
    length = info.duration
    end = max(t.end for t in (video, audio) if t is not None)
    if (
        declared is not None
        and declared - max(length, end) > _TRUNCATED_SLACK
        and declared - max(length, end, _others_end(path, wanted)) > _TRUNCATED_SLACK
    ):
        raise DataError(
            f"{path.name}: truncated: streams stop at {length:.3f} s but the "
            f"header says {declared:.3f} s"
        )
    return info


_TRUNCATED_SLACK = 0.5


def _others_end(path: Path, wanted: list[Any]) -> float:
    """Seconds where the streams a probe passes over end (a longer second audio track, a
    subtitle shown past the last frame): the header's duration covers them too, so a file
    they outlast is not truncated. Read only where the header says more than the probe."""
    passed = {s.index for s in wanted}
    end = 0.0
    with open_media(path) as container:
        others = [s for s in container.streams if s.index not in passed and not is_cover(s)]
        if not others:
            return end
        with contextlib.suppress(av.FFmpegError):  # damage is the truncation to report
            for packet in container.demux(others):
                if packet.pts is not None and packet.size:
                    stop = packet.pts + (packet.duration or 0)
                    end = max(end, float(stop * packet.time_base))
    return end


def first_sample_time(path: Path, index: int) -> Fraction:
    """Source time of the first sample the decoder of audio stream ``index`` gives out
    (after the priming it drops): where a decoded copy of the track begins."""
    with open_media(path) as container:
        stream = next(s for s in container.streams if s.index == index)
        try:
            for frame in container.decode(stream):
                if frame.pts is not None:
                    return Fraction(frame.pts) * Fraction(frame.time_base)
        except av.FFmpegError as exc:
            raise DataError(f"{path.name}: damaged audio ({_reason(exc)})") from None
    raise DataError(f"{path.name}: audio stream {index} decodes to nothing")
