"""The join's re-encode: every result decoded and placed by its own times, one after
the previous one's last frame."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

import av

from .._inputs import Result
from ._cut_out import copied_stream, in_base, shift_packet
from ._ffmpeg import run_ffmpeg
from ._join_codecs import AUDIO_ENCODERS, libopus_pre_skip, moves_beside_opus, wav_codec
from .gpu import Encoder, pick_encoder
from .probe import AudioTrack, MediaInfo, VideoTrack, open_media, probe
from .slots import clearing_slot

__all__ = ["join_by_reencode"]

# Where a result's audio is placed off its own video by more than this, the re-encoded join
# fills the gap with silence or drops the overlap (priming an app's encoder added).
_AUDIO_SLACK = 0.001
# Muxers that end a video track at its last packet's duration, and trim it there with an
# edit list. ffmpeg 5.1 gives frames out of a filter graph no duration: the last frame
# of a re-encoded join lasted 0 s, and where it started on a whole millisecond the edit
# list hid it (149 of 150 frames at 25 fps). These joins are encoded to NUT, then copied
# here with the last frame's duration set (as ffmpeg 6 and later would set it).
_ENDED_BY_DURATION = frozenset({"mp4", "mov"})


def _encoder(video: VideoTrack, target: Path, log: logging.Logger) -> Encoder:
    """The H.264 encoder for a re-encoded join, in the first result's pixel format where
    it can (a 10-bit result stays 10-bit)."""
    width, height = video.upright_size
    encoder = pick_encoder(
        "h264", crf=18, source_format=video.pixel_format, width=width, height=height
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
    :func:`._join_codecs._libopus_in_matroska`)."""
    # ffmpeg turns each result's frames upright as it decodes them (autorotate), so every
    # one is scaled to the first's upright size, and the output needs no rotation.
    size = "{}:{}".format(*first_video.upright_size)
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


def _audio_back_to_back(infos: Sequence[MediaInfo], first_audio: AudioTrack | None) -> list[str]:
    """Filter chains joining audio-only results one after another."""
    assert first_audio is not None
    chains = [f"[{n}:a:0]aresample={first_audio.sample_rate}[a{n}]" for n in range(len(infos))]
    labels = "".join(f"[a{n}]" for n in range(len(infos)))
    return [*chains, f"{labels}concat=n={len(infos)}:v=0:a=1[a]"]


def join_by_reencode(
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
        late = libopus_pre_skip() if opus and moves_beside_opus(muxer) else 0.0
        chains = _placed_by_video(infos, first_video, first_audio, late)
    else:
        chains = _audio_back_to_back(infos, first_audio)
    for member in members:
        args += ["-i", str(member.path.absolute())]
    args += ["-filter_complex", ";".join(chains), *clearing_slot(infos[0].tags)]
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
        audio_codec = AUDIO_ENCODERS.get(muxer) or (
            wav_codec(first_audio) if muxer == "wav" else "aac"
        )
        args += ["-map", "[a]", "-c:a", audio_codec]
    what = f"{target.name}: re-encoding {len(members)} result(s)"
    if not (has_v and muxer in _ENDED_BY_DURATION):
        run_ffmpeg([*args, "-f", muxer, str(target)], what=what)
        return
    end = sum(i.video.end - i.video.start for i in infos if i.video is not None)
    with tempfile.TemporaryDirectory(prefix="bytenite-join-") as scratch:
        encoded = Path(scratch) / "joined.nut"
        run_ffmpeg([*args, "-f", "nut", str(encoded)], what=what)
        _copy_ending_at(encoded, target, muxer, end)


def _copy_ending_at(encoded: Path, target: Path, muxer: str, end: float) -> None:
    """Copy the streams of ``encoded`` into ``target``, its video starting at 0 again (NUT
    holds no time below zero: its muxer moved every stream by the encoder's B-frame delay)
    and its last video frame lasting up to ``end`` seconds: both the last shown and the
    last in decode order, since MP4 ends the track by the latter's and players by the
    former's."""
    video = probe(encoded).video
    assert video is not None
    moved = video.start
    last_shown = max(video.frame_pts)
    duration = in_base(end + moved, video.time_base) - last_shown
    with open_media(encoded) as source, av.open(str(target), "w", format=muxer) as out:
        out.metadata.update(source.metadata)
        streams = list(source.streams)
        mapped = {s.index: copied_stream(out, s, encoded) for s in streams}
        for stream in streams:
            mapped[stream.index].metadata.update(stream.metadata)
        shifts = {s.index: in_base(moved, s.time_base) for s in streams}
        held = None  # the latest video packet: which one is last is known only at the end
        for packet in source.demux(streams):
            if packet.size == 0:
                continue
            is_video = packet.stream_index == video.index
            if is_video and packet.pts == last_shown and duration > 0:
                packet.duration = duration
            shift_packet(packet, shifts[packet.stream_index])
            packet.stream = mapped[packet.stream_index]
            if not is_video:
                out.mux(packet)
                continue
            if held is not None:
                out.mux(held)
            held = packet
        if held is not None:
            if duration > 0:
                held.duration = duration
            out.mux(held)
