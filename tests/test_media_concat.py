"""The ``concat`` assembler on media: drift named by chunk, re-encoding when codecs differ,
one open per file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _media_clips import decoded_counts, ffmpeg, make_video

from bytenite_runtime import DataError
from bytenite_runtime.testing import PartitionedChunk, run_assembler, run_partitioner


@pytest.fixture(scope="module")
def chunks(tmp_path_factory: pytest.TempPathFactory) -> list[PartitionedChunk]:
    clip = make_video(tmp_path_factory.mktemp("clip") / "clip.mp4", 3.0)
    return run_partitioner("time-chunk", {"clip.mp4": clip.read_bytes()}, {"segment_seconds": 1})


def _results(parts: list[bytes], name: str = "out.mp4") -> dict[str, bytes]:
    return {f"chunk-{i:06d}.{name}": part for i, part in enumerate(parts)}


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


def test_bytes_format_still_appends_media_files(chunks: list[PartitionedChunk]) -> None:
    """format='bytes' keeps the old behaviour: files appended as they are."""
    parts = [c.data for c in chunks]
    joined = run_assembler("concat", _results(parts), {"format": "bytes"})
    assert joined["out.mp4"] == b"".join(parts)


def test_each_result_is_opened_once_and_the_output_once(
    chunks: list[PartitionedChunk], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Verification reads each result's metadata from the open that probes it: one open per
    result and one for the joined file, with the counts still checked."""
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
    assert sorted(opened) == sorted([*names, "out.mp4"])


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
    from bytenite_runtime.chunks import ChunkMeta
    from bytenite_runtime.media.slots import PREFIX, encode_comment, meta_from_tags

    meta = ChunkMeta(2, 6, "clip.mp4", {"frames": 30})
    assert meta_from_tags({"COMMENT": encode_comment(meta)}, Path("a.mkv")) == meta
    assert meta_from_tags({"comment": "made with love"}, Path("a.mkv")) is None
    with pytest.raises(DataError, match=r"^a\.mkv: metadata under 'bytenite.chunk' is not valid"):
        meta_from_tags({"comment": PREFIX + "{"}, Path("a.mkv"))
