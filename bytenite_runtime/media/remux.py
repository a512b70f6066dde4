"""MP4/MOV results joined into an MP4/MOV in this process: what ffmpeg's concat demuxer
does for them, without starting ffmpeg.

For MP4 and MOV results the join's listing gives each file an ``inpoint`` at its first
video frame and a ``duration`` of its video's span; the concat demuxer then seeks each
file to its inpoint (``avformat_seek_file`` backwards: the same seek PyAV's
``Container.seek`` makes) and moves its packets by the time from its inpoint to its
slot, rounded to the stream's time base as ffmpeg rounds. Done here with PyAV, on the
containers the results were probed with, the packets are the same, time for time and
flag for flag; what differs is that ffmpeg (5.1 and 9.x) also repeats H.264's parameter
sets before each keyframe, which decoders do not need from an MP4. On a 776 MB join this
saves ffmpeg's start, a second open of every result and its probe decode (~0.2 s).

Only the plain case is taken: results whose first video and audio are all their streams,
in the same places and time bases, copied into an MP4/MOV; anything else, and any packet
the muxer refuses (times that do not increase across a joint, which ffmpeg rewrites with
a warning), is left to ffmpeg.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from ..errors import DataError
from ._ffmpeg import is_refusal
from .cut import copied_stream
from .probe import MediaInfo, open_media

__all__ = ["can_remux", "remux"]

_MUXERS = frozenset({"mp4", "mov"})
_EARLIEST = -(1 << 40)  # ticks before any sample: every stream seeks to its first


def _layout(info: MediaInfo) -> tuple[Any, ...]:
    video, audio = info.video, info.audio
    return (
        (video.index, video.time_base) if video is not None else None,
        (audio.index, audio.time_base) if audio is not None else None,
    )


def can_remux(infos: Sequence[MediaInfo], muxer: str) -> bool:
    """Whether :func:`remux` does what ffmpeg's concat demuxer would for these results (and
    their streams, which it checks as it goes)."""
    if muxer not in _MUXERS or not infos:
        return False
    # The listing places MP4/MOV results by inpoint only where they have video.
    if not all(i.indexed for i in infos):
        return False
    return all(_layout(i) == _layout(infos[0]) for i in infos)


def _micro(seconds: float) -> int:
    """``seconds`` as the listing writes it (``%.6f``) and ffmpeg reads it: microseconds."""
    return round(Fraction(f"{seconds:.6f}") * 1_000_000)


def _rescaled(micro: int, time_base: Fraction) -> int:
    """``av_rescale_q`` from microseconds: to the nearest tick, halves away from zero."""
    ticks = Fraction(micro, 1_000_000) / time_base
    whole = int(abs(ticks) + Fraction(1, 2))
    return whole if ticks >= 0 else -whole


class _Refused(Exception):
    """A result with streams beyond its first video and audio: ffmpeg maps those."""


def remux(
    infos: Sequence[MediaInfo], containers: Sequence[Any | None], target: Path, muxer: str
) -> bool:
    """Join the results (probed as ``infos``; open as ``containers``, or None to open
    here) into ``target``; False, with nothing left at ``target``, where a result holds
    other streams or the muxer refused a packet."""
    slot = 0
    try:
        with av.open(str(target), "w", format=muxer) as out, contextlib.ExitStack() as stack:
            mapped: dict[int, Any] = {}
            for n, (info, given) in enumerate(zip(infos, containers, strict=True)):
                assert info.video is not None
                inpoint = _micro(info.video.start)
                source = given or stack.enter_context(open_media(info.path))
                streams = list(source.streams)
                if len(streams) != 1 + (info.audio is not None):
                    raise _Refused
                if not mapped:
                    mapped = {s.index: copied_stream(out, s, info.path) for s in streams}
                if n == 0 and inpoint <= 0 and info.audio is not None:
                    # The MP4 demuxer seeks every stream to the time of the sample it finds
                    # in the one seeked: from a video whose first frame decodes at 0 (no
                    # B-frames) the audio lands on its packet at 0, past the encoder's
                    # priming before it (a time below 0 the edit list hides). Seeked by its
                    # audio to before any sample, the first result is read from its start.
                    audio = source.streams[info.audio.index]
                    source.seek(_EARLIEST, stream=audio, backward=True)
                else:
                    source.seek(inpoint, backward=True)
                shifts = {
                    s.index: _rescaled(slot - inpoint, Fraction(s.time_base)) for s in streams
                }
                for packet in source.demux(streams):
                    if packet.size == 0:
                        continue
                    shift = shifts[packet.stream_index]
                    if packet.pts is not None:
                        packet.pts += shift
                    if packet.dts is not None:
                        packet.dts += shift
                    packet.stream = mapped[packet.stream_index]
                    out.mux(packet)
                slot += _micro(info.video.end - info.video.start)
                if given is None:
                    stack.close()
    except (av.FFmpegError, DataError, _Refused) as exc:
        target.unlink(missing_ok=True)
        if is_refusal(exc):
            raise  # a full disk fails ffmpeg's join too, blaming no result
        return False
    return True
