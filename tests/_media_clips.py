"""Tiny clips generated with the imageio-ffmpeg binary, and counts read back with PyAV."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import av
import numpy as np

from bytenite_runtime.media import run_ffmpeg

# H.264 with B-frames and a keyframe every 25 frames (0.833 s at 30 fps: it divides no
# segment length the tests ask for), AAC; VP9 every 20 frames at 25 fps, Opus.
VIDEO_RECIPES = {
    "mp4": ["-c:v", "libx264", "-preset", "ultrafast", "-bf", "2", "-g", "25",
            "-keyint_min", "25", "-sc_threshold", "0", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "64k"],
    "webm": ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-g", "20",
             "-c:a", "libopus", "-b:a", "48k"],
}  # fmt: skip
RATES = {"mp4": 30, "webm": 25}
AUDIO_RECIPES = {
    "m4a": ["-c:a", "aac", "-b:a", "64k"],
    "aac": ["-c:a", "aac", "-b:a", "64k"],
    "wav": ["-c:a", "pcm_s16le"],
    "flac": ["-c:a", "flac"],
    "mp3": ["-c:a", "libmp3lame", "-b:a", "64k"],
    "opus": ["-c:a", "libopus", "-b:a", "48k"],
    "ogg": ["-c:a", "libvorbis"],
}


def ffmpeg(*args: str) -> None:
    run_ffmpeg(args, what="making a test clip")


def make_video(path: Path, seconds: float = 4.0) -> Path:
    ext = path.suffix.lstrip(".")
    rate = RATES[ext]
    ffmpeg(
        "-f", "lavfi", "-i", f"testsrc=size=160x120:rate={rate}:duration={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
        *VIDEO_RECIPES[ext], "-shortest", str(path),
    )  # fmt: skip
    return path


def make_sync_marks(path: Path, seconds: int = 4, opus: Sequence[str] = ()) -> Path:
    """A VP9/Opus WebM, black but for one white frame 0.48 s into every second, with a 2 ms
    click under each: where both fall in a file tells its audio's offset to its video;
    ``opus``: more options for its Opus encoder."""
    rate = RATES["webm"]
    flash = f"geq=lum='if(eq(mod(N\\,{rate})\\,{rate * 12 // 25})\\,235\\,16)':cb=128:cr=128"
    ffmpeg(
        "-f", "lavfi", "-i", f"color=black:size=160x120:rate={rate}:duration={seconds},{flash}",
        "-f", "lavfi", "-i",
        f"aevalsrc='if(between(mod(t\\,1)\\,0.48\\,0.482)\\,0.9\\,0)':s=48000:d={seconds}",
        *VIDEO_RECIPES["webm"], *opus, "-shortest", str(path),
    )  # fmt: skip
    return path


def sync_offsets(path: Path) -> list[float]:
    """Seconds from each white frame of a :func:`make_sync_marks` clip to its click, as a
    player places them (positive: the sound comes late)."""
    flashes, clicks = [], []
    with av.open(str(path)) as container:
        for frame in container.decode(container.streams.video[0]):
            if frame.to_ndarray(format="gray").mean() > 128:
                flashes.append(float(frame.pts * frame.time_base))
    with av.open(str(path)) as container:
        for frame in container.decode(container.streams.audio[0]):
            start = float(frame.pts * frame.time_base)
            for at in np.flatnonzero(np.abs(frame.to_ndarray()[0]) > 0.3):
                heard = start + at / frame.sample_rate
                if not clicks or heard - clicks[-1] > 0.3:
                    clicks.append(heard)
    assert len(flashes) == len(clicks), (flashes, clicks)
    return [c - f for f, c in zip(flashes, clicks, strict=True)]


def hide_last_frame(path: Path, rate: int) -> Path:
    """Shorten the video track's MP4 edit list by one frame, as ffmpeg 5.1 leaves a
    variable-rate encode: the last frame is still stored, but players never show it."""
    data = bytearray(path.read_bytes())

    def children(start: int, end: int) -> list[tuple[str, int, int]]:
        found = []
        while start < end:
            size, kind = struct.unpack(">I4s", data[start : start + 8])
            found.append((kind.decode("latin-1"), start, start + size))
            start += size
        return found

    (moov,) = [(s, e) for kind, s, e in children(0, len(data)) if kind == "moov"]
    boxes = {kind: (s, e) for kind, s, e in children(moov[0] + 8, moov[1])}
    timescale = struct.unpack(">I", data[boxes["mvhd"][0] + 20 : boxes["mvhd"][0] + 24])[0]
    for kind, start, end in children(moov[0] + 8, moov[1]):
        inside = {k: (s, e) for k, s, e in children(start + 8, end)} if kind == "trak" else {}
        mdia = inside.get("mdia")
        if "edts" not in inside or mdia is None:
            continue
        hdlr = {k: s for k, s, _ in children(mdia[0] + 8, mdia[1])}["hdlr"]
        if data[hdlr + 16 : hdlr + 20] != b"vide":
            continue
        (elst,) = [s for k, s, _ in children(inside["edts"][0] + 8, inside["edts"][1])]
        assert data[elst + 8] == 0, "a version 0 edit list"
        at = elst + 16  # the first entry's segment duration, in the movie's time scale
        length = struct.unpack(">I", data[at : at + 4])[0]
        data[at : at + 4] = struct.pack(">I", length - -(-timescale // rate))  # ceiling
        path.write_bytes(data)
        return path
    raise AssertionError(f"{path.name}: no video edit list")


def cut_with_lead_in(source: Path, path: Path, at: float) -> Path:
    """``source`` from ``at`` seconds, stream-copied as users cut MP4s: the packets from the
    keyframe before ``at`` are kept (the decoder needs them), and the edit list hides them."""
    ffmpeg("-ss", f"{at}", "-i", str(source), "-c", "copy", str(path))
    return path


def make_audio(path: Path, seconds: float = 3.0) -> Path:
    ffmpeg(
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
        *AUDIO_RECIPES[path.suffix.lstrip(".")], str(path),
    )  # fmt: skip
    return path


def decoded_counts(path: Path, *, untrimmed: bool = False) -> tuple[int, int]:
    """(video frames, audio samples) a player would get from ``path``; ``untrimmed``:
    every decoded sample, the priming and padding the container trims included (PyAV 19
    trims both ends by the MP4 edit list, older PyAV only the start)."""
    frames = samples = 0
    with av.open(str(path)) as container:
        if untrimmed:
            for stream in container.streams.audio:
                stream.codec_context.options = {"flags2": "+skip_manual"}
        for frame in container.decode(*container.streams):
            if isinstance(frame, av.VideoFrame):
                frames += 1
            else:
                samples += frame.samples
    return frames, samples


def grey_frames(path: Path) -> list[Any]:
    """Every video frame a player shows, as a grey numpy array."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [f.to_ndarray(format="gray").astype("int16") for f in container.decode(stream)]


def frame_times(path: Path) -> list[float]:
    """Presentation times of the video frames, in decode order of output."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [float(f.pts * stream.time_base) for f in container.decode(stream)]


def make_variable_rate(path: Path) -> Path:
    """1 s at 30 fps then 1 s at 10 fps, H.264 with B-frames, and AAC: frame durations vary."""
    encoded = path.with_name(f"encoded-{path.name}")
    ffmpeg(
        "-filter_complex", "testsrc=size=160x120:rate=30:d=1[a];"
        "testsrc=size=160x120:rate=10:d=1[b];[a][b]concat=n=2:v=1:a=0[v]",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=2",
        "-map", "[v]", "-map", "0:a", *VIDEO_RECIPES["mp4"], "-fps_mode", "vfr", str(encoded),
    )  # fmt: skip
    # ffmpeg 5.1 (unlike 9.x) passes a vfr encode no frame durations: the last packet's is 0,
    # the MP4 edit list then ends before the last frame shown, and readers drop that frame
    # (39 frames, not 40). Remuxed with the 0.1 s it lasts, the clip is the same on both.
    with av.open(str(encoded)) as source, av.open(str(path), "w") as out:
        streams = {s.index: out.add_stream_from_template(s) for s in source.streams}
        packets = [p for p in source.demux() if p.size]
        last = [p for p in packets if p.stream.type == "video"][-1]
        if not last.duration:
            last.duration = round(0.1 / last.time_base)
        for packet in packets:
            packet.stream = streams[packet.stream_index]
            out.mux(packet)
    encoded.unlink()
    return path
