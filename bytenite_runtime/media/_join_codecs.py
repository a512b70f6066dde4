"""What each output container holds, the encoders the join uses for the rest, and the
Opus placement that ffmpeg 5.1's Matroska muxer needs."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

from ._ffmpeg import FfmpegError, find_ffmpeg, run_ffmpeg
from ._scan import opus_pre_skip
from .probe import AudioTrack, MediaInfo, open_media

__all__ = [
    "AUDIO_ENCODERS",
    "container_misfit",
    "encodes_pcm",
    "libopus_pre_skip",
    "moves_beside_opus",
    "opus_lead",
    "wav_codec",
]

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


def container_misfit(info: MediaInfo, muxer: str, ext: str = "") -> str | None:
    """Why the results' codecs cannot be stream-copied into ``muxer`` (writing a file
    named ``.ext``), or None."""
    video, audio = info.video, info.audio
    holds = _AUDIO_HOLDS.get(ext if ext == "opus" else muxer)
    if holds is not None and video is None and audio is not None:
        encoded = audio.codec.startswith("pcm_") and muxer in AUDIO_ENCODERS
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
AUDIO_ENCODERS = {
    "mp4": "aac", "ipod": "aac", "adts": "aac", "mpegts": "aac", "webm": "libopus",
    "ogg": "libopus", "mp3": "libmp3lame", "flac": "flac",
}  # fmt: skip


def encodes_pcm(info: MediaInfo, muxer: str) -> bool:
    """Whether the copy path encodes the results' PCM audio (``audio='pcm'`` chunks)."""
    audio = info.audio
    return audio is not None and audio.codec.startswith("pcm_") and muxer in AUDIO_ENCODERS


# The PCM codecs a WAV file holds as they are (the muxer has no tag for big-endian ones).
_WAV_PCM = frozenset({"pcm_u8", "pcm_s16le", "pcm_s24le", "pcm_s32le", "pcm_f32le", "pcm_f64le"})


def wav_codec(audio: AudioTrack | None) -> str:
    """The PCM a re-encoded WAV gets: the results' own PCM, else as many bits as their
    decoder gives (a 24-bit FLAC decodes to 32-bit integers), 16 for lossy codecs'
    floating-point samples."""
    if audio is None:
        return "pcm_s16le"
    if audio.codec in _WAV_PCM:
        return audio.codec
    return "pcm_s32le" if audio.sample_format.startswith("s32") else "pcm_s16le"


@functools.cache
def _libopus_in_matroska(ffmpeg: str) -> tuple[bool, float]:
    """Whether ``ffmpeg``'s Matroska muxer moves every stream later by an Opus track's
    pre-skip, and the pre-skip (seconds) of the libopus encoder the join uses, read from
    the OpusHead it writes rather than assumed: libavformat 59 (ffmpeg 5.1) took Matroska
    for a format without negative times, so the encoder's first packet (at minus its
    pre-skip) shifted the video too, while readers still take the CodecDelay off the Opus
    blocks: the video played 6.5 ms late against the audio, once more every time 5.1 wrote
    the file. Later muxers let the Opus track alone start below zero. Asked of the muxer
    itself (a 50 ms write, once per ffmpeg) rather than read off a version.

    Only the join's own encoder is measured here: a result's Opus track is placed by its
    packets' times, which its demuxer derives from that stream's own pre-skip (Ogg) or
    CodecDelay (Matroska), whatever encoder wrote it."""
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
            return False, 0.0
        with open_media(written) as container:
            where = f"{Path(ffmpeg).name}'s libopus"
            pre_skip = opus_pre_skip(container.streams[0], where) / 48000
            pcm = container.streams[1]
            first = next((p for p in container.demux(pcm) if p.pts is not None), None)
            return first is not None and first.pts > 0, pre_skip


def moves_beside_opus(muxer: str) -> bool:
    """Whether this ffmpeg writing ``muxer`` moves the other streams by an Opus track's
    pre-skip (see :func:`_libopus_in_matroska`)."""
    return muxer in {"webm", "matroska"} and _libopus_in_matroska(find_ffmpeg())[0]


def libopus_pre_skip() -> float:
    """Seconds of the pre-skip the join's libopus encoder gives its first packet."""
    return _libopus_in_matroska(find_ffmpeg())[1]


def opus_lead(info: MediaInfo, muxer: str) -> float:
    """Seconds the copy path's first Opus packet comes before zero: a copied track's own
    start, or the pre-skip of the encoder for PCM results; 0 for other codecs."""
    audio = info.audio
    if audio is None:
        return 0.0
    if encodes_pcm(info, muxer):
        return libopus_pre_skip() if AUDIO_ENCODERS[muxer] == "libopus" else 0.0
    return max(0.0, -audio.start) if audio.codec == "opus" else 0.0
