"""Writing ``time-chunk`` chunks: stream copy (one demux pass), exact re-encode, PCM.

Every writer is a generator of finished chunk files, in order, inside a scratch folder
the caller owns and removes. Audio is never re-encoded per chunk, the cause of a click
at every joint (each encoder adds its own priming and padding): with ``audio: copy``
each packet goes whole into the chunk its start time falls in, so the joined track is
the source's packet for packet, priming only at the very start; with ``audio: pcm`` the
track is decoded once and each chunk gets its exact run of samples, to be encoded once
after the join.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import os
import struct
import threading
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

import av

from ..errors import DataError
from ._ffmpeg import run_ffmpeg
from .gpu import Encoder
from .plan import Piece, audio_piece_of
from .probe import MediaInfo, open_media

__all__ = ["Pcm", "copied_stream", "write_copy", "write_exact_audio", "write_exact_video"]


def _open_out(path: Path, fmt: str, comment: str | None) -> Any:
    out = av.open(str(path), "w", format=fmt)
    if comment is not None:
        out.metadata["comment"] = comment
    return out


# Sample-entry tags MP4/MOV players tell apart: Apple's players refuse HEVC tagged hev1
# (parameter sets in-band), the muxer's default, and want the source's hvc1.
_ISO_TAGS = frozenset({"hvc1", "hev1", "avc1", "avc3", "dvh1", "dvhe", "dva1", "dvav"})
_ISO_MUXERS = frozenset({"mp4", "mov", "ipod"})


def copied_stream(out: Any, template: Any, path: Path, tag: str = "") -> Any:
    """A stream of ``out`` for packets copied from ``template``, keeping the codec tag of
    an MP4/MOV source (``tag``: the source's, for a stream re-encoded in its codec).

    ``opaque`` copies the template's codec itself: by default PyAV looks the codec up as
    an encoder by its decoder's name, which fails for AV1 read by libdav1d.
    """
    try:
        stream = out.add_stream_from_template(template, opaque=True)
    except (ValueError, av.FFmpegError) as exc:
        kind = template.codec_context.name if template.codec_context else template.type
        raise DataError(
            f"{path.name}: its {kind} stream cannot go into {out.format.name} chunks ({exc})"
        ) from None
    tag = tag or (template.codec_context.codec_tag if template.codec_context else "")
    if tag in _ISO_TAGS and out.format.name.split(",")[0] in _ISO_MUXERS:
        stream.codec_context.codec_tag = tag
    return stream


def _shift(packet: Any, offset: int) -> None:
    if packet.pts is not None:
        packet.pts -= offset
    if packet.dts is not None:
        packet.dts -= offset


def _in_base(seconds: float | Fraction, time_base: Fraction) -> int:
    return round(Fraction(seconds) / time_base)


def _pieces_with_audio(info: MediaInfo, cut_seconds: Sequence[float]) -> set[int]:
    """The pieces at least one audio packet a decoder gives out starts in. The others get
    no audio stream: Matroska keeps an empty track (MP4 drops it), which no reader of the
    chunk, nor the join's probe, takes for audio."""
    audio = info.audio
    if audio is None:
        return set()
    num, den = audio.time_base.numerator, audio.time_base.denominator
    return {audio_piece_of(cut_seconds, pts * num / den) for pts, _ in audio.packets}


@dataclass(frozen=True)
class Pcm:
    """The source's audio decoded once to raw interleaved samples (``audio: pcm``)."""

    raw: Path
    width: int
    """Bytes per sample: 4 for f32, 2 for s16."""
    channels: int
    rate: int
    first: Fraction
    """Source time (seconds) of the first decoded sample."""
    edges: tuple[int, ...]
    """Sample index where each piece starts, then the total."""
    layout: str = ""
    """The source's channel layout name, kept in the chunks ("quad", "5.1(side)"…)."""

    @property
    def codec(self) -> str:
        return "pcm_f32le" if self.width == 4 else "pcm_s16le"


_PCM_PACKET = 4096
_LAYOUTS = {1: "mono", 2: "stereo", 6: "5.1"}


def _add_pcm(out: Any, pcm: Pcm) -> Any:
    layout = pcm.layout or _LAYOUTS.get(pcm.channels)
    if layout is None:
        raise DataError(f"audio='pcm': {pcm.channels} channels in no known layout")
    stream = out.add_stream(pcm.codec, rate=pcm.rate, layout=layout)
    stream.codec_context.format = "flt" if pcm.width == 4 else "s16"
    return stream


def _mux_pcm(out: Any, stream: Any, pcm: Pcm, index: int, origin: Fraction, raw: BinaryIO) -> None:
    start, stop = pcm.edges[index], pcm.edges[index + 1]
    frame = pcm.width * pcm.channels
    raw.seek(start * frame)
    # Times in samples from the chunk's origin (its first video frame).
    at = round((pcm.first - origin) * pcm.rate) + start
    time_base = Fraction(1, pcm.rate)
    for first in range(start, stop, _PCM_PACKET):
        count = min(_PCM_PACKET, stop - first)
        packet = av.Packet(raw.read(count * frame))
        packet.pts = packet.dts = at + first - start
        packet.duration = count
        packet.time_base = time_base
        packet.stream = stream
        out.mux(packet)


def write_copy(
    info: MediaInfo,
    bounds: Sequence[int] | Sequence[float],
    folder: Path,
    fmt: str,
    comments: Sequence[str | None],
    pcm: Pcm | None = None,
) -> Iterator[Path]:
    """Stream-copy the source into one file per piece in a single demux pass.

    ``bounds`` are video pts (video files) or absolute seconds of the audio cuts
    (audio-only), the first being the start. Video switches chunk at each boundary
    keyframe in decode order; audio packets go by start time. A chunk is closed and
    yielded once both streams have passed its end. With ``pcm``, a chunk's audio is its
    exact run of decoded samples instead, muxed when the chunk is opened.

    A large MP4/MOV is copied in two halves at once, the second from a seek to the cut
    nearest its middle: demuxing and muxing run without the GIL, and on 2 cores a 776 MB
    mezzanine's 6 chunks took 155 ms instead of 255. Where the seek does not land on that
    cut's keyframe with every later packet after it, one pass copies it all.
    """
    plan = _CopyPlan.of(info, bounds, folder, fmt, comments, pcm)
    split = _split_piece(plan)
    if split is None:
        with open_media(info.path) as source:
            yield from _copy_pieces(plan, source, source.demux(plan.streams(source)), 0, None)
        return
    seeked: Future[bool] = Future()
    cancel = threading.Event()
    with ThreadPoolExecutor(1, thread_name_prefix="bytenite-copy") as pool:
        later = pool.submit(_copy_later, plan, split, seeked, cancel)
        try:
            with open_media(info.path) as source:
                packets = source.demux(plan.streams(source))
                stop = split if seeked.result() else None
                yield from _copy_pieces(plan, source, packets, 0, stop)
            yield from later.result()
        finally:
            cancel.set()


@dataclass(frozen=True)
class _CopyPlan:
    """What both halves of a copy share: where each piece starts and goes."""

    info: MediaInfo
    bounds: Sequence[int] | Sequence[float]
    fmt: str
    comments: Sequence[str | None]
    pcm: Pcm | None
    audio: Any
    cut_seconds: list[float]
    origin: list[Fraction]
    paths: list[Path]
    with_audio: set[int]

    @classmethod
    def of(
        cls, info: MediaInfo, bounds: Sequence[int] | Sequence[float], folder: Path, fmt: str,
        comments: Sequence[str | None], pcm: Pcm | None,
    ) -> _CopyPlan:  # fmt: skip
        video = info.video
        if video is not None:
            cut_seconds = [video.seconds(int(b)) for b in bounds[1:]]
            origin = [Fraction(int(b)) * video.time_base for b in bounds]
        else:
            cut_seconds = [float(b) for b in bounds[1:]]
            # Chunk 0 keeps the source's own timeline (priming at negative times included).
            # Ogg puts an Opus stream's first packet at minus its pre-skip, and its muxer
            # counts granules from there: a later chunk starting at 0 ended a pre-skip late,
            # and the last chunk's final packet, trimmed in the source, came back whole.
            # (Vorbis granules count otherwise: its chunks start at 0.)
            track, lead = info.audio, Fraction(0)
            if fmt == "ogg" and track is not None and track.codec == "opus":
                lead = Fraction(min(track.start, 0.0))
            origin = [Fraction(0), *(Fraction(b) - lead for b in bounds[1:])]
        paths = [folder / f"chunk-{i:06d}" for i in range(len(comments))]
        audio = info.audio if pcm is None else None
        return cls(info, bounds, fmt, comments, pcm, audio, cut_seconds, origin, paths,
                   _pieces_with_audio(info, cut_seconds))  # fmt: skip

    @property
    def count(self) -> int:
        return len(self.comments)

    def streams(self, source: Any) -> list[Any]:
        return [source.streams[t.index] for t in (self.info.video, self.audio) if t is not None]


# Below this a second open (~15 ms for an MP4 with 720p H.264: the stream analysis
# decodes a frame) and the thread cost about what the halved copy saves: a 62 MB clip
# took 49-54 ms in two halves, 46-48 ms in one pass.
_SPLIT_BYTES = 64 << 20


def _split_piece(plan: _CopyPlan) -> int | None:
    """The piece a second thread copies from (the one starting nearest the middle of the
    video), or None where one pass is safer or as fast."""
    info, video = plan.info, plan.info.video
    if video is None or plan.count < 2 or (os.cpu_count() or 1) < 2:
        return None
    # Seeking is exact only by an index (MP4/MOV), and packets must come in time order.
    if not info.indexed or info.disorder is not None:
        return None
    if info.path.stat().st_size < _SPLIT_BYTES:
        return None
    middle = (video.start + video.end) / 2
    split = min(range(1, plan.count), key=lambda i: abs(plan.cut_seconds[i - 1] - middle))
    audio = plan.audio
    if audio is not None:
        # Each half tells where the other's audio starts by time: packets must come in
        # time order, and the first half stops at the first one past the split.
        times = [pts for pts, _ in audio.packets]
        if any(b <= a for a, b in itertools.pairwise(times)):
            return None
        num, den = audio.time_base.numerator, audio.time_base.denominator
        if audio_piece_of(plan.cut_seconds, times[-1] * num / den) < split:
            return None
    return split


def _copy_later(
    plan: _CopyPlan, split: int, seeked: Future[bool], cancel: threading.Event
) -> list[Path]:
    """Pieces ``split`` on, copied from a seek to their first keyframe; ``seeked`` says
    whether it landed where no packet of theirs comes before it (else nothing is copied)."""
    video = plan.info.video
    assert video is not None
    try:
        source = open_media(plan.info.path)
    except BaseException as exc:
        seeked.set_exception(exc)
        raise
    with source:
        streams = plan.streams(source)
        vstream = source.streams[video.index]
        try:
            # Backward from the keyframe's own time: the last keyframe decoded by then.
            source.seek(int(plan.bounds[split]), backward=True, any_frame=False, stream=vstream)
            packets = source.demux(streams)
            head = _first_of_each(packets, len(streams))
        except av.FFmpegError:
            # The one pass meets (and names) whatever is wrong there.
            seeked.set_result(False)
            return []
        except BaseException as exc:
            seeked.set_exception(exc)
            raise
        first_video = next((p for p in head if p.stream_index == video.index), None)
        first_audio = next((p for p in head if p.stream_index != video.index), None)
        landed = first_video is not None and first_video.pts == plan.bounds[split]
        if landed and first_audio is not None:
            at = float(first_audio.pts * first_audio.time_base)
            # Audio packets come in time order: the first one seen belongs before the split,
            # so none of the later pieces' was passed over.
            landed = audio_piece_of(plan.cut_seconds, at) < split
        seeked.set_result(landed)
        if not landed:
            return []
        return list(_copy_pieces(plan, source, itertools.chain(head, packets), split, None,
                                 cancel))  # fmt: skip


def _first_of_each(packets: Iterator[Any], streams: int) -> list[Any]:
    """Packets up to the first (with data and a time) of each of ``streams`` streams."""
    head: list[Any] = []
    seen: set[int] = set()
    for packet in packets:
        head.append(packet)
        if packet.size and packet.pts is not None:
            seen.add(packet.stream_index)
            if len(seen) == streams:
                break
    return head


def _copy_pieces(
    plan: _CopyPlan,
    source: Any,
    packets: Iterable[Any],
    first: int,
    stop: int | None,
    cancel: threading.Event | None = None,
) -> Iterator[Path]:
    """Pieces ``first`` to ``stop`` (excluded; None: to the end) from ``packets``, which
    start at piece ``first``'s keyframe or before (packets of earlier pieces are skipped),
    each yielded once closed; a stop ends the pass at the first packet of each stream
    past it."""
    info, bounds, paths, pcm = plan.info, plan.bounds, plan.paths, plan.pcm
    video, audio = info.video, plan.audio
    count = plan.count
    end = count if stop is None else stop
    cut_seconds, origin, with_audio = plan.cut_seconds, plan.origin, plan.with_audio
    outs: dict[int, tuple[Any, dict[int, Any]]] = {}
    video_at = first
    video_done = video is None
    audio_at = first if audio is not None else end
    audio_done = audio is None
    yielded = first
    video_index = video.index if video is not None else -1
    # Video packets before the first keyframe (orphans) refer to frames the file lacks.
    keyless = video is not None and bool(video.orphan_pts) and first == 0
    audio_index = audio.index if audio is not None and video is not None else -1
    # Per-packet Fraction arithmetic was a third of this loop's time: time bases are kept
    # as integer pairs (int / int is correctly rounded, the same float as the Fraction's)
    # and each chunk's origin is converted once per stream.
    scales: dict[int, tuple[int, int]] = {}
    offsets: dict[tuple[int, int], int] = {}
    # Each video packet is muxed when the next arrives: the last of a piece (in decode
    # order) then gets the duration that ends the piece where the next starts. A source
    # with a gap in its frame times before a cut keyframe would otherwise give a chunk that
    # ends early: shorter than its metadata says, and joined the gap is gone.
    held: tuple[Any, Any] | None = None
    latest = int(bounds[first]) if video is not None else 0  # the current piece's top pts
    with contextlib.ExitStack() as stack:
        streams = plan.streams(source)
        for stream in streams:
            scales[stream.index] = (stream.time_base.numerator, stream.time_base.denominator)
        raw = stack.enter_context(pcm.raw.open("rb")) if pcm is not None else None
        try:
            for packet in packets:
                pts = packet.pts
                if packet.size == 0 or pts is None:
                    continue
                if cancel is not None and cancel.is_set():
                    return
                index = packet.stream_index
                if index == video_index:
                    if keyless:
                        if not packet.is_keyframe:
                            continue
                        keyless = False
                    if video_done:
                        continue
                    if video_at + 1 < count and pts == bounds[video_at + 1]:
                        if held is not None:
                            _end_piece(held[1], int(bounds[video_at + 1]) - latest)
                        video_at += 1
                        latest = pts
                        if video_at == end:
                            video_done = True
                            if held is not None:
                                held[0].mux(held[1])
                                held = None
                    if video_done:
                        target = end
                    else:
                        latest = max(latest, pts)
                        target = video_at
                else:
                    num, den = scales[index]
                    target = audio_piece_of(cut_seconds, pts * num / den)
                    if target >= end:
                        audio_done = True
                    audio_at = max(audio_at, min(target, end))
                if first <= target < end:
                    if target not in outs:
                        out = _open_out(paths[target], plan.fmt, plan.comments[target])
                        outs[target] = (
                            out,
                            {
                                s.index: copied_stream(out, s, info.path)
                                for s in streams
                                if s.index != audio_index or target in with_audio
                            },
                        )
                        if pcm is not None and raw is not None:
                            stream = _add_pcm(out, pcm)
                            _mux_pcm(out, stream, pcm, target, origin[target], raw)
                    out, mapped = outs[target]
                    # Not mapped: an edit list's hidden audio (a cut's lead-in) in a piece
                    # without audio.
                    if index in mapped:
                        offset = offsets.get((target, index))
                        if offset is None:
                            offset = _in_base(origin[target], Fraction(*scales[index]))
                            offsets[target, index] = offset
                        _shift(packet, offset)
                        packet.stream = mapped[index]
                        if index == video_index:
                            if held is not None:
                                held[0].mux(held[1])
                            held = (out, packet)
                        else:
                            out.mux(packet)
                vdone = end if video_done else video_at if video is not None else count
                while yielded < min(vdone, audio_at):
                    yield _close(outs, yielded, paths[yielded])
                    yielded += 1
                if stop is not None and video_done and audio_done:
                    break
            if held is not None:
                held[0].mux(held[1])
        except av.FFmpegError as exc:
            raise DataError(f"{info.path.name}: damaged media ({exc})") from None
        finally:
            for out, _ in outs.values():
                out.close()
    while yielded < end:
        yield _close(outs, yielded, paths[yielded])
        yielded += 1


def _end_piece(packet: Any, duration: int) -> None:
    """Lengthen a piece's last video packet (in decode order) to ``duration``, the time
    from the piece's last frame shown to the next piece's first: never shortened."""
    if duration > (packet.duration or 0):
        packet.duration = duration


def _close(outs: dict[int, tuple[Any, dict[int, Any]]], index: int, path: Path) -> Path:
    if index not in outs:
        raise DataError(f"chunk {index}: no packet falls in it (the source is too short)")
    out = outs.pop(index)[0]
    is_flac = out.format.name == "flac"
    out.close()
    if is_flac:
        _zero_flac_total(path)
    return path


def _zero_flac_total(path: Path) -> None:
    # A stream copy carries the source's STREAMINFO, whose total sample count would claim
    # the whole file; 0 means "unknown" and makes readers count the frames instead.
    with path.open("r+b") as stream:
        head = stream.read(26)
        if head[:4] != b"fLaC" or head[4] & 0x7F != 0:
            return
        stream.seek(8 + 13)
        stream.write(bytes([head[8 + 13] & 0xF0, 0, 0, 0, 0]))


def write_exact_video(
    info: MediaInfo,
    bounds: Sequence[int],
    pieces: Sequence[Piece],
    folder: Path,
    fmt: str,
    comments: Sequence[str | None],
    encoder: Encoder,
    pcm: Pcm | None = None,
) -> Iterator[Path]:
    """Re-encode each piece's frames exactly (from half a frame before its first frame,
    relative to the start ffmpeg sees, e.g. 1.4 s into an MPEG-TS, then ``-frames:v``),
    and mux the encoded video with the source's audio packets of that piece, copied."""
    video, audio = info.video, info.audio
    assert video is not None
    half = video.frame_seconds / 2
    # The source's own time base as a ratio ("demux" is ffmpeg 7 only; distros ship 5.1+).
    time_base = f"{video.time_base.numerator}/{video.time_base.denominator}"
    cut_seconds = [video.seconds(b) for b in bounds[1:]]
    with open_media(info.path) as source, contextlib.ExitStack() as stack:
        raw = stack.enter_context(pcm.raw.open("rb")) if pcm is not None else None
        copied = audio if pcm is None else None
        audio_in = source.streams[copied.index] if copied is not None else None
        audio_packets = _packets(source, audio_in) if audio_in is not None else iter(())
        pending: Any = None
        with_audio = _pieces_with_audio(info, cut_seconds)
        for piece, start_pts, comment in zip(pieces, bounds, comments, strict=True):
            encoded = folder / f"video-{piece.index:06d}.nut"
            # Seek (input -ss) to a second before the keyframe ahead of the cut: formats
            # without an index (MPEG-TS) seek by bytes and can land past it. The exact cut
            # is the output -ss, which decodes and drops frames up to half a frame before.
            key = video.key_pts[max(0, bisect.bisect_right(video.key_pts, start_pts) - 1)]
            seek = max(0.0, video.seconds(key) - 1.0 - info.container_start)
            trim = video.seconds(start_pts) - half - info.container_start - seek
            run_ffmpeg(
                [*encoder.input_args, "-ss", f"{seek:.6f}", "-i", str(info.path),
                 "-ss", f"{max(0.0, trim):.6f}",
                 "-map", f"0:{video.index}", "-frames:v", str(piece.frames),
                 # Frames keep the source's own times: the default encoder time base
                 # (1/frame rate) collides rounded times (Matroska's milliseconds) after
                 # the trim, and cfr would drop or repeat frames of a variable-rate source.
                 "-fps_mode", "passthrough", "-enc_time_base", time_base,
                 *encoder.output_args,
                 "-an", "-sn", "-dn", "-map_metadata", "-1", "-f", "nut", str(encoded)],
                what=f"chunk {piece.index}: encoding {piece.start:.3f}-{piece.end:.3f} s",
            )  # fmt: skip
            path = folder / f"chunk-{piece.index:06d}"
            origin = Fraction(start_pts) * video.time_base
            span = _pts_span(encoded)
            with open_media(encoded) as coded, _open_out(path, fmt, comment) as out:
                vin = coded.streams.video[0]
                # The encoder guesses the last frame's duration (1/frame rate): a variable-rate
                # source's may be longer, and the chunk would end early by the difference.
                last_duration = round(Fraction(piece.duration) / vin.time_base) - (
                    span[1] - span[0]
                )
                vout = copied_stream(out, vin, info.path, _same_codec_tag(vin, source, video))
                aout = (
                    copied_stream(out, audio_in, info.path)
                    if audio_in is not None and piece.index in with_audio
                    else None
                )
                pout = _add_pcm(out, pcm) if pcm is not None else None
                frames, first = 0, None
                for packet in coded.demux(vin):
                    if packet.size == 0 or packet.pts is None:
                        continue
                    first = packet.pts if first is None else first
                    # Both the last frame shown and the last in decode order: MP4 ends the
                    # track by the latter's duration, players the former's.
                    is_last = packet.pts == span[1] or frames + 1 == piece.frames
                    if is_last and last_duration > 0:
                        packet.duration = last_duration
                    _shift(packet, first)
                    packet.stream = vout
                    out.mux(packet)
                    frames += 1
                if frames != piece.frames:
                    raise DataError(
                        f"chunk {piece.index}: the encoder gave {frames} frames, expected "
                        f"{piece.frames} ({piece.start:.3f}-{piece.end:.3f} s)"
                    )
                while audio_in is not None:
                    packet = pending if pending is not None else next(audio_packets, None)
                    pending = None
                    if packet is None:
                        break
                    at = float(packet.pts * packet.time_base)
                    if audio_piece_of(cut_seconds, at) > piece.index:
                        pending = packet
                        break
                    if aout is None:
                        # An edit list's hidden audio (a cut's lead-in) in a piece without
                        # audio: it belongs to no later piece either.
                        continue
                    _shift(packet, _in_base(origin, Fraction(packet.time_base)))
                    packet.stream = aout
                    out.mux(packet)
                if pcm is not None and raw is not None:
                    _mux_pcm(out, pout, pcm, piece.index, origin, raw)
            encoded.unlink()
            yield path


def _same_codec_tag(encoded: Any, source: Any, video: Any) -> str:
    """The source video's codec tag when the re-encode kept its codec (else none)."""
    original = source.streams[video.index].codec_context
    if original is None or encoded.codec_context is None:
        return ""
    same = encoded.codec_context.codec.id == original.codec.id
    return str(original.codec_tag) if same else ""


def _pts_span(path: Path) -> tuple[int, int]:
    """The lowest and highest presentation time of the video packets in ``path``."""
    with open_media(path) as container:
        times = [p.pts for p in _packets(container, container.streams.video[0])]
    if not times:
        raise DataError(f"{path.name}: the encoder gave no frame")
    return min(times), max(times)


def _packets(container: Any, stream: Any) -> Iterator[Any]:
    for packet in container.demux(stream):
        if packet.size and packet.pts is not None:
            yield packet


_WAV_FLOAT, _WAV_PCM = 3, 1


def write_exact_audio(
    info: MediaInfo,
    raw: Path,
    sample_bytes: int,
    pieces: Sequence[Piece],
    folder: Path,
    comments: Sequence[str | None],
) -> Iterator[Path]:
    """Sample-exact WAV chunks sliced from the decoded stream (``raw``: interleaved
    little-endian samples, f32 when ``sample_bytes`` is 4, s16 when 2)."""
    audio = info.audio
    assert audio is not None
    frame = sample_bytes * audio.channels
    tag = _WAV_FLOAT if sample_bytes == 4 else _WAV_PCM
    with raw.open("rb") as stream:
        for piece, comment in zip(pieces, comments, strict=True):
            path = folder / f"chunk-{piece.index:06d}"
            size = piece.samples * frame
            with path.open("wb") as out:
                _wav_header(
                    out, audio.sample_rate, audio.channels, sample_bytes, tag, size, comment
                )
                remaining = size
                while remaining:
                    block = stream.read(min(remaining, 1 << 20))
                    if not block:
                        raise DataError(f"chunk {piece.index}: decoded audio ended early")
                    out.write(block)
                    remaining -= len(block)
            yield path


def _wav_header(
    out: Any, rate: int, channels: int, width: int, tag: int, size: int, comment: str | None
) -> None:
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * channels * width,
                      channels * width, width * 8)  # fmt: skip
    info = b""
    if comment is not None:
        text = comment.encode() + b"\0"
        text += b"\0" * (len(text) % 2)
        info = b"LIST" + struct.pack("<I", 4 + 8 + len(text)) + b"INFO"
        info += b"ICMT" + struct.pack("<I", len(text)) + text
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + info
    out.write(b"RIFF" + struct.pack("<I", len(body) + 8 + size) + body)
    out.write(b"data" + struct.pack("<I", size))
