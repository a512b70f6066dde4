"""The join's checks: results against their chunk metadata and each other, and the
output against the results (counts of frames and samples, timestamp order)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from .._inputs import Result
from ..chunks import ChunkMeta
from ..errors import DataError
from ..tables.join import label
from .probe import MediaInfo, probe

__all__ = [
    "check_chunk",
    "check_joints",
    "check_none_missing",
    "check_output",
    "check_video_kept",
    "signature",
    "streams_differ",
    "what_differs",
]


def signature(info: MediaInfo) -> tuple[Any, ...]:
    """What results must share to be stream-copied one after another: the video's codec,
    size, pixel format, codec private data and rotation, the audio's codec, rate, channels and
    codec private data (None for a missing track). A stream copy carries the first
    result's private data alone: a later result encoded otherwise (4:4:4 among 4:2:0,
    another profile) decoded to garbage with the first's parameter sets, and a result
    rotated otherwise would be shown at the first's rotation."""
    v, a = info.video, info.audio
    return (
        (v.codec, v.width, v.height, v.pixel_format, v.private, v.rotation) if v else None,
        (a.codec, a.sample_rate, a.channels, a.private) if a else None,
    )


_TRAITS = (
    "video codec", "video width", "video height", "pixel format",
    "video codec private data (the encoder's parameter sets)", "video rotation (degrees)",
    "audio codec", "sample rate", "audio channels", "audio codec private data",
)  # fmt: skip


def _traits(info: MediaInfo) -> list[Any]:
    video, audio = signature(info)
    return [*(video or (None,) * 6), *(audio or (None,) * 4)]


def what_differs(first: MediaInfo, other: MediaInfo, first_label: str) -> str:
    """The first trait ``other`` does not share with ``first`` ("pixel format differs
    from chunk 0's (yuv444p vs yuv420p)"), for the warning that the join re-encodes."""
    for name, got, want in zip(_TRAITS, _traits(other), _traits(first), strict=True):
        if got != want:
            shown = "" if isinstance(got, bytes) else f" ({got} vs {want})"
            return f"{name} differs from {first_label}'s{shown}"
    return f"streams differ from {first_label}'s"


def streams_differ(infos: Sequence[MediaInfo]) -> bool:
    """Whether the results cannot be stream-copied one after another: their
    :func:`signature` differs (codecs, sizes, parameter sets…), or the first has no audio
    but a later one has (the concat demuxer takes its streams from the first file). Later
    results without audio are fine: audio that ends before the video leaves the last
    chunks without any."""
    videos = {signature(i)[0] for i in infos}
    audios = {signature(i)[1] for i in infos if i.audio is not None}
    return len(videos) > 1 or len(audios) > 1 or (infos[0].audio is None and bool(audios))


def check_chunk(result: Result, info: MediaInfo, meta: ChunkMeta | None) -> None:
    if meta is None:
        return
    fields = meta.fields
    frames, duration = fields.get("frames"), _seconds(meta, "duration")
    video = info.video
    if video is not None and isinstance(frames, int) and frames and video.frames != frames:
        raise DataError(
            f"{label(result)}: {video.frames} video frames, but its chunk metadata says "
            f"{frames} ({fields.get('start')} s + {duration} s of {meta.source!r}); set "
            "verify_frames=false for apps that change the frame count"
        )
    if video is not None and duration is not None:
        span = video.end - video.start
        if abs(span - duration) > video.frame_seconds * 1.01:
            raise DataError(
                f"{label(result)}: lasts {span:.3f} s, but its chunk metadata says "
                f"{duration:.3f} s (more than a frame apart)"
            )


def check_video_kept(members: Sequence[Result], infos: Sequence[MediaInfo]) -> None:
    """A result without video among results with video is an error naming it: the join
    keeps a stream only where every result has it, and would drop the video of them all
    (a chunk of a video source always has frames; audio may end early, video not)."""
    having = next((n for n, i in enumerate(infos) if i.video is not None), None)
    lacking = next((n for n, i in enumerate(infos) if i.video is None), None)
    if having is not None and lacking is not None:
        raise DataError(
            f"{label(members[lacking])}: no video stream, but {label(members[having])}'s "
            "result has one: the join would drop the video of every chunk"
        )


def check_joints(members: Sequence[Result], infos: Sequence[MediaInfo]) -> None:
    """Audio of two results that overlaps where they meet is an error naming the later: a
    stream copy cannot play both, and squeezes the times of one. An app that re-encodes a
    chunk's audio gives it that: its encoder's priming before the first frame and its
    padding after the last (chunks' own packets meet end to start). A re-encoded join
    decodes both and drops the overlap (see :func:`._join_encode._placed_by_video`), so
    needs no check."""
    for n in range(1, len(infos)):
        before, after = infos[n - 1], infos[n]
        if not (before.video and before.audio and after.video and after.audio):
            continue
        overhang = before.audio.end - before.video.end
        overlap = overhang + after.video.start - after.audio.start
        if overlap > after.audio.frame_samples / after.audio.sample_rate / 2:
            raise DataError(
                f"{label(members[n])}: its audio overlaps {label(members[n - 1])}'s by "
                f"{overlap:.3f} s where they meet (the app re-encoded the chunk's audio, and "
                "each encoder adds its own priming and padding); pass the chunk's audio "
                "through (ffmpeg -c:a copy): the join encodes it once where the output needs "
                "another codec"
            )


def _seconds(meta: ChunkMeta, field: str) -> float | None:
    value = meta.fields.get(field)
    return float(value) if isinstance(value, int | float) else None


def check_none_missing(
    target: Path, metas: Sequence[ChunkMeta | None], elsewhere: Collection[int] = ()
) -> None:
    """A gap in the chunk indices of one source or where one source's chunks give way to
    the next's (but for chunks in ``elsewhere``, which have results under other names), a
    source whose first result does not start at 0 s, or fewer results than the chunk count
    is an error naming the missing chunk: the join would otherwise skip that stretch of
    the source without a word."""
    # Only time-chunk chunks say where in their source they start.
    known = [m for m in metas if m is not None and _seconds(m, "start") is not None]
    previous: ChunkMeta | None = None
    for meta in known:
        start = _seconds(meta, "start")
        end = 0.0
        if previous is not None:
            end = (_seconds(previous, "start") or 0.0) + (_seconds(previous, "duration") or 0.0)
        if previous is not None and previous.source == meta.source:
            if meta.index > previous.index + 1:
                raise DataError(
                    f"{target.name}: chunk {previous.index + 1} of {meta.source!r} is missing "
                    f"from the results (chunk {previous.index} ends at {end:.3f} s, chunk "
                    f"{meta.index} starts at {start or 0.0:.3f} s); set verify_frames=false to "
                    "join the others"
                )
        elif (
            previous is not None
            and not start
            and (lost := [i for i in range(previous.index + 1, meta.index) if i not in elsewhere])
        ):
            # Chunks are numbered across the job's sources one after another: a chunk between
            # with no result at all is the end of a source (whose chunks carry no count).
            raise DataError(
                f"{target.name}: chunk {lost[0]} is missing from the results (between chunk "
                f"{previous.index} of {previous.source!r}, which ends at {end:.3f} s, and "
                f"chunk {meta.index} of {meta.source!r}); set verify_frames=false to join the "
                "others"
            )
        elif start:
            raise DataError(
                f"{target.name}: chunk {meta.index - 1} of {meta.source!r} is missing from the "
                f"results (the first result, chunk {meta.index}, starts at {start:.3f} s); "
                "set verify_frames=false to join the others"
            )
        previous = meta
    if previous is not None and previous.count is not None and previous.index < previous.count - 1:
        raise DataError(
            f"{target.name}: chunk {previous.index + 1} of {previous.source!r} is missing from "
            f"the results (the last result is chunk {previous.index} of {previous.count}); "
            "set verify_frames=false to join the others"
        )


def check_output(
    target: Path, infos: Sequence[MediaInfo], *, reencoded: bool, decoded: bool
) -> None:
    joined = probe(target)
    if joined.disorder is not None:
        raise DataError(
            f"{target.name}: timestamps not monotonic after the join: {joined.disorder}"
        )
    if joined.video is not None and all(i.video for i in infos):
        expected = sum(i.video.frames for i in infos if i.video)
        if joined.video.frames != expected:
            raise DataError(
                f"{target.name}: {joined.video.frames} video frames after the join, "
                f"the results hold {expected}"
            )
    if joined.audio is not None and all(i.audio for i in infos):
        seconds = sum(i.audio.samples / i.audio.sample_rate for i in infos if i.audio)
        if decoded and joined.video is not None and all(i.video for i in infos):
            # A re-encode fills with silence where the results' audio leaves their video
            # uncovered (a track that starts late or ends early): the video's span at least.
            seconds = max(seconds, sum(i.video.end - i.video.start for i in infos if i.video))
        got = joined.audio.samples / joined.audio.sample_rate
        tolerance = max(i.audio.frame_samples / i.audio.sample_rate for i in infos if i.audio)
        # A new encoder adds its own priming and padding, in its own frames (an MP3's 1152
        # samples where the results were WAV): a frame more each side; and where every
        # result was decoded, each decoder dropped that result's own priming and padding
        # (an MP3's encoder delay and its last frame's fill, which its packets count).
        if reencoded:
            encoded = max(tolerance, joined.audio.frame_samples / joined.audio.sample_rate)
            tolerance = 3 * encoded + (2 * len(infos) * tolerance if decoded else 0.0)
        elif joined.format != infos[0].format:
            # MP4 flags its priming packet hidden, which the counts leave out; Matroska and
            # the others keep it and trim by a codec delay the packets do not show.
            tolerance *= 2
        elif joined.audio.codec == "vorbis":
            # The Matroska step for Ogg with video (see _join_copy) loses the last page's end
            # trim: the final packet counts whole, a little over one frame (a long Vorbis
            # block spans two).
            tolerance *= 2
        if abs(got - seconds) > tolerance + 1e-6:
            raise DataError(
                f"{target.name}: {got:.4f} s of audio after the join, the results hold "
                f"{seconds:.4f} s (more than one audio frame apart)"
            )
