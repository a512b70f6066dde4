"""The media ``concat`` of MP4/MOV results in this process, against ffmpeg's concat demuxer."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import av
import pytest
from _media_clips import ffmpeg, make_video

from bytenite_runtime.chunks import result_name
from bytenite_runtime.media import _join_copy, remux
from bytenite_runtime.media.probe import probe
from bytenite_runtime.testing import run_assembler, run_partitioner


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("remux")
    clip = make_video(folder / "clip.mp4", 3.0)
    chunks = run_partitioner("time-chunk", {"clip.mp4": clip.read_bytes()}, {"segment_seconds": 1})
    paths = []
    for i, chunk in enumerate(chunks):
        path = folder / result_name("out.mp4", i)
        path.write_bytes(chunk.data)
        paths.append(path)
    return paths


def _packets(path: Path) -> list[tuple[Any, ...]]:
    with av.open(str(path)) as container:
        return [
            (p.stream_index, p.pts, p.dts, p.duration, p.is_keyframe, p.is_discard)
            for p in container.demux()
            if p.size
        ]


def test_remux_gives_the_packets_of_ffmpegs_concat_demuxer(
    results: list[Path], tmp_path: Path
) -> None:
    """Every packet's times and flags are those the ffmpeg join gives; ffmpeg 5.1 alone also
    rewrites each stream's last duration, which the remux keeps as the results have it."""
    infos = [probe(p) for p in results]
    assert remux.can_remux(infos, "mp4")
    ours, theirs = tmp_path / "ours.mp4", tmp_path / "theirs.mp4"
    assert remux.remux(infos, [None] * len(infos), ours, "mp4")
    members = [dataclasses.make_dataclass("M", ["path"])(p) for p in results]
    _join_copy.join_by_copy(members, infos, [None] * len(infos), theirs, "mp4")  # type: ignore[arg-type]
    got, want = _packets(ours), _packets(theirs)
    last = {p[0]: n for n, p in enumerate(got)}
    assert [p[:3] + p[4:] for p in got] == [p[:3] + p[4:] for p in want]
    assert [p for n, p in enumerate(got) if n not in last.values()] == [
        p for n, p in enumerate(want) if n not in last.values()
    ]
    ends = {p[0]: p[3] for p in _packets(results[-1])}
    assert {got[n][0]: got[n][3] for n in last.values()} == ends
    assert probe(ours).video == probe(theirs).video


def test_results_with_other_streams_go_to_ffmpeg(results: list[Path], tmp_path: Path) -> None:
    """A result carrying a stream beyond its first video and audio (subtitles) is not
    remuxed, leaves nothing behind, and the join still holds every frame."""
    with_subs = tmp_path / result_name("out.mp4", 0)
    subs = tmp_path / "subs.srt"
    subs.write_text("1\n00:00:00,000 --> 00:00:00,500\nhello\n", encoding="utf-8")
    ffmpeg("-i", str(results[0]), "-i", str(subs), "-map", "0", "-map", "1", "-c", "copy",
           "-c:s", "mov_text", "-metadata", "comment=", str(with_subs))  # fmt: skip
    infos = [probe(p) for p in [with_subs, *results[1:]]]
    target = tmp_path / "out.mp4"
    assert not remux.remux(infos, [None] * len(infos), target, "mp4")
    assert not target.exists()
    parts = {p.name: p.read_bytes() for p in [with_subs, *results[1:]]}
    joined = run_assembler("concat", parts, {"verify_frames": False})["out.mp4"]
    target.write_bytes(joined)
    assert probe(target).video.frames == sum(i.video.frames for i in infos if i.video)  # type: ignore[union-attr]


def test_a_packet_the_muxer_refuses_leaves_nothing_and_says_so(
    results: list[Path], tmp_path: Path
) -> None:
    """Times that would go back across a joint (a first result said to end early) make the
    muxer refuse: remux returns False and removes its partial output."""
    infos = [probe(p) for p in results]
    video = infos[0].video
    assert video is not None
    early = dataclasses.replace(video, last_duration=-round(0.9 / video.time_base))
    infos[0] = dataclasses.replace(infos[0], video=early)
    target = tmp_path / "out.mp4"
    assert not remux.remux(infos, [None] * len(infos), target, "mp4")
    assert not target.exists()


def test_other_outputs_and_sources_are_not_remuxed(results: list[Path], tmp_path: Path) -> None:
    """Matroska output, or a result of another container, leaves the join to ffmpeg."""
    infos = [probe(p) for p in results]
    assert not remux.can_remux(infos, "matroska")
    mkv = make_video(tmp_path / "clip.webm", 1.0)
    assert not remux.can_remux([*infos, probe(mkv)], "mp4")
