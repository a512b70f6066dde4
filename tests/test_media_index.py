"""The MP4/MOV probe read from the index against the probe that demuxes every packet."""

from __future__ import annotations

from pathlib import Path

import pytest
from _media_clips import cut_with_lead_in, ffmpeg, hide_last_frame, make_variable_rate, make_video

from bytenite_runtime.media import probe as probing
from bytenite_runtime.media.probe import MediaInfo


def _both(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[MediaInfo, MediaInfo, bool]:
    """The probe as it runs, the probe that demuxes, and whether the first used the index."""
    used = []
    indexed = probing.records_from_index

    def spy(*args: object) -> object:
        records = indexed(*args)  # type: ignore[arg-type]
        used.append(records is not None)
        return records

    monkeypatch.setattr(probing, "records_from_index", spy)
    fast = probing.probe(path)
    monkeypatch.setattr(probing, "records_from_index", lambda *args: None)
    slow = probing.probe(path)
    return fast, slow, any(used)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("index") / "clip.mp4", 3.0)


def test_index_gives_the_demuxed_frames_of_a_clip_with_b_frames(
    source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An H.264 clip with B-frames and AAC probes the same from its index as demuxed."""
    fast, slow, indexed = _both(source, monkeypatch)
    assert indexed
    assert fast == slow


def test_index_gives_the_demuxed_frames_behind_an_edit_list(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stream-copy cut's hidden lead-in and AAC priming come out of the index as demuxed."""
    cut = cut_with_lead_in(source, tmp_path / "cut.mp4", 1.3)
    fast, slow, indexed = _both(cut, monkeypatch)
    assert indexed
    assert fast.video is not None and fast.video.hidden_pts
    assert fast == slow


def test_index_gives_the_demuxed_frames_of_variable_rate_and_hidden_frames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Varying frame durations, and a last frame the edit list hides, probe as demuxed."""
    clip = tmp_path / "vfr.mp4"
    make_variable_rate(clip)
    fast, slow, indexed = _both(clip, monkeypatch)
    assert indexed and fast == slow
    hidden = hide_last_frame(clip, 10)
    fast, slow, _ = _both(hidden, monkeypatch)
    assert fast == slow


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("fragmented.mp4", ["-movflags", "frag_keyframe+empty_moov"]),
        ("negative.mp4", ["-movflags", "negative_cts_offsets"]),
        ("pcm.mov", ["-c:a", "pcm_s16le"]),
    ],
)
def test_what_the_index_does_not_follow_is_demuxed(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, args: list[str]
) -> None:
    """Fragments, negative composition offsets and MOV's PCM packets fall back to demuxing."""
    path = tmp_path / name
    ffmpeg("-i", str(source), "-c", "copy", *args, str(path))
    fast, slow, indexed = _both(path, monkeypatch)
    assert not indexed
    assert fast == slow


def test_a_truncated_file_with_its_index_first_is_still_caught(
    source: Path, tmp_path: Path
) -> None:
    """A faststart MP4 cut short keeps a whole index, but its missing packets are found."""
    fast = tmp_path / "fast.mp4"
    ffmpeg("-i", str(source), "-c", "copy", "-movflags", "+faststart", str(fast))
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(fast.read_bytes()[: fast.stat().st_size // 2])
    with pytest.raises(probing.DataError, match="truncated"):
        probing.probe(cut)
