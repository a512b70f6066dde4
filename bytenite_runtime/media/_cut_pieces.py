"""The pieces of a stream copy: where each starts and goes, and the pass that writes them."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

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
from ._ffmpeg import is_refusal
from .plan import audio_piece_of
from .probe import MediaInfo

__all__ = ["CopyPlan", "copy_pieces"]


@dataclass(frozen=True)
class CopyPlan:
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
    ) -> CopyPlan:  # fmt: skip
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
                   pieces_with_audio(info, cut_seconds))  # fmt: skip

    @property
    def count(self) -> int:
        return len(self.comments)

    def streams(self, source: Any) -> list[Any]:
        return [source.streams[t.index] for t in (self.info.video, self.audio) if t is not None]


def copy_pieces(
    plan: CopyPlan,
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
                        out = open_out(paths[target], plan.fmt, plan.comments[target])
                        outs[target] = (
                            out,
                            {
                                s.index: copied_stream(out, s, info.path)
                                for s in streams
                                if s.index != audio_index or target in with_audio
                            },
                        )
                        if pcm is not None and raw is not None:
                            stream = add_pcm(out, pcm)
                            mux_pcm(out, stream, pcm, target, origin[target], raw)
                    out, mapped = outs[target]
                    # Not mapped: an edit list's hidden audio (a cut's lead-in) in a piece
                    # without audio.
                    if index in mapped:
                        offset = offsets.get((target, index))
                        if offset is None:
                            offset = in_base(origin[target], Fraction(*scales[index]))
                            offsets[target, index] = offset
                        shift_packet(packet, offset)
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
            if is_refusal(exc):
                raise  # the scratch folder's disk, not the media
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
    fmt = out.format.name
    out.close()
    if fmt == "flac":
        _zero_flac_total(path)
    elif fmt == "mp3":
        _unwrap_mp3_delay(path)
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


# The MP3 muxer sets the LAME tag's encoder delay, where the first packet set none (any
# chunk but the first), from the end-trim side data of the last packet, minus the
# decoder's 529 samples in unsigned arithmetic: a start of 0 wraps to 3567 (12 bits), and
# a reader dropped 4096 samples from the start of the last chunk, not the source's end
# trim from its end (93 ms of a 44.1 kHz file). No real encoder delay comes near it.
_WRAPPED_DELAY = 4096 - 529


def _unwrap_mp3_delay(path: Path) -> None:
    with path.open("r+b") as stream:
        head = stream.read(10)
        start = 0
        if head[:3] == b"ID3":  # the chunk's metadata, before the first frame
            start = 10 + sum((b & 0x7F) << (7 * (3 - n)) for n, b in enumerate(head[6:10]))
        stream.seek(start)
        frame = stream.read(200)
        at = max(frame.find(b"Info", 0, 48), frame.find(b"Xing", 0, 48))
        if at < 0:
            return
        flags = int.from_bytes(frame[at + 4 : at + 8], "big")
        # The optional fields (frames, bytes, seek table, quality), then the LAME tag,
        # whose bytes 21-23 hold the delay and padding, 12 bits each.
        lame = at + 8 + sum(size for bit, size in ((1, 4), (2, 4), (4, 100), (8, 4)) if flags & bit)
        field = frame[lame + 21 : lame + 24]
        if len(field) < 3 or int.from_bytes(field, "big") >> 12 < _WRAPPED_DELAY:
            return
        stream.seek(start + lame + 21)
        stream.write((int.from_bytes(field, "big") & 0xFFF).to_bytes(3, "big"))
