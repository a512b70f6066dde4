"""``time-chunk``'s exact mode: video re-encoded to cut on any frame, audio cut to the sample."""

from __future__ import annotations

import bisect
import contextlib
import struct
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..errors import DataError
from ._cut_out import (
    Pcm,
    add_pcm,
    copied_stream,
    in_base,
    mux_pcm,
    open_out,
    pieces_with_audio,
    shift_packet,
)
from ._ffmpeg import run_ffmpeg
from .gpu import Encoder
from .plan import Piece, audio_piece_of
from .probe import MediaInfo, open_media

__all__ = ["write_exact_audio", "write_exact_video"]


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
        with_audio = pieces_with_audio(info, cut_seconds)
        for piece, start_pts, comment in zip(pieces, bounds, comments, strict=True):
            encoded = folder / f"video-{piece.index:06d}.nut"
            # Seek (input -ss) to a second before the keyframe ahead of the cut: formats
            # without an index (MPEG-TS) seek by bytes and can land past it. The exact cut
            # is the output -ss, which decodes and drops frames up to half a frame before.
            key = video.key_pts[max(0, bisect.bisect_right(video.key_pts, start_pts) - 1)]
            seek = max(0.0, video.seconds(key) - 1.0 - info.container_start)
            trim = video.seconds(start_pts) - half - info.container_start - seek
            what = f"chunk {piece.index}: encoding {piece.start:.3f}-{piece.end:.3f} s"
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
                what=what,
            )  # fmt: skip
            path = folder / f"chunk-{piece.index:06d}"
            origin = Fraction(start_pts) * video.time_base
            span = _pts_span(encoded, what)
            with open_media(encoded) as coded, open_out(path, fmt, comment) as out:
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
                pout = add_pcm(out, pcm) if pcm is not None else None
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
                    shift_packet(packet, first)
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
                    shift_packet(packet, in_base(origin, Fraction(packet.time_base)))
                    packet.stream = aout
                    out.mux(packet)
                if pcm is not None and raw is not None:
                    mux_pcm(out, pout, pcm, piece.index, origin, raw)
            encoded.unlink()
            yield path


def _same_codec_tag(encoded: Any, source: Any, video: Any) -> str:
    """The source video's codec tag when the re-encode kept its codec (else none)."""
    original = source.streams[video.index].codec_context
    if original is None or encoded.codec_context is None:
        return ""
    same = encoded.codec_context.codec.id == original.codec.id
    return str(original.codec_tag) if same else ""


def _pts_span(path: Path, what: str) -> tuple[int, int]:
    """The lowest and highest presentation time of the video packets in ``path``, which
    ffmpeg wrote ``what`` (the chunk and its time range, the culprit an error names)."""
    times = []
    # ffmpeg exits 0 where its seek in a source without an index (a raw MJPEG stream)
    # finds no frame: its NUT file has a header and no packet, which does not open.
    with contextlib.suppress(DataError), open_media(path) as container:
        times = [p.pts for p in _packets(container, container.streams.video[0])]
    if not times:
        raise DataError(f"{what}: ffmpeg wrote no frame")
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
