"""The ``concat`` assembler on media: drift named by chunk, re-encoding when codecs differ,
one open per file."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from _media_clips import (
    RATES,
    VIDEO_RECIPES,
    decoded_counts,
    ffmpeg,
    frame_times,
    make_audio,
    make_sync_marks,
    make_video,
    sync_offsets,
)

from bytenite_runtime import DataError
from bytenite_runtime.chunks import result_name
from bytenite_runtime.media.probe import probe
from bytenite_runtime.media.slots import meta_from_tags
from bytenite_runtime.testing import PartitionedChunk, run_assembler, run_partitioner


@pytest.fixture(scope="module")
def chunks(tmp_path_factory: pytest.TempPathFactory) -> list[PartitionedChunk]:
    clip = make_video(tmp_path_factory.mktemp("clip") / "clip.mp4", 3.0)
    return run_partitioner("time-chunk", {"clip.mp4": clip.read_bytes()}, {"segment_seconds": 1})


def _results(parts: list[bytes], name: str = "out.mp4") -> dict[str, bytes]:
    return {result_name(name, i): part for i, part in enumerate(parts)}


def _through_app(chunks: list[PartitionedChunk], folder: Path, ext: str, *args: str) -> list[bytes]:
    """Each chunk's result from an app that runs ``ffmpeg -i chunk ARGS result.EXT``."""
    parts = []
    for n, chunk in enumerate(chunks):
        source, result = folder / f"c{n}.mp4", folder / f"r{n}.{ext}"
        source.write_bytes(chunk.data)
        ffmpeg("-i", str(source), *args, str(result))
        parts.append(result.read_bytes())
    return parts


def test_a_chunk_that_lost_frames_is_named(chunks: list[PartitionedChunk], tmp_path: Path) -> None:
    """A result with fewer frames than its chunk metadata says fails naming that chunk."""
    source, short = tmp_path / "c1.mp4", tmp_path / "short.mp4"
    source.write_bytes(chunks[1].data)
    # ffmpeg copies the chunk's comment tag (its metadata) to the output by default.
    ffmpeg("-i", str(source), "-frames:v", "10", "-c", "copy", str(short))
    parts = [chunks[0].data, short.read_bytes(), *(c.data for c in chunks[2:])]
    with pytest.raises(DataError, match=r"^chunk 1: 10 video frames, but its chunk metadata says"):
        run_assembler("concat", _results(parts))
    joined = run_assembler("concat", _results(parts), {"verify_frames": False})
    assert joined["out.mp4"]


def test_differing_codecs_are_re_encoded(chunks: list[PartitionedChunk], tmp_path: Path) -> None:
    """One result re-encoded to another codec and size: the join re-encodes, keeping every frame."""
    source, odd = tmp_path / "c1.mp4", tmp_path / "odd.mp4"
    source.write_bytes(chunks[1].data)
    ffmpeg("-i", str(source), "-c:v", "mpeg4", "-s", "320x240", "-c:a", "copy", str(odd))
    parts = [chunks[0].data, odd.read_bytes(), *(c.data for c in chunks[2:])]
    out = tmp_path / "out.mp4"
    out.write_bytes(run_assembler("concat", _results(parts))["out.mp4"])
    expected = sum(c.meta.fields["frames"] for c in chunks if c.meta)
    assert decoded_counts(out)[0] == expected


@pytest.mark.parametrize("ext", ["mp4", "mkv"])
def test_audio_an_app_re_encoded_per_chunk_is_named_where_it_overlaps(
    chunks: list[PartitionedChunk], tmp_path: Path, ext: str
) -> None:
    """A result whose audio the app re-encoded (ffmpeg's default for an MP4 output): its
    encoder's priming starts the audio a frame before the video, over the end of the
    previous chunk's; the join fails naming that chunk and the fix, not with a bare count."""
    parts = _through_app(chunks, tmp_path, ext, "-c:v", "copy", "-c:a", "aac")
    with pytest.raises(
        DataError,
        match=r"^chunk 1: its audio overlaps chunk 0's by 0\.0\d\d s where they meet .*"
        r"\(ffmpeg -c:a copy\)",
    ):
        run_assembler("concat", _results(parts, f"out.{ext}"))


def _lag(joined: Path, source: Path, at: float) -> int:
    """Samples by which ``joined``'s audio at ``at`` seconds lags ``source``'s (both placed
    by their first frame's time), found by cross-correlating 50 ms."""

    def samples(path: Path) -> Any:
        with av.open(str(path)) as container:
            frames = list(container.decode(container.streams.audio[0]))
        lead = round(float(frames[0].pts * frames[0].time_base) * 48000)
        pcm = np.concatenate([f.to_ndarray()[0] for f in frames])
        return np.concatenate([np.zeros(lead), pcm]) if lead > 0 else pcm[-lead:]

    near, far = samples(joined), samples(source)
    start = round(at * 48000)
    window = near[start : start + 2400]
    return max(
        range(-960, 961), key=lambda lag: float(window @ far[start - lag : start - lag + 2400])
    )


@pytest.mark.parametrize(
    ("ext", "app_audio"), [("mp4", "copy"), ("mp4", "aac"), ("webm", "copy"), ("webm", "libopus")]
)
def test_a_re_encoded_join_keeps_the_video_continuous_and_the_audio_in_sync(
    tmp_path: Path, ext: str, app_audio: str
) -> None:
    """reencode=true places each result's frames and samples after the previous result's
    last frame: audio overhanging a chunk's last frame, or an app encoder's priming, no
    longer pushes the next chunk's video late, and the audio keeps one offset to the
    source's at every joint (none in MP4; ~13 ms in WebM written by ffmpeg 5.1, whose muxer
    moved the video of the clip and of each result an Opus pre-skip late, and the join
    places results by their video)."""
    clip = tmp_path / f"clip.{ext}"
    rate = RATES[ext]
    noise = "anoisesrc=r=48000:d=4:seed=1:a=0.5"
    ffmpeg("-f", "lavfi", "-i", f"testsrc=size=160x120:rate={rate}:duration=4", "-f", "lavfi",
           "-i", noise, *VIDEO_RECIPES[ext], str(clip))  # fmt: skip
    files = {clip.name: clip.read_bytes()}
    chunks = run_partitioner("time-chunk", files, {"segment_seconds": 1})
    parts = []
    for n, chunk in enumerate(chunks):
        source, result = tmp_path / f"c{n}.{ext}", tmp_path / f"r{n}.{ext}"
        source.write_bytes(chunk.data)
        ffmpeg("-i", str(source), "-c:v", "copy", "-c:a", app_audio, str(result))
        parts.append(result.read_bytes())
    name = f"out.{ext}"
    out = tmp_path / name
    out.write_bytes(run_assembler("concat", _results(parts, name), {"reencode": True})[name])
    times = frame_times(out)
    assert np.diff(times) == pytest.approx([1 / rate] * (4 * rate - 1), abs=0.002)
    lags = [_lag(out, clip, at) for at in (0.5, 1.5, 2.5, 3.5)]
    assert max(lags) - min(lags) <= 96 and max(map(abs, lags)) <= (48 if ext == "mp4" else 960)


@pytest.mark.parametrize(
    ("audio", "reencode", "ext"),
    [
        ("copy", True, "webm"),
        ("copy", False, "webm"),
        ("copy", False, "mkv"),
        ("pcm", False, "webm"),
    ],
)
def test_a_webm_join_keeps_the_source_audio_to_video_offset(
    tmp_path: Path, audio: str, reencode: bool, ext: str
) -> None:
    """A join of WebM chunks (re-encoded, Opus copied, or PCM chunks encoded to Opus) plays
    each click within 1.5 ms (Matroska's millisecond times, rounded twice) of where the
    source plays it against its white frame: ffmpeg 5.1's Matroska muxer no longer moves
    the video an Opus pre-skip (6.5 ms) late on writing."""
    clip = make_sync_marks(tmp_path / "marks.webm")
    params = {"segment_seconds": 1, "audio": audio}
    chunks = run_partitioner("time-chunk", {clip.name: clip.read_bytes()}, params)
    out = tmp_path / f"out.{ext}"
    parts = _results([c.data for c in chunks], out.name)
    out.write_bytes(run_assembler("concat", parts, {"reencode": reencode})[out.name])
    source, joined = sync_offsets(clip), sync_offsets(out)
    assert len(joined) == len(source) == 4
    assert max(abs(j - s) for j, s in zip(joined, source, strict=True)) <= 0.0015


@pytest.mark.parametrize("verify", [True, False])
def test_a_result_without_video_among_results_with_video_is_named(
    chunks: list[PartitionedChunk], tmp_path: Path, verify: bool
) -> None:
    """One result without a video stream (an app that wrote only audio for one chunk) is an
    error naming that chunk, with or without verify_frames, not a join that drops the video
    of every chunk and succeeds with an audio-only file."""
    source, audio_only = tmp_path / "c1.mp4", tmp_path / "a1.mp4"
    source.write_bytes(chunks[1].data)
    ffmpeg("-i", str(source), "-vn", "-c:a", "copy", str(audio_only))
    parts = [chunks[0].data, audio_only.read_bytes(), *(c.data for c in chunks[2:])]
    with pytest.raises(DataError, match=r"^chunk 1: no video stream, but chunk 0's result has "):
        run_assembler("concat", _results(parts), {"verify_frames": verify})


def test_reencode_param_and_media_format_for_any_name(
    chunks: list[PartitionedChunk], tmp_path: Path
) -> None:
    """format='media' joins results whatever their names, reencode=true even when codecs match."""
    parts = [c.data for c in chunks]
    copied = run_assembler("concat", _results(parts, "video.bin"), {"format": "media"})
    assert copied["video.bin"].startswith(b"\x1aE\xdf\xa3")  # Matroska for an unknown extension
    out = tmp_path / "out.mp4"
    out.write_bytes(run_assembler("concat", _results(parts), {"reencode": True})["out.mp4"])
    assert decoded_counts(out)[0] == 90


def test_a_re_encoded_mp4_join_keeps_its_last_frame(tmp_path: Path) -> None:
    """A re-encoded MP4 join of 25 fps results shows its last frame for a whole frame:
    ffmpeg 5.1 gave the encoder's last frame no duration, and the edit list then hid it
    (74 of 75 frames, and the job failed its own frame check)."""
    clip = tmp_path / "clip.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=25:duration=3", "-c:v", "libx264",
           "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p", str(clip))  # fmt: skip
    chunks = run_partitioner("time-chunk", {clip.name: clip.read_bytes()}, {"segment_seconds": 1})
    out = tmp_path / "out.mp4"
    parts = _results([c.data for c in chunks])
    out.write_bytes(run_assembler("concat", parts, {"reencode": True})["out.mp4"])
    assert decoded_counts(out)[0] == 75
    video = probe(out).video
    assert video is not None
    assert video.end == pytest.approx(3.0, abs=0.001)


def test_bytes_format_still_appends_media_files(chunks: list[PartitionedChunk]) -> None:
    """format='bytes' keeps the old behaviour: files appended as they are."""
    parts = [c.data for c in chunks]
    joined = run_assembler("concat", _results(parts), {"format": "bytes"})
    assert joined["out.mp4"] == b"".join(parts)


def _audio_packets(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for p in container.demux(container.streams.audio[0]) if p.size)


@pytest.mark.parametrize("name", ["out.mp4", "out.mkv"])
def test_the_first_results_audio_priming_survives_a_video_without_b_frames(
    chunks: list[PartitionedChunk], tmp_path: Path, name: str
) -> None:
    """Results whose video an app re-encoded without B-frames (its first frame decodes at
    0) keep the first result's audio priming packet, joined in-process into MP4 or by
    ffmpeg into Matroska: the join holds every audio packet of the chunks."""
    parts, packets = [], 0
    for i, chunk in enumerate(chunks):
        source, out = tmp_path / f"c{i}.mp4", tmp_path / f"o{i}.mp4"
        source.write_bytes(chunk.data)
        packets += _audio_packets(source)
        ffmpeg("-i", str(source), "-c:v", "libx264", "-bf", "0", "-c:a", "copy", str(out))
        parts.append(out.read_bytes())
    joined = tmp_path / name
    joined.write_bytes(run_assembler("concat", _results(parts), {"output_name": name})[name])
    assert _audio_packets(joined) == packets


def test_each_result_is_opened_once_and_the_output_once(
    chunks: list[PartitionedChunk], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Verification reads each result's metadata from the open that probes it, and the join
    copies from that same open: one open per result, then the joined file written and
    read back once, with the counts still checked."""
    import av

    opened: list[str] = []
    real_open = av.open

    def counting_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(Path(str(file)).name)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(av, "open", counting_open)
    joined = run_assembler("concat", _results([c.data for c in chunks]))
    assert joined["out.mp4"]
    names = [f"chunk-{i:06d}.out.mp4" for i in range(len(chunks))]
    assert sorted(opened) == sorted([*names, "out.mp4", "out.mp4"])


def test_results_probed_together_fail_on_the_first_bad_one_in_order(tmp_path: Path) -> None:
    """Results are probed on several threads, yet a failure names the first bad result in
    chunk order, as a one-by-one probe would."""
    from bytenite_runtime.media.join import _probe_all

    paths = [tmp_path / f"chunk-{i:06d}.out.mp4" for i in range(4)]
    for i, path in enumerate(paths):
        if i in (1, 3):
            path.write_bytes(b"not media")
        else:
            make_video(path, 0.5)
    with pytest.raises(DataError, match=r"^chunk-000001\.out\.mp4: not a readable media file"):
        _probe_all(paths)
    good = _probe_all([paths[0], paths[2]])
    assert [info.video.frames if info.video else 0 for info in good] == [15, 15]


def test_chunk_metadata_in_tags_is_read_and_bad_json_is_named() -> None:
    """The comment tag yields the chunk metadata whatever its key's case; a damaged one is a
    DataError naming the file; a foreign comment is no metadata."""
    from bytenite_runtime.chunks import META_TEXT_PREFIX as PREFIX
    from bytenite_runtime.chunks import ChunkMeta
    from bytenite_runtime.media.slots import encode_comment, meta_from_tags

    meta = ChunkMeta(2, 6, "clip.mp4", {"frames": 30})
    assert meta_from_tags({"COMMENT": encode_comment(meta)}, Path("a.mkv")) == meta
    assert meta_from_tags({"comment": "made with love"}, Path("a.mkv")) is None
    with pytest.raises(DataError, match=r"^a\.mkv: metadata under 'bytenite.chunk' is not valid"):
        meta_from_tags({"comment": PREFIX + "{"}, Path("a.mkv"))


@pytest.mark.parametrize(
    ("left_out", "detail"),
    [
        (1, r"chunk 1 of 'clip.mp4' is missing.*\(chunk 0 ends at 0.833 s, chunk 2 starts at 1.6"),
        (0, r"chunk 0 of 'clip.mp4' is missing.*\(the first result, chunk 1, starts at 0.833 s\)"),
        (2, r"chunk 2 of 'clip.mp4' is missing .* \(the last result is chunk 1 of 3\)"),
    ],
)  # fmt: skip
def test_a_chunk_missing_from_the_results_is_named(
    chunks: list[PartitionedChunk], left_out: int, detail: str
) -> None:
    """A result missing at the start, middle or end is an error naming that chunk, not a
    join that silently skips its stretch of the source; verify_frames=false joins the rest."""
    results = {result_name("out.mp4", i): c.data for i, c in enumerate(chunks) if i != left_out}
    with pytest.raises(DataError, match=rf"^out.mp4: {detail}"):
        run_assembler("concat", results)
    assert run_assembler("concat", results, {"verify_frames": False})["out.mp4"]


def test_the_last_chunk_of_one_source_missing_before_the_next_source_is_named(
    tmp_path: Path,
) -> None:
    """Two sources cut in one job (their chunks carry no count): a gap in the chunk indices
    where one source ends and the next begins is an error naming the missing chunk, not a
    join that silently drops the end of the first source."""
    clip = make_video(tmp_path / "clip.mp4", 2.0).read_bytes()
    cut = run_partitioner("time-chunk", {"a.mp4": clip, "b.mp4": clip}, {"num_chunks": 2})
    assert [c.meta.source for c in cut if c.meta] == ["a.mp4", "a.mp4", "b.mp4", "b.mp4"]
    results = {result_name("out.mp4", i): c.data for i, c in enumerate(cut) if i != 1}
    with pytest.raises(
        DataError,
        match=r"^out.mp4: chunk 1 is missing from the results \(between chunk 0 of 'a.mp4', "
        r"which ends at 0.833 s, and chunk 2 of 'b.mp4'\)",
    ):
        run_assembler("concat", results)
    assert run_assembler("concat", results, {"verify_frames": False})["out.mp4"]


def test_a_source_whose_results_have_another_name_is_not_missing(tmp_path: Path) -> None:
    """Three sources cut in one job, the middle one's result written under another name (an
    app keeping each source's container): each output joins without a chunk called missing."""
    clip = make_video(tmp_path / "clip.mp4", 1.0).read_bytes()
    files = {"a.mp4": clip, "b.mp4": clip, "c.mp4": clip}
    cut = run_partitioner("time-chunk", files, {"num_chunks": 1})
    names = ["out.mp4", "out.mkv", "out.mp4"]
    results = {result_name(names[i], i): c.data for i, c in enumerate(cut)}
    assert set(run_assembler("concat", results)) == {"out.mp4", "out.mkv"}


def test_mp3_results_at_another_rate_are_re_encoded_and_pass_the_audio_check(
    tmp_path: Path,
) -> None:
    """An MP3 result resampled by the app forces a re-encode, whose joined-duration check
    allows for the delay and padding each decoded result drops, instead of failing."""
    tone = make_audio(tmp_path / "tone.mp3", 3.0)
    chunks = run_partitioner("time-chunk", {"tone.mp3": tone.read_bytes()}, {"num_chunks": 3})
    middle, resampled = tmp_path / "c1.mp3", tmp_path / "c1-44k.mp3"
    middle.write_bytes(chunks[1].data)
    ffmpeg("-i", str(middle), "-c:a", "libmp3lame", "-ar", "44100", str(resampled))
    parts = [chunks[0].data, resampled.read_bytes(), chunks[2].data]
    out = tmp_path / "out.mp3"
    out.write_bytes(run_assembler("concat", _results(parts, "out.mp3"))["out.mp3"])
    # A mid-stream MP3 chunk decoded alone loses its first frame's reservoir (about 500
    # samples), and the app's resampled chunk its own delay: a frame or so per result.
    assert abs(decoded_counts(out)[1] - decoded_counts(tone)[1]) <= (len(parts) + 2) * 1152


@pytest.mark.parametrize(
    ("source", "out"), [("opus", "wav"), ("opus", "m4a"), ("m4a", "mp3"), ("flac", "m4a"),
                        ("mp3", "ogg"), ("ogg", "aac"), ("ogg", "opus")],
)  # fmt: skip
def test_audio_codecs_an_audio_container_cannot_hold_are_re_encoded(
    tmp_path: Path, source: str, out: str
) -> None:
    """Audio-only results joined into a container that cannot hold their codec (Opus into
    .wav or .m4a, AAC into .mp3, Vorbis into .opus…) are re-encoded with a warning, not a
    bare ffmpeg error or a file players do not take for what its name says."""
    tone = make_audio(tmp_path / f"tone.{source}", 1.0)
    chunks = run_partitioner("time-chunk", {tone.name: tone.read_bytes()}, {"num_chunks": 2})
    name = f"out.{out}"
    joined = tmp_path / name
    joined.write_bytes(run_assembler("concat", _results([c.data for c in chunks], name))[name])
    if out == "opus":
        with av.open(str(joined)) as container:
            assert container.streams.audio[0].codec_context.name == "opus"
    # An MP3 chunk decoded alone loses its bit reservoir and delay: a frame or so each.
    assert abs(decoded_counts(joined)[1] - decoded_counts(tone)[1]) <= (len(chunks) + 2) * 1152


def test_24_bit_flac_joined_into_wav_keeps_every_bit(tmp_path: Path) -> None:
    """FLAC results re-encoded into a .wav keep the 24 bits their decoder gives (32-bit
    PCM), sample for sample, instead of being cut down to 16 bits."""
    tone = tmp_path / "tone.flac"
    # A floating-point tone, so its 24-bit samples use the bits below the top 16.
    ffmpeg("-f", "lavfi", "-i", "aevalsrc=0.5*sin(2*PI*440*t):s=48000:d=1",
           "-c:a", "flac", "-sample_fmt", "s32", str(tone))  # fmt: skip
    chunks = run_partitioner("time-chunk", {tone.name: tone.read_bytes()}, {"num_chunks": 2})
    joined = tmp_path / "out.wav"
    results = _results([c.data for c in chunks], joined.name)
    joined.write_bytes(run_assembler("concat", results)[joined.name])

    def samples(path: Path) -> np.ndarray:
        with av.open(str(path)) as container:
            frames = container.decode(container.streams.audio[0])
            return np.concatenate([frame.to_ndarray().ravel() for frame in frames])

    source = samples(tone)
    assert source.dtype == np.int32 and np.any(source & 0xFF00)  # bits below the top 16
    assert np.array_equal(samples(joined), source)


def test_codecs_webm_cannot_hold_are_re_encoded(tmp_path: Path) -> None:
    """exact-mode chunks of a WebM are H.264: joined as .webm they are re-encoded to VP9 (with
    a warning) instead of failing in ffmpeg's WebM muxer."""
    clip = make_video(tmp_path / "clip.webm", 2.0)
    params = {"num_chunks": 2, "mode": "exact"}
    chunks = run_partitioner("time-chunk", {"clip.webm": clip.read_bytes()}, params)
    out = tmp_path / "out.webm"
    out.write_bytes(
        run_assembler("concat", _results([c.data for c in chunks], "out.webm"))["out.webm"]
    )
    assert decoded_counts(out)[0] == decoded_counts(clip)[0]


def _first_sound(path: Path) -> float:
    """Seconds into ``path`` where the audio first rises above silence."""
    with av.open(str(path)) as container:
        for frame in container.decode(container.streams.audio[0]):
            loud = np.flatnonzero(np.abs(frame.to_ndarray()[0]) > 0.01)
            if loud.size:
                return float(frame.pts * frame.time_base) + loud[0] / frame.sample_rate
    raise AssertionError("silent")


def test_audio_ending_before_the_video_is_kept(tmp_path: Path) -> None:
    """Audio that stops after 1 s of a 3 s video leaves the last chunks without an audio
    stream: the join keeps the track (it used to re-encode without any audio)."""
    clip = make_video(tmp_path / "clip.mp4", 3.0)
    short = tmp_path / "short.mp4"
    ffmpeg("-i", str(clip), "-c:v", "copy", "-af", "atrim=end=1", "-c:a", "aac", str(short))
    chunks = run_partitioner("time-chunk", {"short.mp4": short.read_bytes()}, {"num_chunks": 3})
    out = tmp_path / "out.mp4"
    out.write_bytes(run_assembler("concat", _results([c.data for c in chunks]))["out.mp4"])
    assert decoded_counts(out)[0] == 90
    assert abs(decoded_counts(out)[1] - decoded_counts(short)[1]) <= 1024


def test_audio_starting_after_the_first_chunk_stays_in_sync(tmp_path: Path) -> None:
    """Audio that starts 2 s into the video is missing from chunk 0: the join re-encodes with
    silence for that chunk and the audio still starts at 2 s, not earlier."""
    clip = make_video(tmp_path / "clip.mp4", 3.0)
    late = tmp_path / "late.mp4"
    ffmpeg("-i", str(clip), "-itsoffset", "2", "-i", str(clip), "-map", "0:v", "-map", "1:a",
           "-c", "copy", "-t", "3", str(late))  # fmt: skip
    chunks = run_partitioner("time-chunk", {"late.mp4": late.read_bytes()}, {"num_chunks": 3})
    assert chunks[0].meta is not None and chunks[0].meta.fields["samples"] == 0
    out = tmp_path / "out.mp4"
    out.write_bytes(run_assembler("concat", _results([c.data for c in chunks]))["out.mp4"])
    assert _first_sound(out) == pytest.approx(_first_sound(late), abs=0.025)


def test_a_re_encoded_join_fills_audio_starting_inside_the_first_chunk_with_silence(
    tmp_path: Path,
) -> None:
    """reencode=true joins results whose audio starts 0.7 s into chunk 0's video with
    silence before it, the sound still at 0.7 s, where the audio check failed the job."""
    clip = make_video(tmp_path / "clip.mp4", 3.0)
    late = tmp_path / "late.mp4"
    ffmpeg("-i", str(clip), "-itsoffset", "0.7", "-i", str(clip), "-map", "0:v", "-map", "1:a",
           "-c", "copy", "-t", "3", str(late))  # fmt: skip
    chunks = run_partitioner("time-chunk", {"late.mp4": late.read_bytes()}, {"num_chunks": 2})
    assert chunks[0].meta is not None and chunks[0].meta.fields["samples"] > 0
    out = tmp_path / "out.mp4"
    parts = _results([c.data for c in chunks])
    out.write_bytes(run_assembler("concat", parts, {"reencode": True})["out.mp4"])
    assert decoded_counts(out)[0] == 90
    assert _first_sound(out) == pytest.approx(_first_sound(late), abs=0.025)


@pytest.mark.parametrize("mode", ["copy", "exact"])
def test_matroska_audio_ending_before_the_video_is_kept(tmp_path: Path, mode: str) -> None:
    """A Matroska whose audio stops after 1 s of 3 s gives the last chunk no audio stream (not an
    empty one, which Matroska would keep) and no samples, and the join keeps the track."""
    clip = make_video(tmp_path / "clip.mp4", 3.0)
    short = tmp_path / "short.mkv"
    ffmpeg("-i", str(clip), "-c:v", "copy", "-af", "atrim=end=1", "-c:a", "aac", str(short))
    params = {"num_chunks": 3, "mode": mode, "gpu": "off"}
    chunks = run_partitioner("time-chunk", {"short.mkv": short.read_bytes()}, params)
    last = chunks[-1]
    assert last.meta is not None and last.meta.fields["samples"] == 0
    with av.open(BytesIO(last.data)) as container:
        assert not container.streams.audio
    out = tmp_path / "out.mkv"
    out.write_bytes(
        run_assembler("concat", _results([c.data for c in chunks], "out.mkv"))["out.mkv"]
    )
    assert decoded_counts(out)[0] == 90
    assert abs(decoded_counts(out)[1] - decoded_counts(short)[1]) <= 1024


@pytest.mark.parametrize(
    ("source", "name", "reencode"),
    [
        ("clip.mp4", "out.mkv", False),
        ("clip.mp4", "out.mp4", True),
        ("clip.mp4", "out.mkv", True),
        ("tone.ogg", "out.ogg", False),
    ],
)
def test_the_joined_file_carries_no_chunk_metadata(
    tmp_path: Path, source: str, name: str, reencode: bool
) -> None:
    """The join's output holds no chunk metadata, by the concat demuxer, a re-encode
    (through NUT or straight) or Vorbis joined in-process: the last three copied chunk 0's
    comment tag, and the output claimed to be chunk 0 of 3, 1 s long."""
    clip = tmp_path / source
    make_video(clip, 3.0) if source.endswith(".mp4") else make_audio(clip, 3.0)
    chunks = run_partitioner("time-chunk", {clip.name: clip.read_bytes()}, {"segment_seconds": 1})
    assert meta_from_tags(probe_tags(chunks[0].data, tmp_path / "c0"), clip) is not None
    parts = _results([c.data for c in chunks], name)
    out = tmp_path / name
    out.write_bytes(run_assembler("concat", parts, {"reencode": reencode})[name])
    assert meta_from_tags(probe(out).tags, out) is None


def test_an_apps_own_comment_is_kept_in_the_join(
    chunks: list[PartitionedChunk], tmp_path: Path
) -> None:
    """A comment tag the app wrote over the chunk's metadata is the app's, and a re-encoded
    join, which keeps the first result's tags, keeps it."""
    parts = _through_app(chunks, tmp_path, "mp4", "-c", "copy", "-metadata", "comment=graded")
    out = tmp_path / "out.mkv"
    out.write_bytes(
        run_assembler(
            "concat", _results(parts, out.name), {"reencode": True, "verify_frames": False}
        )[out.name]
    )
    assert probe(out).tags.get("comment", probe(out).tags.get("COMMENT")) == "graded"


def probe_tags(data: bytes, path: Path) -> dict[str, str]:
    path.write_bytes(data)
    return dict(probe(path).tags)


def _rotated(data: bytes, folder: Path, name: str, degrees: int) -> bytes:
    """An MP4's streams copied under a video matrix of ``degrees`` (ffmpeg 5.1 writes none)."""
    source, target = folder / f"{name}.in.mp4", folder / f"{name}.mp4"
    source.write_bytes(data)
    with av.open(str(source)) as inp, av.open(str(target), "w", format="mp4") as out:
        mapped = {s.index: out.add_stream_from_template(s, opaque=True) for s in inp.streams}
        mapped[inp.streams.video[0].index].set_display_rotation(degrees)
        out.metadata.update(inp.metadata)  # the chunk's metadata
        for packet in inp.demux():
            if packet.size:
                packet.stream = mapped[packet.stream_index]
                out.mux(packet)
    return target.read_bytes()


def _first_frame_size(path: Path) -> tuple[int, int]:
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        return frame.width, frame.height


def test_a_re_encoded_join_of_rotated_results_is_upright(
    chunks: list[PartitionedChunk], tmp_path: Path
) -> None:
    """Results a matrix turns 90° (a phone's portrait video) re-encode at the size players
    show them, 120x160: ffmpeg turns the frames upright as it decodes them, and the join
    squeezed them back into the stored 160x120."""
    parts = [_rotated(c.data, tmp_path, f"r{n}", 90) for n, c in enumerate(chunks)]
    out = tmp_path / "out.mp4"
    out.write_bytes(run_assembler("concat", _results(parts), {"reencode": True})["out.mp4"])
    video = probe(out).video
    assert video is not None
    assert (video.rotation, video.width, video.height) == (0, 120, 160)
    assert decoded_counts(out)[0] == 90


def test_a_result_rotated_otherwise_is_re_encoded(
    chunks: list[PartitionedChunk], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """One result turned 90° among upright ones is re-encoded, with a warning naming it,
    not stream-copied under chunk 0's matrix, which showed it lying on its side."""
    parts = [c.data for c in chunks]
    parts[1] = _rotated(parts[1], tmp_path, "r1", 90)
    out = tmp_path / "out.mp4"
    out.write_bytes(run_assembler("concat", _results(parts))["out.mp4"])
    assert "chunk 1: video rotation (degrees) differs from chunk 0's (90 vs 0)" in caplog.text
    assert _first_frame_size(out) == (160, 120)
    assert decoded_counts(out)[0] == 90
