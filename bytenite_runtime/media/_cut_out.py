"""What every ``time-chunk`` writer shares: output files, copied streams, PCM pieces."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

import av

from ..errors import DataError
from .plan import audio_piece_of
from .probe import MediaInfo

__all__ = [
    "Pcm",
    "add_pcm",
    "copied_stream",
    "in_base",
    "mux_pcm",
    "open_out",
    "pieces_with_audio",
    "shift_packet",
]


def open_out(path: Path, fmt: str, comment: str | None) -> Any:
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
    if not tag and template.codec_context:
        # NUT tags AAC with bytes that are no fourcc (0xff…): PyAV cannot decode them.
        with contextlib.suppress(UnicodeDecodeError):
            tag = template.codec_context.codec_tag
    if tag in _ISO_TAGS and out.format.name.split(",")[0] in _ISO_MUXERS:
        stream.codec_context.codec_tag = tag
    return stream


def shift_packet(packet: Any, offset: int) -> None:
    if packet.pts is not None:
        packet.pts -= offset
    if packet.dts is not None:
        packet.dts -= offset


def in_base(seconds: float | Fraction, time_base: Fraction) -> int:
    return round(Fraction(seconds) / time_base)


def pieces_with_audio(info: MediaInfo, cut_seconds: Sequence[float]) -> set[int]:
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


def add_pcm(out: Any, pcm: Pcm) -> Any:
    layout = pcm.layout or _LAYOUTS.get(pcm.channels)
    if layout is None:
        raise DataError(f"audio='pcm': {pcm.channels} channels in no known layout")
    stream = out.add_stream(pcm.codec, rate=pcm.rate, layout=layout)
    stream.codec_context.format = "flt" if pcm.width == 4 else "s16"
    return stream


def mux_pcm(out: Any, stream: Any, pcm: Pcm, index: int, origin: Fraction, raw: BinaryIO) -> None:
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
