"""Media results joined in chunk order: stream copy when the codecs match, else re-encode.

The copy path is ffmpeg's concat demuxer with two directives per file that the plain
demuxer gets wrong for chunked video: ``inpoint`` at the first video frame, so audio
priming before it keeps its negative time instead of pushing the video late, and
``duration`` = the video's own span, so a last audio packet that overhangs the last
frame does not shift the next chunk (the drift that makes "non-monotonous DTS").
MP4/MOV results going into an MP4/MOV are joined in this process instead, as the concat
demuxer would (:mod:`.remux`), from the containers their probes opened; audio-only Vorbis
results going into an Ogg file are too, packet after packet (:mod:`._ogg`).
A re-encode decodes every result and places its frames and samples by its own times,
one result after the previous one's last frame (:func:`_placed_by_video`).
Results and output are probed (packets only) to check counts against chunk metadata;
a result's metadata comes from the tags of that same open, not a second one.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import tempfile
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .._inputs import Result
from ..chunks import ChunkMeta
from ..errors import DataError
from ..tables.join import label
from . import MUXERS
from ._ffmpeg import FfmpegError, find_ffmpeg, run_ffmpeg
from ._ogg import join_vorbis
from .gpu import Encoder, pick_encoder
from .probe import AudioTrack, MediaInfo, VideoTrack, describe, open_media, probe
from .remux import can_remux, remux
from .slots import meta_from_tags

__all__ = ["join_media"]


def _signature(info: MediaInfo) -> tuple[Any, ...]:
    v, a = info.video, info.audio
    return (
        (v.codec, v.width, v.height) if v else None,
        (a.codec, a.sample_rate, a.channels) if a else None,
    )


def _streams_differ(infos: Sequence[MediaInfo]) -> bool:
    """Whether the results cannot be stream-copied one after another: their codecs or sizes
    differ, or the first has no audio but a later one has (the concat demuxer takes its
    streams from the first file). Later results without audio are fine: audio that ends
    before the video leaves the last chunks without any."""
    videos = {_signature(i)[0] for i in infos}
    audios = {_signature(i)[1] for i in infos if i.audio is not None}
    return len(videos) > 1 or len(audios) > 1 or (infos[0].audio is None and bool(audios))


def _check_chunk(result: Result, info: MediaInfo, meta: ChunkMeta | None) -> None:
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


def _check_video_kept(members: Sequence[Result], infos: Sequence[MediaInfo]) -> None:
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


def _check_joints(members: Sequence[Result], infos: Sequence[MediaInfo]) -> None:
    """Audio of two results that overlaps where they meet is an error naming the later: a
    stream copy cannot play both, and squeezes the times of one. An app that re-encodes a
    chunk's audio gives it that: its encoder's priming before the first frame and its
    padding after the last (chunks' own packets meet end to start). A re-encoded join
    decodes both and drops the overlap (see :func:`_placed_by_video`), so needs no check."""
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


def _check_none_missing(
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


_PROBE_THREADS = 4
# Results kept open from their probe for an in-process join, at most: past it (file
# descriptors) the join opens each again.
_KEPT_OPEN = 64


def _probe_all(paths: Sequence[Path]) -> list[MediaInfo]:
    """Every path probed, in order; the first failure in that order is raised."""
    with contextlib.ExitStack() as stack:
        return [info for info, _ in _open_all(paths, stack, keep=False)]


def _open_all(
    paths: Sequence[Path], stack: contextlib.ExitStack, *, keep: bool
) -> list[tuple[MediaInfo, Any | None]]:
    """Every path probed, in order, with its container left open on ``stack`` when
    ``keep`` (and there are not too many); the first failure in that order is raised."""
    keep = keep and len(paths) <= _KEPT_OPEN

    def opened(path: Path) -> tuple[MediaInfo, Any | None]:
        container = open_media(path)
        try:
            info = describe(path, container)
        except BaseException:
            container.close()
            raise
        if keep:
            return info, container
        container.close()
        return info, None

    # Probing is demuxing (or reading an MP4's index), and PyAV does both with the GIL
    # released: on 2 cores a second thread took the probes of 6 results of a 776 MB clip
    # from 125 to 67 ms (before MP4s were probed from their index).
    workers = max(1, min(len(paths), os.cpu_count() or 1, _PROBE_THREADS))
    with ThreadPoolExecutor(workers, thread_name_prefix="bytenite-probe") as pool:
        futures = [pool.submit(opened, p) for p in paths]
    found, failure = [], None
    for future in futures:
        try:
            info, container = future.result()
        except BaseException as exc:
            failure = failure or exc
            continue
        if container is not None:
            stack.callback(container.close)
        found.append((info, container))
    if failure is not None:
        raise failure
    return found


def join_media(
    members: Sequence[Result],
    target: Path,
    *,
    reencode: bool,
    verify: bool,
    log: logging.Logger,
    elsewhere: Collection[int] = (),
) -> None:
    """Join ``members`` (in chunk order) into ``target``, checking counts on the way;
    ``elsewhere``: the chunks with results under other names (not missing from this one)."""
    with contextlib.ExitStack() as stack:
        opened = _open_all([m.path for m in members], stack, keep=True)
        _join(
            members, opened, target, reencode=reencode, verify=verify, log=log,
            elsewhere=elsewhere,
        )  # fmt: skip


def _join(
    members: Sequence[Result],
    opened: Sequence[tuple[MediaInfo, Any | None]],
    target: Path,
    *,
    reencode: bool,
    verify: bool,
    log: logging.Logger,
    elsewhere: Collection[int],
) -> None:
    infos = [info for info, _ in opened]
    _check_video_kept(members, infos)
    if verify:
        metas = [meta_from_tags(i.tags, m.path) for m, i in zip(members, infos, strict=True)]
        for member, info, meta in zip(members, infos, metas, strict=True):
            _check_chunk(member, info, meta)
        _check_none_missing(target, metas, elsewhere)
    differ = _streams_differ(infos)
    ext = target.suffix.lower().lstrip(".")
    muxer = MUXERS.get(ext, "matroska")
    misfit = None if differ else _misfit(infos[0], muxer, ext)
    decoded = reencode or differ or misfit is not None
    if verify and not decoded:
        _check_joints(members, infos)
    if decoded:
        if misfit is not None and not reencode:
            log.warning("%s: %s: re-encoding", target.name, misfit)
        elif not reencode:
            first = _signature(infos[0])
            odd = next(m for m, i in zip(members, infos, strict=True) if _signature(i) != first)
            log.warning("%s: streams differ from chunk %s's %s: re-encoding", label(odd),
                        members[0].index, first)  # fmt: skip
        _reencode(members, infos, target, muxer, log)
    elif _encodes_pcm(infos[0], muxer) or not (
        can_remux(infos, muxer) and remux(infos, [c for _, c in opened], target, muxer)
    ):
        _copy(members, infos, target, muxer)
    if verify:
        reencoded = decoded or _encodes_pcm(infos[0], muxer)
        _check_output(target, infos, reencoded=reencoded, decoded=decoded)


# What WebM holds (ffmpeg's muxer refuses the rest); PCM is encoded by the copy path.
_WEBM_VIDEO = frozenset({"vp8", "vp9", "av1", "libdav1d", "libvpx", "libvpx-vp9"})
_WEBM_AUDIO = frozenset({"opus", "libopus", "vorbis", "libvorbis"})


# The audio codecs each audio container holds (its muxer refuses the rest, and a stream
# copy of them failed in ffmpeg); PCM is encoded by the copy path, but WAV takes only PCM.
_AUDIO_HOLDS = {
    "wav": ("pcm_",), "mp3": ("mp3",), "flac": ("flac",), "adts": ("aac",),
    "ipod": ("aac", "alac"), "ogg": ("opus", "libopus", "vorbis", "libvorbis", "flac"),
    # An .opus file is Ogg that players take for Opus only.
    "opus": ("opus", "libopus"),
}  # fmt: skip


def _misfit(info: MediaInfo, muxer: str, ext: str = "") -> str | None:
    """Why the results' codecs cannot be stream-copied into ``muxer`` (writing a file
    named ``.ext``), or None."""
    video, audio = info.video, info.audio
    holds = _AUDIO_HOLDS.get(ext if ext == "opus" else muxer)
    if holds is not None and video is None and audio is not None:
        encoded = audio.codec.startswith("pcm_") and muxer in _AUDIO_ENCODERS
        if encoded or audio.codec.startswith(holds):
            return None
        container = "an .opus file" if ext == "opus" else f"the {muxer} muxer"
        return f"{container} cannot hold {audio.codec} audio"
    if muxer != "webm":
        return None
    if video is not None and video.codec not in _WEBM_VIDEO:
        return f"WebM cannot hold {video.codec} video"
    if audio is not None and audio.codec not in _WEBM_AUDIO and not audio.codec.startswith("pcm_"):
        return f"WebM cannot hold {audio.codec} audio"
    return None


# Audio encoders for the outputs whose muxer takes no (or no widely playable) PCM.
_AUDIO_ENCODERS = {
    "mp4": "aac", "ipod": "aac", "adts": "aac", "mpegts": "aac", "webm": "libopus",
    "ogg": "libopus", "mp3": "libmp3lame", "flac": "flac",
}  # fmt: skip


def _encodes_pcm(info: MediaInfo, muxer: str) -> bool:
    """Whether the copy path encodes the results' PCM audio (``audio='pcm'`` chunks)."""
    audio = info.audio
    return audio is not None and audio.codec.startswith("pcm_") and muxer in _AUDIO_ENCODERS


def _lead(info: MediaInfo) -> float:
    """Seconds the concat demuxer places ``info``'s first packet before the file's slot."""
    track = info.video or info.audio
    if track is None or info.indexed:
        return 0.0
    return info.container_start - track.start


def _copy(members: Sequence[Result], infos: Sequence[MediaInfo], target: Path, muxer: str) -> None:
    if muxer == "ogg" and all(
        i.video is None and i.audio is not None and i.audio.codec == "vorbis" for i in infos
    ):
        join_vorbis(infos, target)
        return
    with tempfile.TemporaryDirectory(prefix="bytenite-join-") as scratch:
        listing = Path(scratch) / "list.ffconcat"
        lines = ["ffconcat version 1.0"]
        for n, (member, info) in enumerate(zip(members, infos, strict=True)):
            quoted = str(member.path.resolve()).replace("'", "'\\''")
            lines.append(f"file '{quoted}'")
            video, span_end = info.video, (info.video or info.audio)
            assert span_end is not None
            # The next file's first packet lands at its own time minus its own start: where
            # the two differ (Ogg pre-skip, Matroska codec delay) the gap is this file's too.
            lead = _lead(infos[n + 1]) if n + 1 < len(infos) else 0.0
            if video is not None and info.indexed:
                # MP4/MOV seek to the first frame without dropping the audio priming
                # before it, which keeps its negative time (-copyts) and its edit list.
                lines.append(f"inpoint {video.start:.6f}")
                lines.append(f"duration {video.end - video.start:.6f}")
            else:
                # Elsewhere an inpoint seek can drop that first packet: the demuxer places
                # the file by its own start, so the span runs from there to the last frame.
                lines.append(f"duration {span_end.end - info.container_start + lead:.6f}")
        listing.write_text("\n".join(lines) + "\n", encoding="utf-8")
        codecs = ["-c", "copy"]
        audio = infos[0].audio
        if _encodes_pcm(infos[0], muxer):
            # Chunks carried PCM (audio='pcm'): the joined track is encoded here, once.
            codecs += ["-c:a", _AUDIO_ENCODERS[muxer]]
        lead = _opus_lead(infos[0], muxer)
        if lead > 0 and infos[0].video is not None and _moves_beside_opus(muxer):
            # Opus packets handed over that much later, none below zero, so the muxer moves
            # no stream; readers take the CodecDelay off them again. (5.1's setts misreads
            # an encoder's time base: the samples are moved before the encoder instead.)
            if _encodes_pcm(infos[0], muxer):
                codecs += ["-af", f"asetpts=PTS+{lead:.6f}/TB"]
            else:
                codecs += ["-bsf:a", f"setts=ts=TS+ceil({lead:.6f}/TB)"]
        # Every file's first Vorbis packet carries its comment header anew, on which the Ogg
        # muxer starts a chained stream whose granules restart the count: read back, times
        # run to three times the length. Matroska in between drops that; then Ogg, one link
        # (audio-only results are joined sample for sample in this process instead).
        chained = muxer == "ogg" and audio is not None and audio.codec == "vorbis"
        joined = Path(scratch) / "joined.mka" if chained else target
        run_ffmpeg(
            ["-copyts", "-f", "concat", "-safe", "0", "-i", str(listing), "-map", "0", *codecs,
             "-f", "matroska" if chained else muxer, str(joined)],
            what=f"{target.name}: joining {len(members)} result(s)",
        )  # fmt: skip
        if chained:
            run_ffmpeg(
                ["-i", str(joined), "-map", "0", "-c", "copy", "-f", muxer, str(target)],
                what=f"{target.name}: remuxing the joined Vorbis to Ogg",
            )


# Where a result's audio is placed off its own video by more than this, the re-encoded join
# fills the gap with silence or drops the overlap (priming an app's encoder added).
_AUDIO_SLACK = 0.001


def _encoder(video: VideoTrack, target: Path, log: logging.Logger) -> Encoder:
    """The H.264 encoder for a re-encoded join, in the first result's pixel format where
    it can (a 10-bit result stays 10-bit)."""
    encoder = pick_encoder(
        "h264", crf=18, source_format=video.pixel_format, width=video.width, height=video.height
    )
    if encoder.narrowed:
        log.warning("%s: %s: %s", target.name, encoder.name, encoder.narrowed)
    return encoder


def _placed_by_video(
    infos: Sequence[MediaInfo],
    first_video: VideoTrack,
    first_audio: AudioTrack | None,
    audio_late: float = 0.0,
) -> list[str]:
    """Filter chains placing every result's frames and samples where its video falls in
    the join, each result after the last frame of the one before: the concat filter starts a
    result after the longest of its streams, and audio that overhangs a result's last frame
    (each packet goes whole into the chunk it starts in) pushed the video of the next a
    frame late every joint or two. Where results' audio overlaps (the priming and padding of
    an app's encoder) the earlier result's is kept; where none covers the video (a result
    without audio, a track that starts late), silence. ``audio_late``: seconds the audio
    reaches its encoder late, for a muxer that would move the video (see
    :func:`_moves_streams_for_opus`)."""
    size = f"{first_video.width}:{first_video.height}"
    chains, videos, audios = [], [], []
    at = 0.0
    for n, info in enumerate(infos):
        assert info.video is not None
        shift = f"{at - info.video.start:+.6f}/TB"
        chains.append(f"[{n}:v:0]scale={size},setsar=1,setpts=PTS{shift}[v{n}]")
        videos.append(f"[v{n}]")
        if first_audio is not None and info.audio is not None:
            # ainterleave (5.1 and 9.x) writes times in microseconds onto an output that
            # keeps its first input's time base: microseconds in, the same out.
            chains.append(
                f"[{n}:a:0]aresample={first_audio.sample_rate},asetpts=PTS{shift},asettb=AVTB[a{n}]"
            )
            audios.append(f"[a{n}]")
        at += info.video.end - info.video.start
    chains.append(f"{''.join(videos)}interleave=n={len(videos)}[v]")
    if first_audio is not None:
        chains.append(
            f"{''.join(audios)}ainterleave=n={len(audios)},aresample=async=1:"
            f"min_hard_comp={_AUDIO_SLACK}:first_pts=0,apad=whole_dur={at:.6f}"
            + (f",asetpts=PTS+{audio_late:.6f}/TB[a]" if audio_late else "[a]")
        )
    return chains


# libopus's pre-skip (its lookahead at the default application), in seconds at any rate.
_OPUS_PRE_SKIP = 312 / 48000


@functools.cache
def _moves_streams_for_opus(ffmpeg: str) -> bool:
    """Whether ``ffmpeg``'s Matroska muxer moves every stream later by an Opus track's
    pre-skip: libavformat 59 (ffmpeg 5.1) took Matroska for a format without negative
    times, so the encoder's first packet (at minus its pre-skip) shifted the video too,
    while readers still take the CodecDelay off the Opus blocks: the video played 6.5 ms
    late against the audio, once more every time 5.1 wrote the file. Later muxers let the
    Opus track alone start below zero. Asked of the muxer itself (a 50 ms write, once per
    ffmpeg) rather than read off a version."""
    with tempfile.TemporaryDirectory(prefix="bytenite-opus-") as scratch:
        written = Path(scratch) / "probe.mkv"
        try:
            run_ffmpeg(
                ["-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono", "-f", "lavfi", "-i",
                 "anullsrc=r=48000:cl=mono", "-map", "0:a", "-map", "1:a", "-t", "0.05",
                 "-c:a:0", "libopus", "-c:a:1", "pcm_s16le", "-f", "matroska", str(written)],
                what="checking how the Matroska muxer places Opus", ffmpeg=ffmpeg,
            )  # fmt: skip
        except FfmpegError:
            return False
        with open_media(written) as container:
            pcm = container.streams[1]
            first = next((p for p in container.demux(pcm) if p.pts is not None), None)
            return first is not None and first.pts > 0


def _moves_beside_opus(muxer: str) -> bool:
    """Whether this ffmpeg writing ``muxer`` moves the other streams by an Opus track's
    pre-skip (see :func:`_moves_streams_for_opus`)."""
    return muxer in {"webm", "matroska"} and _moves_streams_for_opus(find_ffmpeg())


def _opus_lead(info: MediaInfo, muxer: str) -> float:
    """Seconds the copy path's first Opus packet comes before zero: a copied track's own
    start, or the pre-skip of the encoder for PCM results; 0 for other codecs."""
    audio = info.audio
    if audio is None:
        return 0.0
    if _encodes_pcm(info, muxer):
        return _OPUS_PRE_SKIP if _AUDIO_ENCODERS[muxer] == "libopus" else 0.0
    return max(0.0, -audio.start) if audio.codec == "opus" else 0.0


def _audio_back_to_back(infos: Sequence[MediaInfo], first_audio: AudioTrack | None) -> list[str]:
    """Filter chains joining audio-only results one after another."""
    assert first_audio is not None
    chains = [f"[{n}:a:0]aresample={first_audio.sample_rate}[a{n}]" for n in range(len(infos))]
    labels = "".join(f"[a{n}]" for n in range(len(infos)))
    return [*chains, f"{labels}concat=n={len(infos)}:v=0:a=1[a]"]


def _reencode(
    members: Sequence[Result],
    infos: Sequence[MediaInfo],
    target: Path,
    muxer: str,
    log: logging.Logger,
) -> None:
    first_video = next((i.video for i in infos if i.video), None)
    first_audio = next((i.audio for i in infos if i.audio), None)
    has_v = first_video is not None and all(i.video for i in infos)
    has_a = first_audio is not None
    args: list[str] = []
    if has_v and first_video is not None:
        # The files' own times, which the probes read: ffmpeg would start each at its
        # start time, which its versions (and PyAV's) put differently for Opus in WebM.
        args.append("-copyts")
        opus = first_audio is not None and muxer == "webm"
        late = _OPUS_PRE_SKIP if opus and _moves_beside_opus(muxer) else 0.0
        chains = _placed_by_video(infos, first_video, first_audio, late)
    else:
        chains = _audio_back_to_back(infos, first_audio)
    for member in members:
        args += ["-i", str(member.path)]
    args += ["-filter_complex", ";".join(chains)]
    webm = muxer == "webm"
    if has_v and first_video is not None:
        codec = (
            ["-c:v", "libvpx-vp9", "-b:v", "0", "-crf", "32"]
            if webm
            else list(_encoder(first_video, target, log).output_args)
        )
        # The filter's frames, one for one: with its default frame-rate mode, ffmpeg 5.1
        # duplicated a frame where two results meet in an MP4 (dup=1, 91 of 90 frames).
        args += ["-map", "[v]", *codec, "-fps_mode", "passthrough"]
    if has_a:
        audio_codec = _AUDIO_ENCODERS.get(muxer) or (
            _wav_codec(first_audio) if muxer == "wav" else "aac"
        )
        args += ["-map", "[a]", "-c:a", audio_codec]
    run_ffmpeg(
        [*args, "-f", muxer, str(target)],
        what=f"{target.name}: re-encoding {len(members)} result(s)",
    )


# The PCM codecs a WAV file holds as they are (the muxer has no tag for big-endian ones).
_WAV_PCM = frozenset({"pcm_u8", "pcm_s16le", "pcm_s24le", "pcm_s32le", "pcm_f32le", "pcm_f64le"})


def _wav_codec(audio: AudioTrack | None) -> str:
    """The PCM a re-encoded WAV gets: the results' own PCM, else as many bits as their
    decoder gives (a 24-bit FLAC decodes to 32-bit integers), 16 for lossy codecs'
    floating-point samples."""
    if audio is None:
        return "pcm_s16le"
    if audio.codec in _WAV_PCM:
        return audio.codec
    return "pcm_s32le" if audio.sample_format.startswith("s32") else "pcm_s16le"


def _check_output(
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
            # The Matroska step for Ogg with video (see _copy) loses the last page's end
            # trim: the final packet counts whole, a little over one frame (a long Vorbis
            # block spans two).
            tolerance *= 2
        if abs(got - seconds) > tolerance + 1e-6:
            raise DataError(
                f"{target.name}: {got:.4f} s of audio after the join, the results hold "
                f"{seconds:.4f} s (more than one audio frame apart)"
            )
