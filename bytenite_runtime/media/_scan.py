"""One pass over a file's packets (or its MP4 index's records) for :mod:`.probe`, and
what it reads of the streams' codec contexts."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import av

from ..errors import DataError

__all__ = [
    "PacketScan",
    "format_name_of",
    "is_cover",
    "layout_name",
    "opening_of",
    "opus_pre_skip",
    "pcm_unit",
]


@dataclass
class PacketScan:
    """What the packets of the first video and audio stream say, read in one pass."""

    frame_pts: list[int] = field(default_factory=list)
    key_pts: list[int] = field(default_factory=list)
    hidden: list[int] = field(default_factory=list)
    orphans: list[int] = field(default_factory=list)
    keyed: bool = False
    last_duration: int = 0
    first_audio: int | None = None
    last_audio: int = -(1 << 62)
    audio_packets: list[tuple[int, int]] = field(default_factory=list)
    disorder: str | None = None
    untimed: int = 0
    """Packets with data but no time (a raw elementary stream's)."""

    @classmethod
    def of(cls, packets: Iterable[Any], video_index: int, pcm: tuple[int, float]) -> PacketScan:
        """``packets``: PyAV packets in demux order, or the index's records."""
        scan = cls()
        frame_pts, key_pts, hidden, orphans = (
            scan.frame_pts, scan.key_pts, scan.hidden, scan.orphans
        )  # fmt: skip
        audio_packets = scan.audio_packets
        pcm_bytes, pcm_ticks = pcm
        keyed = False
        last_dts: dict[int, int] = {}
        # Every packet of the file passes here: each attribute is read once.
        for packet in packets:
            pts = packet.pts
            if pts is None or packet.size == 0:
                scan.untimed += pts is None and packet.size > 0
                continue
            index = packet.stream_index
            # Matroska stores presentation times only; its packets' dts are unset.
            dts = packet.dts
            if dts is not None:
                previous = last_dts.get(index)
                if previous is not None and dts <= previous and not scan.disorder:
                    at = float(dts * packet.time_base)
                    scan.disorder = f"stream {index} at {at:.3f} s ({previous} -> {dts})"
                last_dts[index] = dts
            duration = packet.duration or 0
            if index == video_index:
                frame_pts.append(pts)
                if packet.is_keyframe:
                    key_pts.append(pts)
                    keyed = True
                elif not keyed:
                    orphans.append(pts)
                if packet.is_discard:
                    hidden.append(pts)
                scan.last_duration = duration
            elif packet.is_discard:
                # Hidden by the edit list (AAC priming, a cut's lead-in): no decoder gives
                # these samples out, so neither the counts nor the start include them.
                continue
            else:
                if pcm_bytes:
                    # MOV gives a chunk's last PCM packet the duration its track header
                    # leaves it (64 of 1024 samples); the bytes say how many it holds.
                    duration = round(packet.size // pcm_bytes * pcm_ticks)
                if scan.first_audio is None:
                    scan.first_audio = pts
                scan.last_audio = max(scan.last_audio, pts + duration)
                audio_packets.append((pts, duration))
        scan.keyed = keyed
        return scan


def opening_of(decode_pts: Sequence[int], key_pts: Sequence[int]) -> tuple[int, ...]:
    """The keyframes after which, in decode order, a frame comes that is shown earlier."""
    keys = set(key_pts)
    opened = []
    later = None  # the earliest time shown among the frames decoded after this one
    for pts in reversed(decode_pts):
        if pts in keys and later is not None and later < pts:
            opened.append(pts)
        later = pts if later is None else min(later, pts)
    return tuple(sorted(opened))


def pcm_unit(stream: Any, codec: str) -> tuple[int, float]:
    """For a PCM stream, bytes per sample frame (all channels) and time-base ticks per
    sample; ``(0, 0.0)`` for anything else."""
    bits = re.fullmatch(r"pcm_[suf](8|16|24|32|64)(?:le|be)?(?:_planar)?", codec)
    rate = int(stream.codec_context.sample_rate or 0) if stream is not None else 0
    channels = int(stream.codec_context.channels or 0) if stream is not None else 0
    if bits is None or not rate or not channels:
        return 0, 0.0
    return int(bits.group(1)) // 8 * channels, float(1 / (rate * Fraction(stream.time_base)))


def opus_pre_skip(stream: Any, where: str) -> int:
    """The pre-skip of Opus ``stream`` (of the file ``where`` names): samples at 48 kHz
    its decoder drops, bytes 10-11 of the OpusHead its codec private data holds (ffmpeg's
    libopus writes 312, or 120 with ``-application lowdelay``; its own encoder 120)."""
    head = bytes(stream.codec_context.extradata or b"")
    if len(head) < 19 or not head.startswith(b"OpusHead"):
        raise DataError(
            f"{where}: Opus stream {stream.index}: no OpusHead in its codec private data, "
            "so its pre-skip is unknown"
        )
    return int.from_bytes(head[10:12], "little")


def format_name_of(stream: Any) -> str:
    """The decoder's pixel format (video) or sample format (audio), "" when unknown."""
    fmt = stream.codec_context.format
    return str(fmt.name) if fmt is not None else ""


def layout_name(stream: Any) -> str:
    layout = stream.codec_context.layout
    return str(layout.name) if layout is not None else ""


def is_cover(stream: Any) -> bool:
    # An MP3's or M4A's cover art is a one-picture "video" stream: not a video to cut.
    return bool(stream.disposition & av.stream.Disposition.attached_pic)
