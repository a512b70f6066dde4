"""The ``time-chunk`` partitioner and the media ``concat``: frame- and sample-exact round trips."""

from __future__ import annotations

import itertools
from pathlib import Path

import av
import numpy as np
import pytest
from _failing import failing_partition
from _media_clips import (
    RATES,
    VIDEO_RECIPES,
    cut_with_lead_in,
    decoded_counts,
    ffmpeg,
    frame_times,
    grey_frames,
    hide_last_frame,
    make_audio,
    make_variable_rate,
    make_video,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bytenite_runtime.chunks import result_name
from bytenite_runtime.media._ffmpeg import encoders
from bytenite_runtime.media.probe import probe
from bytenite_runtime.testing import PartitionedChunk, run_assembler, run_partitioner


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")
    made = {ext: make_video(folder / f"clip.{ext}") for ext in ("mp4", "webm")}
    made.update(
        {ext: make_audio(folder / f"tone.{ext}") for ext in ("m4a", "wav", "flac", "mp3", "opus")}
    )
    return made


def _cut(clip: Path, params: dict[str, object]) -> list[PartitionedChunk]:
    return run_partitioner("time-chunk", {clip.name: clip.read_bytes()}, params)


def _join(chunks: list[PartitionedChunk], name: str, tmp_path: Path) -> Path:
    results = {result_name(name, i): c.data for i, c in enumerate(chunks)}
    out = tmp_path / name
    out.write_bytes(run_assembler("concat", results)[name])
    return out


def _check_round_trip(source: Path, joined: Path, frame_samples: int) -> None:
    frames, samples = decoded_counts(source)
    got_frames, got_samples = decoded_counts(joined)
    assert got_frames == frames
    assert abs(got_samples - samples) <= frame_samples
    times = frame_times(joined)
    assert all(b > a for a, b in itertools.pairwise(times))
    source_times = frame_times(source)
    step = source_times[1] - source_times[0]
    assert abs((times[-1] - times[0]) - (source_times[-1] - source_times[0])) <= step


@pytest.mark.parametrize(
    ("ext", "segment", "audio_frame"), [("mp4", 1.5, 1024), ("webm", 1.3, 960)]
)
def test_copy_mode_round_trip_keeps_every_frame_and_sample(
    clips: dict[str, Path], tmp_path: Path, ext: str, segment: float, audio_frame: int
) -> None:
    """Stream-copy chunks joined by an identity app give back every frame and every audio
    sample (within one audio frame), with monotonic times and the same duration."""
    chunks = _cut(clips[ext], {"segment_seconds": segment})
    assert len(chunks) > 2
    _check_round_trip(clips[ext], _join(chunks, f"out.{ext}", tmp_path), audio_frame)


def test_copy_mode_cuts_on_the_keyframe_nearest_each_request(clips: dict[str, Path]) -> None:
    """Keyframes every 25 frames at 30 fps: requests at 1.5 s and 3.0 s land on the
    keyframes at 1.667 s and 3.333 s, and chunk metadata gives index, start, duration and counts."""
    chunks = _cut(clips["mp4"], {"segment_seconds": 1.5})
    metas = [c.meta for c in chunks]
    assert all(m is not None for m in metas)
    fields = [m.fields for m in metas if m is not None]
    assert [m.index for m in metas if m is not None] == [0, 1, 2]
    assert [f["start"] for f in fields] == [0.0, 1.666667, 3.333333]
    assert [f["frames"] for f in fields] == [50, 50, 20]
    assert sum(f["samples"] for f in fields) > 0
    assert [f["requested_start"] for f in fields] == [0.0, 1.5, 3.0]
    assert all(f["container"] == "mp4" for f in fields)


@pytest.mark.parametrize(
    ("ext", "params"), [("mp4", {"segment_seconds": 1.3}), ("webm", {"num_chunks": 3})]
)
def test_exact_mode_boundaries_fall_within_one_frame_of_the_request(
    clips: dict[str, Path], tmp_path: Path, ext: str, params: dict[str, object]
) -> None:
    """Re-encoded chunks start within one frame of the requested time, and the join keeps
    every frame and the audio."""
    chunks = _cut(clips[ext], {**params, "mode": "exact", "gpu": "off"})
    frame = 1 / (30 if ext == "mp4" else 25)
    for chunk in chunks:
        assert chunk.meta is not None
        fields = chunk.meta.fields
        assert abs(fields["start"] - fields["requested_start"]) <= frame / 2 + 1e-6
        assert decoded_counts_of(chunk, tmp_path)[0] == fields["frames"]
    out_name = "out.mp4" if ext == "mp4" else "out.mkv"
    _check_round_trip(clips[ext], _join(chunks, out_name, tmp_path), 1024)


@pytest.mark.parametrize("ext", ["mkv", "ts", "mov"])
@pytest.mark.parametrize("mode", ["copy", "exact"])
def test_other_containers_round_trip(
    clips: dict[str, Path], tmp_path: Path, ext: str, mode: str
) -> None:
    """Matroska, MPEG-TS (chunks become Matroska; ffmpeg sees it start at 1.4 s) and MOV
    sources keep every frame and sample in both modes."""
    source = tmp_path / f"clip.{ext}"
    ffmpeg("-i", str(clips["mp4"]), "-c", "copy", str(source))
    chunks = _cut(source, {"segment_seconds": 1.5, "mode": mode, "gpu": "off"})
    expected = [50, 50, 20] if mode == "copy" else [45, 45, 30]
    assert [c.meta.fields["frames"] for c in chunks if c.meta] == expected
    out_ext = "mov" if ext == "mov" else "mkv"
    _check_round_trip(source, _join(chunks, f"out.{out_ext}", tmp_path), 1024)


@pytest.mark.parametrize("mode", ["copy", "exact"])
def test_pcm_audio_is_cut_to_the_sample_at_each_video_cut(
    clips: dict[str, Path], tmp_path: Path, mode: str
) -> None:
    """audio='pcm': each chunk holds PCM running exactly from its first frame to the next
    chunk's, the runs add up to the decoded track, and the join encodes it once (MP4: AAC)
    or keeps it (Matroska: every sample)."""
    chunks = _cut(clips["mp4"], {"segment_seconds": 1.5, "mode": mode, "audio": "pcm"})
    fields = [c.meta.fields for c in chunks if c.meta]
    for chunk, f in zip(chunks, fields, strict=True):
        assert decoded_counts_of(chunk, tmp_path) == (f["frames"], f["samples"])
        assert f["samples"] == round(f["duration"] * 48000)
    assert sum(f["samples"] for f in fields) == 4 * 48000
    assert decoded_counts(_join(chunks, "out.mkv", tmp_path)) == (120, 4 * 48000)
    _check_round_trip(clips["mp4"], _join(chunks, "out.mp4", tmp_path), 1024)


def decoded_counts_of(chunk: PartitionedChunk, tmp_path: Path) -> tuple[int, int]:
    path = tmp_path / "one-chunk"
    path.write_bytes(chunk.data)
    return decoded_counts(path)


@pytest.mark.parametrize("ext", ["m4a", "wav", "flac", "mp3", "opus"])
def test_audio_only_copy_round_trip(clips: dict[str, Path], tmp_path: Path, ext: str) -> None:
    """Audio-only files are cut between packets and joined back to the same sample count."""
    chunks = _cut(clips[ext], {"segment_seconds": 0.7})
    assert len(chunks) == 5
    joined = _join(chunks, f"out.{ext}", tmp_path)
    assert abs(decoded_counts(joined)[1] - decoded_counts(clips[ext])[1]) <= 1152


def test_audio_only_exact_mode_gives_sample_exact_wav_chunks(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    """exact mode on audio cuts PCM WAV chunks at the requested sample; they join losslessly."""
    chunks = _cut(clips["mp3"], {"segment_seconds": 0.7, "mode": "exact"})
    assert [c.meta.fields["samples"] for c in chunks if c.meta] == [33600] * 4 + [9600]
    assert all(c.data.startswith(b"RIFF") for c in chunks)
    assert decoded_counts(_join(chunks, "out.wav", tmp_path))[1] == 144000


def test_the_last_mp3_chunk_decodes_its_whole_run(clips: dict[str, Path], tmp_path: Path) -> None:
    """The last MP3 chunk decodes to its samples less the decoder's delay and the source's
    end trim, under a frame each, where the muxer's LAME tag hid 4096 from its start."""
    last = _cut(clips["mp3"], {"segment_seconds": 1.3})[-1]
    assert last.meta is not None and last.meta.index > 0
    samples = last.meta.fields["samples"]
    assert samples - 2 * 1152 <= decoded_counts_of(last, tmp_path)[1] <= samples


def test_a_short_exact_cut_joined_to_mp3_passes_the_audio_check(tmp_path: Path) -> None:
    """A 0.01 s WAV chunk joined to .mp3 is checked with the MP3 encoder's 1152-sample frame
    (and its priming and padding), not the WAV's: its two frames are no longer an error."""
    tone = make_audio(tmp_path / "tone.mp3", 0.01)
    chunks = _cut(tone, {"num_chunks": 1, "mode": "exact"})
    assert chunks[0].meta is not None and chunks[0].meta.fields["samples"] == 480
    joined = _join(chunks, "out.mp3", tmp_path)
    assert 480 <= decoded_counts(joined, untrimmed=True)[1] <= 480 + 2 * 1152


def test_segment_longer_than_the_file_gives_one_chunk(clips: dict[str, Path]) -> None:
    """A segment longer than the file is not an error: one chunk holding the whole file."""
    chunks = _cut(clips["mp4"], {"segment_seconds": 100})
    assert len(chunks) == 1
    assert chunks[0].meta is not None and chunks[0].meta.fields["frames"] == 120


def test_metadata_off_and_footer(clips: dict[str, Path]) -> None:
    """chunk_metadata='off' writes no tag; 'footer' carries the same fields after the payload."""
    assert all(
        c.meta is None for c in _cut(clips["webm"], {"chunk_metadata": "off", "num_chunks": 2})
    )
    footer = _cut(clips["webm"], {"chunk_metadata": "footer", "num_chunks": 2})
    # Keyframes every 0.8 s: the request at 2.0 s is a tie, which goes to the earlier one.
    assert [c.meta.fields["frames"] for c in footer if c.meta] == [40, 60]


def test_audio_drop_gives_video_only_chunks(clips: dict[str, Path], tmp_path: Path) -> None:
    """audio='drop' leaves audio out of the chunks, and the join is video only."""
    chunks = _cut(clips["mp4"], {"audio": "drop", "segment_seconds": 2})
    assert all(c.meta is not None and c.meta.fields["samples"] == 0 for c in chunks)
    assert decoded_counts(_join(chunks, "out.mp4", tmp_path)) == (120, 0)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    segment=st.floats(min_value=0.2, max_value=5.0),
    chunks=st.one_of(st.none(), st.integers(min_value=1, max_value=12)),
)
def test_any_sizing_covers_every_frame_once(
    clips: dict[str, Path], segment: float, chunks: int | None
) -> None:
    """Whatever the sizing, copy-mode chunks are indexed from 0, none is empty, their starts
    increase and their frames and samples add up to the source's."""
    params: dict[str, object] = {"num_chunks": chunks} if chunks else {"segment_seconds": segment}
    cut = _cut(clips["webm"], params)
    metas = [c.meta for c in cut if c.meta is not None]
    assert [m.index for m in metas] == list(range(len(cut)))
    fields = [m.fields for m in metas]
    assert all(f["frames"] > 0 for f in fields)
    assert all(a["start"] < b["start"] for a, b in itertools.pairwise(fields))
    assert sum(f["frames"] for f in fields) == 100
    assert (
        sum(f["samples"] for f in fields) == sum(d for _, d in _audio_packets(clips["webm"])) * 48
    )


def _audio_packets(path: Path) -> tuple[tuple[int, int], ...]:
    from bytenite_runtime.media.probe import probe

    audio = probe(path).audio
    assert audio is not None
    return audio.packets


def test_ogg_opus_chunks_join_without_losing_their_pre_skip(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    """Every Ogg chunk's first packet sits 6.5 ms (the Opus pre-skip) before the file's start:
    the join places each chunk that much later, so twelve chunks lose no audio."""
    chunks = _cut(clips["opus"], {"num_chunks": 12})
    assert len(chunks) == 12
    joined = _join(chunks, "out.opus", tmp_path)
    assert abs(decoded_counts(joined)[1] - decoded_counts(clips["opus"])[1]) <= 960


@pytest.mark.parametrize("count", [4, 12])
def test_ogg_opus_chunks_join_to_the_source_length_exactly(
    clips: dict[str, Path], tmp_path: Path, count: int
) -> None:
    """Every Ogg Opus chunk starts at minus the pre-skip, as the source does, so the last
    one's final granule keeps the source's end trim: the join decodes to the source's
    samples, not an Opus pre-skip (312) more, and the last chunk alone to its own."""
    chunks = _cut(clips["opus"], {"num_chunks": count})
    joined = _join(chunks, "out.opus", tmp_path)
    assert decoded_counts(joined)[1] == decoded_counts(clips["opus"])[1]
    last = tmp_path / "last.opus"
    last.write_bytes(chunks[-1].data)
    assert chunks[-1].meta is not None
    assert decoded_counts(last)[1] == chunks[-1].meta.fields["samples"] - 312


def test_fewer_audio_chunks_than_asked_say_why(
    clips: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """An audio-only file cut finer than its packets allow logs that its packets are too
    few for that many chunks, not that keyframes are too sparse (it has no video)."""
    chunks = _cut(clips["m4a"], {"num_chunks": 1000})
    logged = capsys.readouterr().err
    assert f"{len(chunks)} chunk(s) instead of 1000: too few audio packets" in logged
    assert "keyframes" not in logged


def test_audio_copy_chunks_hold_at_least_two_packets(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    """Cuts finer than an audio packet give chunks of two packets or more, never one: ffmpeg
    cannot open a one-frame MP3, so such a chunk would be unreadable to the app."""
    chunks = _cut(clips["mp3"], {"num_chunks": 200})
    fields = [c.meta.fields for c in chunks if c.meta is not None]
    assert len(fields) == len(chunks)
    assert all(f["samples"] >= 2 * 1152 for f in fields)
    joined = _join(chunks, "out.mp3", tmp_path)
    assert abs(decoded_counts(joined)[1] - decoded_counts(clips["mp3"])[1]) <= 1152


@pytest.mark.parametrize(
    ("ext", "muxer", "least", "frame"), [("mp3", "mp3", 7, 1152), ("aac", "aac", 3, 1024)]
)
def test_raw_audio_chunks_hold_enough_frames_to_be_known_for_what_they_are(
    tmp_path: Path, ext: str, muxer: str, least: int, frame: int
) -> None:
    """Cuts finer than a few packets give raw MP3 chunks of seven frames or more and ADTS
    AAC ones of three: with fewer, ffmpeg's probe is unsure of the format, and a chunk whose
    bytes look like another one (ffmpeg 5.1's LAME made a three-frame H.263) opens as that."""
    tone = make_audio(tmp_path / f"tone.{ext}")
    chunks = _cut(tone, {"num_chunks": 200})
    assert len(chunks) > 5
    for chunk in chunks:
        path = tmp_path / "chunk.bin"
        path.write_bytes(chunk.data)
        with av.open(str(path)) as opened:
            assert opened.format.name == muxer
            assert sum(1 for p in opened.demux(audio=0) if p.size) >= least
    joined = _join(chunks, f"out.{ext}", tmp_path)
    assert abs(decoded_counts(joined)[1] - decoded_counts(tone)[1]) <= frame


def test_matroska_starting_at_ten_seconds_is_not_taken_for_truncated(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    """A Matroska file whose times start at 10 s (its header then says 14 s for 4 s of media) is
    cut and joined back whole, not rejected as truncated."""
    late = tmp_path / "late.mkv"
    ffmpeg("-i", str(clips["mp4"]), "-c", "copy", "-output_ts_offset", "10", str(late))
    chunks = _cut(late, {"segment_seconds": 1.5})
    assert [c.meta.fields["start"] for c in chunks if c.meta] == [0.0, 1.667, 3.333]
    _check_round_trip(late, _join(chunks, "out.mkv", tmp_path), 1024)


def test_streams_chunks_do_not_carry_are_named_in_a_warning(
    clips: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second audio track is not carried into the chunks, and the partitioner says so by
    stream instead of dropping it without a word."""
    dubbed = tmp_path / "dubbed.mkv"
    ffmpeg("-i", str(clips["mp4"]), "-i", str(clips["opus"]), "-map", "0", "-map", "1",
           "-c", "copy", str(dubbed))  # fmt: skip
    assert len(_cut(dubbed, {"num_chunks": 2})) == 2
    assert "dubbed.mkv: chunks carry the first video and audio stream only; left out: " \
        "stream 2 (audio)" in capsys.readouterr().err  # fmt: skip


def test_exact_mode_keeps_the_last_frame_duration_of_a_variable_rate_source(
    tmp_path: Path,
) -> None:
    """Where 30 fps turns into 10 fps, an exact chunk's last frame lasts 0.1 s as in the source
    (not the encoder's 1/30 s guess), so the chunk is as long as its metadata says and the
    joined frames keep the source's times."""
    clip = make_variable_rate(tmp_path / "vfr.mp4")
    chunks = _cut(clip, {"segment_seconds": 0.7, "mode": "exact"})
    assert [c.meta.fields["frames"] for c in chunks if c.meta] == [21, 13, 6]
    joined = _join(chunks, "out.mp4", tmp_path)
    assert frame_times(joined) == pytest.approx(frame_times(clip), abs=1e-3)


@pytest.mark.parametrize("mode", ["exact", "copy"])
def test_a_last_frame_the_container_hides_is_left_out_where_it_is_never_shown(
    tmp_path: Path, mode: str
) -> None:
    """An MP4 whose edit list ends a frame early (as ffmpeg 5.1 leaves variable-rate
    encodes) still cuts: exact chunks hold only the frames a player shows, and copy chunks
    keep the hidden one, which later frames may refer to, and say so in their counts."""
    clip = hide_last_frame(make_video(tmp_path / "clip.mp4", seconds=2.0), RATES["mp4"])
    shown = decoded_counts(clip)[0]
    assert shown == 2 * RATES["mp4"] - 1
    chunks = _cut(clip, {"segment_seconds": 0.7, "mode": mode})
    frames = sum(c.meta.fields["frames"] for c in chunks if c.meta)
    assert frames == (shown if mode == "exact" else shown + 1)
    assert decoded_counts(_join(chunks, "out.mp4", tmp_path))[0] == frames


@pytest.mark.parametrize("mode", ["copy", "exact"])
def test_a_lead_in_the_container_hides_stays_hidden(
    clips: dict[str, Path], tmp_path: Path, mode: str
) -> None:
    """An MP4 cut with ``-ss 1.5 -c copy`` stores the frames from the keyframe before
    1.5 s but hides them: chunks start at the first frame shown, count only the frames
    shown, and join into the very frames and samples a player shows of the source."""
    clip = cut_with_lead_in(clips["mp4"], tmp_path / "cut.mp4", 1.5)
    frames, samples = decoded_counts(clip)
    assert frames == round(2.5 * RATES["mp4"])
    with av.open(str(clip)) as container:
        assert sum(p.is_discard for p in container.demux(video=0)) > 10
    chunks = _cut(clip, {"segment_seconds": 1.0, "mode": mode})
    starts = [c.meta.fields["start"] for c in chunks if c.meta]
    assert starts[0] == 0.0
    assert sum(c.meta.fields["frames"] for c in chunks if c.meta) == frames
    if mode == "exact":
        assert starts == pytest.approx([0.0, 1.0, 2.0], abs=0.5 / RATES["mp4"])
    first = chunks[0].meta
    assert first is not None
    assert decoded_counts_of(chunks[0], tmp_path)[0] == first.fields["frames"]
    joined = _join(chunks, "out.mp4", tmp_path)
    got_frames, got_samples = decoded_counts(joined)
    assert got_frames == frames
    assert abs(got_samples - samples) <= 1024
    assert frame_times(joined) == pytest.approx(frame_times(clip), abs=1e-3)
    # Frame for frame the same pictures (re-encoding blurs them by ~0.6 grey levels; the
    # source moves ~0.4 a frame and ~7 over the 20 frames of the lead-in).
    for ours, theirs in zip(grey_frames(joined), grey_frames(clip), strict=True):
        assert abs(ours - theirs).mean() < 2.0


def test_copy_mode_never_cuts_where_a_gop_is_open(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A keyframe that opens a GOP (B-frames after it in decode order shown before it,
    here x264's open-gop at 2.5 s) is no cut point: every copy chunk decoded on its own
    gives all the frames its metadata counts, and the partitioner says why it cut less."""
    clip = tmp_path / "open.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc=size=160x120:rate=30:duration=4",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=4",
        "-c:v", "libx264", "-preset", "ultrafast", "-bf", "2", "-g", "25", "-keyint_min", "25",
        "-sc_threshold", "0", "-x264-params", "open-gop=1", "-force_key_frames", "2",
        "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-shortest", str(clip),
    )  # fmt: skip
    video = probe(clip).video
    assert video is not None
    assert [round(video.seconds(k), 3) for k in video.open_key_pts] == [2.5]
    chunks = _cut(clip, {"segment_seconds": 1.25})
    starts = [c.meta.fields["start"] for c in chunks if c.meta]
    # Asked for 1.25, 2.5 and 3.75 s: the keyframe at 2.5 s is passed over.
    assert starts == pytest.approx([0.0, 25 / 30, 50 / 30, 100 / 30], abs=1e-6)
    for chunk in chunks:
        assert chunk.meta is not None
        assert decoded_counts_of(chunk, tmp_path)[0] == chunk.meta.fields["frames"]
    _check_round_trip(clip, _join(chunks, "out.mp4", tmp_path), 1024)
    assert "open.mp4: 1 of 5 keyframes open a GOP" in capsys.readouterr().err


def _starting_mid_gop(clip: Path, path: Path) -> Path:
    """``clip`` as MPEG-TS with its first part cut off at a 188-byte packet boundary that
    lands inside a GOP, as a recording that starts mid-stream does."""
    whole = path.with_name(f"whole-{path.name}")
    ffmpeg("-i", str(clip), "-c", "copy", str(whole))
    data = whole.read_bytes()
    for packets in range(len(data) // 188 // 3, len(data) // 188, 7):
        path.write_bytes(data[packets * 188 :])
        video = probe(path).video
        if video is not None and len(video.orphan_pts) >= 3:
            return path
    raise AssertionError("no cut lands inside a GOP")


@pytest.mark.parametrize("mode", ["copy", "exact"])
def test_frames_before_the_first_keyframe_are_left_out(
    clips: dict[str, Path], tmp_path: Path, mode: str
) -> None:
    """A TS that starts mid-GOP begins with frames no decoder can rebuild: the chunks leave
    them out, each chunk decodes to the frames its metadata counts, and the join gives the
    frames and samples a player gets from the source."""
    clip = _starting_mid_gop(clips["mp4"], tmp_path / "recording.ts")
    frames, samples = decoded_counts(clip)
    chunks = _cut(clip, {"segment_seconds": 1.0, "mode": mode})
    assert sum(c.meta.fields["frames"] for c in chunks if c.meta) == frames
    for chunk in chunks:
        assert chunk.meta is not None
        assert decoded_counts_of(chunk, tmp_path)[0] == chunk.meta.fields["frames"]
    got_frames, got_samples = decoded_counts(_join(chunks, "out.mkv", tmp_path))
    assert got_frames == frames
    assert abs(got_samples - samples) <= 1024


def test_pcm_audio_keeps_a_four_channel_layout(clips: dict[str, Path], tmp_path: Path) -> None:
    """audio='pcm' carries a quad (4-channel) track into the chunks in its own layout, where
    only mono, stereo and 5.1 were accepted, and the join gives every sample back."""
    quad = tmp_path / "quad.mkv"
    ffmpeg("-i", str(clips["mp4"]), "-af", "pan=quad|c0=c0|c1=c0|c2=c0|c3=c0", "-c:v", "copy",
           "-c:a", "pcm_s16le", str(quad))  # fmt: skip
    chunks = _cut(quad, {"num_chunks": 2, "audio": "pcm"})
    assert len(chunks) == 2
    joined = _join(chunks, "out.mkv", tmp_path)
    assert decoded_counts(joined) == decoded_counts(quad)


def test_ogg_vorbis_chunks_join_into_one_ogg_stream(tmp_path: Path) -> None:
    """Vorbis chunks joined as .ogg make one Ogg stream, not a chain of one link per chunk
    whose restarting granules read back as three times the length."""
    if "libvorbis" not in encoders():
        pytest.skip("this ffmpeg has no libvorbis encoder to make the clip")
    tone = make_audio(tmp_path / "tone.ogg")
    chunks = _cut(tone, {"num_chunks": 5})
    joined = _join(chunks, "out.ogg", tmp_path)
    assert joined.read_bytes().count(b"OggS\x00\x02") == 1  # one beginning-of-stream page
    assert abs(decoded_counts(joined)[1] - decoded_counts(tone)[1]) <= 1024


def test_ogg_vorbis_join_reads_the_containers_its_probes_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Vorbis results joined as .ogg are copied from the containers the join's probes
    opened, each sought back to its start, without opening any result a second time."""
    if "libvorbis" not in encoders():
        pytest.skip("this ffmpeg has no libvorbis encoder to make the clip")
    from bytenite_runtime.media import _ogg

    def reopened(path: Path) -> None:
        raise AssertionError(f"{path.name} opened a second time")

    monkeypatch.setattr(_ogg, "open_media", reopened)
    tone = make_audio(tmp_path / "tone.ogg")
    joined = _join(_cut(tone, {"num_chunks": 3}), "out.ogg", tmp_path)
    assert abs(decoded_counts(joined)[1] - decoded_counts(tone)[1]) <= 1024


@pytest.mark.parametrize(("seconds", "count"), [(3.0, 1), (3.0, 5), (2.37, 4)])
def test_ogg_vorbis_chunks_join_to_the_source_samples_exactly(
    tmp_path: Path, seconds: float, count: int
) -> None:
    """Vorbis chunks joined as .ogg decode to the source's samples, the same values and not
    one more: the last page keeps the source's end trim (a Matroska step in between lost it,
    and the final packet decoded whole, 960 samples over for a 3 s tone)."""
    if "libvorbis" not in encoders():
        pytest.skip("this ffmpeg has no libvorbis encoder to make the clip")
    tone = make_audio(tmp_path / "tone.ogg", seconds)
    joined = _join(_cut(tone, {"num_chunks": count}), "out.ogg", tmp_path)

    def samples(path: Path) -> np.ndarray:
        with av.open(str(path)) as container:
            return np.concatenate([f.to_ndarray()[0] for f in container.decode(audio=0)])

    assert np.array_equal(samples(joined), samples(tone))


def test_pcm_in_mov_source_round_trips(clips: dict[str, Path], tmp_path: Path) -> None:
    """A MOV with PCM audio (camera and editing masters): each chunk's last PCM packet is
    counted by its bytes, not by the short duration MOV gives it, so the join's audio check
    passes and every sample comes back."""
    master = tmp_path / "master.mov"
    ffmpeg("-i", str(clips["mp4"]), "-c:v", "copy", "-c:a", "pcm_s16le", str(master))
    chunks = _cut(master, {"segment_seconds": 1.2})
    assert len(chunks) == 4
    joined = _join(chunks, "out.mov", tmp_path)
    assert decoded_counts(joined) == decoded_counts(master)


@pytest.mark.skipif("libsvtav1" not in encoders(), reason="this ffmpeg has no AV1 encoder")
def test_av1_is_stream_copied(tmp_path: Path) -> None:
    """AV1, which PyAV reads with the libdav1d decoder (no encoder of that name), is
    stream-copied into chunks that join back to every frame."""
    clip = tmp_path / "av1.mkv"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=30:duration=3",
        "-c:v", "libsvtav1", "-preset", "12", "-g", "30", str(clip),
    )  # fmt: skip
    chunks = _cut(clip, {"segment_seconds": 1})
    assert len(chunks) == 3
    assert decoded_counts(_join(chunks, "out.mkv", tmp_path))[0] == 90


@pytest.mark.skipif("libx265" not in encoders(), reason="this ffmpeg has no HEVC encoder")
@pytest.mark.parametrize("mode", ["copy", "exact"])
def test_hevc_tagged_hvc1_keeps_its_tag_for_apple_players(tmp_path: Path, mode: str) -> None:
    """An iPhone-style MOV's HEVC is tagged hvc1 (Apple's players refuse the muxer's default
    hev1): its chunks and the joined file keep the tag, copied or re-encoded as HEVC."""
    clip = tmp_path / "iphone.mov"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=30:duration=2",
        "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "keyint=15:log-level=error",
        "-tag:v", "hvc1", str(clip),
    )  # fmt: skip
    params = {"segment_seconds": 1, "mode": mode}
    if mode == "exact":
        params["video_codec"] = "hevc"
    chunks = _cut(clip, params)
    joined = _join(chunks, "out.mov", tmp_path)
    for data in [c.data for c in chunks] + [joined.read_bytes()]:
        path = tmp_path / "check.mov"
        path.write_bytes(data)
        with av.open(str(path)) as container:
            assert container.streams.video[0].codec_context.codec_tag == "hvc1"


@pytest.mark.skipif("libx265" not in encoders(), reason="this ffmpeg has no HEVC encoder")
@pytest.mark.parametrize("codec", ["h264", "hevc"])
def test_exact_mode_keeps_ten_bit_hdr_ten_bit(tmp_path: Path, codec: str) -> None:
    """A 10-bit HLG HEVC clip (a phone's HDR video) re-encoded in exact mode stays 10-bit
    with its colour tags, in every chunk, after the join and after a re-encoded join: not
    squeezed into 8 bits."""
    clip = tmp_path / "hdr.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=30:duration=2",
        # The tags in the HEVC stream itself (ffmpeg 9 drops -color_trc for this input).
        "-c:v", "libx265", "-preset", "ultrafast", "-x265-params",
        "keyint=15:log-level=error:colorprim=bt2020:transfer=arib-std-b67:colormatrix=bt2020nc",
        "-pix_fmt", "yuv420p10le", str(clip),
    )  # fmt: skip
    chunks = _cut(clip, {"segment_seconds": 1, "mode": "exact", "video_codec": codec, "gpu": "off"})
    assert len(chunks) == 2
    joined = _join(chunks, "out.mp4", tmp_path)
    results = {result_name("out.mp4", i): c.data for i, c in enumerate(chunks)}
    reencoded = run_assembler("concat", results, {"reencode": True})["out.mp4"]
    for n, data in enumerate([c.data for c in chunks] + [joined.read_bytes(), reencoded]):
        path = tmp_path / f"check-{n}.mp4"
        path.write_bytes(data)
        with av.open(str(path)) as container:
            context = container.streams.video[0].codec_context
            assert context.name == (codec if n <= len(chunks) else "h264")
            assert context.format.name == "yuv420p10le"
            assert (context.color_primaries, context.color_trc) == (9, 18)  # BT.2020, HLG


def test_exact_mode_keeps_an_odd_sized_video_whole(tmp_path: Path) -> None:
    """A 321x241 VP9 WebM (4:2:0, which VP9 takes at odd sizes and x264 does not) re-encoded
    in exact mode keeps every pixel and frame, in every chunk and after a re-encoded join,
    instead of failing in the encoder."""
    clip = tmp_path / "odd.webm"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc=size=321x241:rate=25:duration=2",
        *VIDEO_RECIPES["webm"], "-pix_fmt", "yuv420p", str(clip),
    )  # fmt: skip
    chunks = _cut(clip, {"segment_seconds": 1, "mode": "exact", "gpu": "off"})
    assert len(chunks) == 2
    results = {result_name("out.mkv", i): c.data for i, c in enumerate(chunks)}
    reencoded = run_assembler("concat", results, {"reencode": True})["out.mkv"]
    for n, data in enumerate([c.data for c in chunks] + [reencoded]):
        path = tmp_path / f"check-{n}.mkv"
        path.write_bytes(data)
        video = probe(path).video
        assert video is not None and (video.width, video.height) == (321, 241)
    assert decoded_counts(path)[0] == decoded_counts(clip)[0]


@pytest.mark.parametrize("ext", ["mp4", "mov", "mkv"])
def test_a_gap_in_frame_times_before_a_cut_stays_in_the_chunk_before_it(
    tmp_path: Path, ext: str
) -> None:
    """Ten frames dropped just before the keyframe at 2 s (a recorder that skipped them):
    chunk 0 still lasts until 2 s, as its metadata says, and the join keeps the gap where it
    was instead of failing its duration check or pulling the later frames early."""
    clip = tmp_path / f"gap.{ext}"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=30:duration=4",
        "-f", "lavfi", "-i", "sine=sample_rate=48000:duration=4",
        "-vf", "select='not(between(n,50,59))'", "-fps_mode", "passthrough",
        "-c:v", "libx264", "-x264-params", "keyint=50:min-keyint=50:scenecut=0",
        "-c:a", "aac", str(clip),
    )  # fmt: skip
    chunks = _cut(clip, {"segment_seconds": 2})
    assert [c.meta.fields["frames"] for c in chunks if c.meta] == [50, 60]
    first = tmp_path / f"first.{ext}"
    first.write_bytes(chunks[0].data)
    video = probe(first).video
    assert video is not None
    assert abs(video.end - video.start - chunks[0].meta.fields["duration"]) < 1e-3
    joined = _join(chunks, f"out.{ext}", tmp_path)
    assert frame_times(joined) == pytest.approx(frame_times(clip), abs=2e-3)


def test_an_animated_gif_is_refused_naming_the_file(tmp_path: Path) -> None:
    """A GIF demuxes as video, but no chunk container holds it: a one-line error names the
    file and the stream, leaving no chunk."""
    clip = tmp_path / "anim.gif"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=10:duration=2", str(clip))
    (tmp_path / "run").mkdir()
    message = failing_partition(tmp_path / "run", "time-chunk", {"anim.gif": clip.read_bytes()})
    assert message.startswith("anim.gif: its gif stream cannot go into matroska chunks (")


@pytest.mark.parametrize(
    ("ext", "audio_codec"),
    [("mp4", "aac"), ("mkv", "aac"), ("ts", "aac"), ("flv", "aac"), ("mkv", "libmp3lame")],
)
def test_chunk_samples_match_the_decoded_audio_in_millisecond_containers(
    clips: dict[str, Path], tmp_path: Path, ext: str, audio_codec: str
) -> None:
    """Each chunk's ``samples`` is what its audio decodes to, within one frame, also where the
    container rounds packet durations to the millisecond (Matroska, FLV)."""
    source = tmp_path / f"clip.{ext}"
    ffmpeg("-i", str(clips["mp4"]), "-c:v", "copy", "-c:a", audio_codec, str(source))
    chunks = _cut(source, {"segment_seconds": 1.5})
    # An MP3 decoder also trims the encoder's delay and the last frame's fill, which the
    # packets do not show (ffmpeg 9's trims more of it than 5.1's): two frames.
    frame = 2 * 1152 if audio_codec == "libmp3lame" else 1024
    for chunk in chunks:
        assert chunk.meta is not None
        decoded = decoded_counts_of(chunk, tmp_path)[1]
        assert abs(chunk.meta.fields["samples"] - decoded) <= frame
