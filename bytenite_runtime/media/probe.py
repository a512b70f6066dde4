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
import dataclasses
import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from ..errors import DataError
from ._mp4index import records_from_index

__all__ = [
    "AudioTrack",
    "MediaInfo",
    "VideoTrack",
    "container_tags",
    "describe",
    "first_sample_time",
    "open_media",
    "probe",
]


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

    @property
    def end(self) -> float:
        return self.start + self.samples / self.sample_rate


@dataclass(frozen=True)
class MediaInfo:
    """What :func:`probe` found: the container and its first video and audio streams."""

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
    """Global metadata, with stream tags under it (see :func:`container_tags`): read in
    the same open, so checking a result's chunk metadata costs no second open."""

    @property
    def indexed(self) -> bool:
        """An MP4/MOV-family file with video: its demuxer indexes every packet (so a seek
        is exact), and the concat demuxer places it by its first frame's inpoint."""
        return self.video is not None and _is_indexed(self.format)

    @property
    def start(self) -> float:
        starts = [t.start for t in (self.video, self.audio) if t is not None]
        return min(starts) if starts else 0.0

    @property
    def duration(self) -> float:
        """Seconds from the earliest start to the latest end of the video/audio streams."""
        ends = [t.end for t in (self.video, self.audio) if t is not None]
        return max(ends) - self.start if ends else 0.0


# PyAV < 19 decodes tags strictly unless told to ignore bytes that are not UTF-8; PyAV 19
# dropped the option and decodes them with "surrogateescape" (dropped in container_tags).
_OPEN_OPTIONS: dict[str, Any] = (
    {"metadata_errors": "ignore"} if int(av.__version__.split(".")[0]) < 19 else {}
)


def open_media(path: Path) -> Any:
    """``av.open`` with its errors turned into a one-line DataError naming the file."""
    try:
        return av.open(str(path), **_OPEN_OPTIONS)
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
    container: Any, path: Path, wanted: list[Any], video_index: int, pcm: tuple[int, float]
) -> _Scan | None:
    """The scan of an MP4/MOV file from its index (see :mod:`._mp4index`), or None
    where the index cannot say for sure."""
    try:
        records = records_from_index(container, str(path), wanted)
    except av.FFmpegError:
        return None
    scan = _Scan.of(records, video_index, pcm) if records is not None else None
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
        return describe(path, container)


def describe(path: Path, container: Any) -> MediaInfo:
    """:func:`probe` of ``path`` opened as ``container`` (by :func:`open_media`), which
    is left open, at no particular packet: a caller that demuxes it seeks first."""
    videos = [s for s in container.streams if s.type == "video" and not _is_cover(s)]
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
        and not _is_cover(s)
    )
    vcodec = _known_codec(path, vstream) if vstream is not None else ""
    acodec = _known_codec(path, astream) if astream is not None else ""
    wanted = [s for s in (vstream, astream) if s is not None]
    video_index = vstream.index if vstream is not None else -1
    pcm = _pcm_unit(astream, acodec)
    indexed = vstream is not None and _is_indexed(container.format.name)
    scan = _scan_index(container, path, wanted, video_index, pcm) if indexed else None
    if scan is None:
        with contextlib.ExitStack() as stack:
            source = container
            if indexed:
                # The index's check seeked: a fresh open starts at the first packet,
                # edit list or not.
                source = stack.enter_context(open_media(path))
            streams = [source.streams[s.index] for s in wanted]
            try:
                scan = _Scan.of(source.demux(streams), video_index, pcm)
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
        if not frame_pts:
            raise DataError(f"{path.name}: video stream {vstream.index} has no frames")
        decode_pts = tuple(frame_pts)
        frame_pts.sort()
        if not last_duration and len(frame_pts) > 1:
            last_duration = frame_pts[-1] - frame_pts[-2]
        video = VideoTrack(
            vstream.index, vcodec, int(vstream.codec_context.width or 0),
            int(vstream.codec_context.height or 0), Fraction(vstream.time_base),
            tuple(frame_pts), decode_pts, tuple(sorted(key_pts)), last_duration,
            tuple(sorted(scan.hidden)), _opening(decode_pts, key_pts),
            # Without any keyframe flag (some raw streams) no frame can be told an orphan.
            tuple(sorted(scan.orphans)) if keyed else (), _format_name(vstream),
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
            tuple(audio_packets), _layout_name(astream), _sample_format(astream),
        )  # fmt: skip
    info = MediaInfo(path, fmt, video, audio, disorder, container_start, left_out, tags)
    # A file cut short still demuxes (Matroska, MPEG-TS): its header knows better. Some
    # muxers write the end time as the duration (Matroska after -output_ts_offset 10 says
    # 14 s for 4 s from 10 s): short of both the span and the end time is truncated.
    length = info.duration
    end = max(t.end for t in (video, audio) if t is not None)
    if declared is not None and declared - max(length, end) > _TRUNCATED_SLACK:
        raise DataError(
            f"{path.name}: truncated: streams stop at {length:.3f} s but the "
            f"header says {declared:.3f} s"
        )
    return info


_TRUNCATED_SLACK = 0.5


def _is_indexed(format_name: str) -> bool:
    # libavformat's MP4/MOV demuxer is "mov,mp4,m4a,3gp,3g2,mj2".
    return "mp4" in format_name


@dataclass
class _Scan:
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

    @classmethod
    def of(cls, packets: Iterable[Any], video_index: int, pcm: tuple[int, float]) -> _Scan:
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


def _opening(decode_pts: Sequence[int], key_pts: Sequence[int]) -> tuple[int, ...]:
    """The keyframes after which, in decode order, a frame comes that is shown earlier."""
    keys = set(key_pts)
    opened = []
    later = None  # the earliest time shown among the frames decoded after this one
    for pts in reversed(decode_pts):
        if pts in keys and later is not None and later < pts:
            opened.append(pts)
        later = pts if later is None else min(later, pts)
    return tuple(sorted(opened))


def _pcm_unit(stream: Any, codec: str) -> tuple[int, float]:
    """For a PCM stream, bytes per sample frame (all channels) and time-base ticks per
    sample; ``(0, 0.0)`` for anything else."""
    bits = re.fullmatch(r"pcm_[suf](8|16|24|32|64)(?:le|be)?(?:_planar)?", codec)
    rate = int(stream.codec_context.sample_rate or 0) if stream is not None else 0
    channels = int(stream.codec_context.channels or 0) if stream is not None else 0
    if bits is None or not rate or not channels:
        return 0, 0.0
    return int(bits.group(1)) // 8 * channels, float(1 / (rate * Fraction(stream.time_base)))


def _format_name(stream: Any) -> str:
    fmt = stream.codec_context.format
    return str(fmt.name) if fmt is not None else ""


def _layout_name(stream: Any) -> str:
    layout = stream.codec_context.layout
    return str(layout.name) if layout is not None else ""


def _sample_format(stream: Any) -> str:
    sample_format = stream.codec_context.format
    return str(sample_format.name) if sample_format is not None else ""


def _is_cover(stream: Any) -> bool:
    # An MP3's or M4A's cover art is a one-picture "video" stream: not a video to cut.
    return bool(stream.disposition & av.stream.Disposition.attached_pic)


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
