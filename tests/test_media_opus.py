"""Opus pre-skips other than libopus's default 312: read from each stream's OpusHead,
never assumed, and joins as sample-exact and in sync as with 312."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import av
import pytest
from _media_clips import decoded_counts, ffmpeg, make_sync_marks, sync_offsets

from bytenite_runtime import DataError
from bytenite_runtime.chunks import result_name
from bytenite_runtime.media._join_codecs import libopus_pre_skip
from bytenite_runtime.media._scan import opus_pre_skip
from bytenite_runtime.testing import run_assembler, run_partitioner

# libopus at its low-delay application (CELT only) looks ahead 2.5 ms, not 6.5 ms: its
# OpusHead says 120, as ffmpeg's own (experimental) Opus encoder writes.
LOW_DELAY = ("-c:a", "libopus", "-application", "lowdelay")


def _pre_skip(path: Path) -> int:
    with av.open(str(path)) as container:
        return opus_pre_skip(container.streams.audio[0], path.name)


def _join(parts: list[bytes], name: str, params: dict[str, object] | None = None) -> bytes:
    results = {result_name(name, i): data for i, data in enumerate(parts)}
    return run_assembler("concat", results, params or {})[name]


@pytest.mark.parametrize("count", [4, 12])
def test_ogg_opus_with_a_120_sample_pre_skip_joins_to_the_source_length_exactly(
    tmp_path: Path, count: int
) -> None:
    """An Ogg Opus file whose pre-skip is 120 is cut with every chunk at minus its own
    pre-skip, so the join decodes to the source's samples and the last chunk to its
    metadata's samples less 120, not less 312."""
    tone = tmp_path / "tone.opus"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=3",
           *LOW_DELAY, "-b:a", "48k", str(tone))  # fmt: skip
    assert _pre_skip(tone) == 120
    chunks = run_partitioner("time-chunk", {tone.name: tone.read_bytes()}, {"num_chunks": count})
    joined = tmp_path / "out.opus"
    joined.write_bytes(_join([c.data for c in chunks], joined.name))
    assert decoded_counts(joined)[1] == decoded_counts(tone)[1]
    last = tmp_path / "last.opus"
    last.write_bytes(chunks[-1].data)
    assert _pre_skip(last) == 120
    assert chunks[-1].meta is not None
    assert decoded_counts(last)[1] == chunks[-1].meta.fields["samples"] - 120


@pytest.mark.parametrize(("audio", "reencode"), [("copy", False), ("copy", True), ("pcm", False)])
def test_a_webm_with_a_120_sample_pre_skip_joins_in_sync(
    tmp_path: Path, audio: str, reencode: bool
) -> None:
    """A WebM whose Opus pre-skip (CodecDelay) is 2.5 ms, not 6.5, joins (Opus copied,
    re-encoded, or PCM chunks encoded) with every click within 1.5 ms of where the source
    plays it: copied tracks are placed by their own packets' times and the join's encoder
    by the pre-skip its own OpusHead says."""
    clip = make_sync_marks(tmp_path / "marks.webm", opus=LOW_DELAY[2:])
    assert _pre_skip(clip) == 120
    params = {"segment_seconds": 1, "audio": audio}
    chunks = run_partitioner("time-chunk", {clip.name: clip.read_bytes()}, params)
    out = tmp_path / "out.webm"
    out.write_bytes(_join([c.data for c in chunks], out.name, {"reencode": reencode}))
    source, joined = sync_offsets(clip), sync_offsets(out)
    assert len(joined) == len(source) == 4
    assert max(abs(j - s) for j, s in zip(joined, source, strict=True)) <= 0.0015


def test_the_join_reads_its_own_encoders_pre_skip() -> None:
    """The pre-skip the join hands Opus packets late by is read from the OpusHead its
    libopus writes (312 samples at 48 kHz), not a constant."""
    assert libopus_pre_skip() == pytest.approx(312 / 48000)


def test_an_opus_stream_without_an_opus_head_is_named() -> None:
    """A stream whose codec private data holds no OpusHead is a one-line error naming the
    file and stream, not a pre-skip read from whatever bytes are there."""
    stream = SimpleNamespace(index=1, codec_context=SimpleNamespace(extradata=b"\x00" * 19))
    with pytest.raises(DataError, match=r"^r\.webm: Opus stream 1: no OpusHead .*pre-skip"):
        opus_pre_skip(stream, "r.webm")
