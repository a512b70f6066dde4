"""What a probe finds: the container and its first video and audio streams (see
:mod:`.probe`, which builds these; counts follow what a decoder gives out)."""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

__all__ = ["AudioTrack", "MediaInfo", "VideoTrack", "is_indexed"]


@dataclass(frozen=True)
class VideoTrack:
    """The first video stream: every frame's presentation time and the keyframes'."""

    index: int
    codec: str
    width: int
    height: int
    time_base: Fraction
    frame_pts: tuple[int, ...]
    """Presentation times of all frames, sorted, in ``time_base`` units."""
    decode_pts: tuple[int, ...]
    """The same times in decode (packet) order: what a stream copy cuts along."""
    key_pts: tuple[int, ...]
    """Presentation times of keyframes (where a decoder can start), sorted."""
    last_duration: int
    hidden_pts: tuple[int, ...] = ()
    """Presentation times of the frames an MP4/MOV edit list hides, sorted: demuxed, but
    never decoded out. Before the first frame shown, the lead-in of a stream-copy cut
    (``ffmpeg -ss 1.5 -i in.mp4 -c copy``: frames from the keyframe before 1.5 s); after
    the last, what ffmpeg 5.1's variable-rate encodes leave (an edit list ending before
    the last packet)."""
    open_key_pts: tuple[int, ...] = ()
    """Keyframes that open a GOP: frames after them in decode order are shown before them
    (HEVC's CRA with leading pictures, as x265 writes by default; an open-GOP H.264 I
    frame). A decoder can start there, but drops or misplaces those leading frames, so a
    stream copy does not cut there."""

    orphan_pts: tuple[int, ...] = ()
    """Frames before the first keyframe in decode order (a recording or a byte cut that
    starts mid-GOP), sorted: they refer to frames the file does not hold, so no decoder
    rebuilds them. Chunks leave them out, and no count includes them."""
    pixel_format: str = ""
    """The decoder's pixel format ("yuv420p10le"), "" when the file does not say."""
    private: bytes = field(default=b"", repr=False)
    """The codec private data (H.264's avcC, HEVC's hvcC: the encoder's parameter sets)."""
    rotation: int = 0
    """Degrees players turn the picture counter-clockwise (an MP4/MOV matrix: 90 for a
    phone's portrait video stored landscape), 0, 90, 180 or 270."""

    @property
    def upright_size(self) -> tuple[int, int]:
        """Width and height as players show the picture: turned by :attr:`rotation`."""
        turned = self.rotation in (90, 270)
        return (self.height, self.width) if turned else (self.width, self.height)

    @property
    def cut_pts(self) -> tuple[int, ...]:
        """Keyframes a stream copy may cut at: the others open a GOP."""
        if not self.open_key_pts:
            return self.key_pts
        opened = set(self.open_key_pts)
        return tuple(p for p in self.key_pts if p not in opened)

    def shown(self) -> VideoTrack:
        """The frames a decoder gives out. A stream copy keeps hidden frames (frames shown
        may refer to them); a re-encode never gets them, so it plans on these. Keyframes
        stay, hidden ones included: they are where a decoder can start."""
        unseen = self._unseen()
        if not unseen:
            return self
        return dataclasses.replace(
            self,
            frame_pts=tuple(p for p in self.frame_pts if p not in unseen),
            decode_pts=tuple(p for p in self.decode_pts if p not in unseen),
            hidden_pts=(),
            orphan_pts=(),
        )

    def _unseen(self) -> set[int]:
        return {*self.hidden_pts, *self.orphan_pts}

    @property
    def frames(self) -> int:
        """Frames a decoder gives out: hidden and orphan frames are not counted."""
        return len(self.frame_pts) - len(self._unseen())

    @property
    def first_shown(self) -> int:
        """Presentation time of the first frame shown: where the track's time starts."""
        unseen = self._unseen()
        if self.frame_pts[0] not in unseen:
            return self.frame_pts[0]
        return next((p for p in self.frame_pts if p not in unseen), self.frame_pts[0])

    @property
    def frame_seconds(self) -> float:
        """Nominal duration of one frame."""
        diffs = [b - a for a, b in zip(self.frame_pts, self.frame_pts[1:], strict=False)]
        step = statistics.median(diffs) if diffs else self.last_duration
        return float(step * self.time_base)

    @property
    def start(self) -> float:
        return float(self.first_shown * self.time_base) if self.frame_pts else 0.0

    @property
    def end(self) -> float:
        if not self.frame_pts:
            return 0.0
        return float((self.frame_pts[-1] + self.last_duration) * self.time_base)

    def seconds(self, pts: int) -> float:
        return float(pts * self.time_base)


@dataclass(frozen=True)
class AudioTrack:
    """The first audio stream: sample rate and the samples its packets hold."""

    index: int
    codec: str
    sample_rate: int
    channels: int
    time_base: Fraction
    start: float
    samples: int
    frame_samples: int
    """Samples in a typical packet (1024 for AAC, 960 for Opus…): the join tolerance."""
    packets: tuple[tuple[int, int], ...]
    """``(pts, duration)`` of every packet in demux order, in ``time_base`` units, but for
    those an MP4/MOV edit list hides (its AAC priming, a stream-copy cut's lead-in)."""
    layout: str = ""
    """The channel layout's name ("stereo", "quad", "5.1(side)"…)."""
    sample_format: str = ""
    """The decoded samples' format ("s16", "s32p", "fltp"…)."""
    private: bytes = field(default=b"", repr=False)
    """The codec private data (AAC's AudioSpecificConfig, the OpusHead…)."""

    @property
    def end(self) -> float:
        return self.start + self.samples / self.sample_rate


@dataclass(frozen=True)
class MediaInfo:
    """What :func:`.probe.probe` found: the container and its first video and audio streams."""

    path: Path
    format: str
    video: VideoTrack | None
    audio: AudioTrack | None
    disorder: str | None = None
    """Where a stream's decode timestamps first fail to increase, or None."""
    container_start: float = 0.0
    """The start ffmpeg itself reports (and offsets ``-ss`` and the concat demuxer by):
    Matroska's codec delay, for one, makes it differ from the earliest packet."""
    left_out: tuple[str, ...] = ()
    """Video, audio and subtitle streams past the first video and audio ("stream 2
    (audio)"): what a chunk does not carry."""
    tags: Mapping[str, str] = field(default_factory=dict, compare=False)
    """Global metadata, with stream tags under it (see :func:`.probe.container_tags`):
    read in the same open, so checking a result's chunk metadata costs no second open."""

    @property
    def indexed(self) -> bool:
        """An MP4/MOV-family file with video: its demuxer indexes every packet (so a seek
        is exact), and the concat demuxer places it by its first frame's inpoint."""
        return self.video is not None and is_indexed(self.format)

    @property
    def start(self) -> float:
        starts = [t.start for t in (self.video, self.audio) if t is not None]
        return min(starts) if starts else 0.0

    @property
    def duration(self) -> float:
        """Seconds from the earliest start to the latest end of the video/audio streams."""
        ends = [t.end for t in (self.video, self.audio) if t is not None]
        return max(ends) - self.start if ends else 0.0


def is_indexed(format_name: str) -> bool:
    # libavformat's MP4/MOV demuxer is "mov,mp4,m4a,3gp,3g2,mj2".
    return "mp4" in format_name
