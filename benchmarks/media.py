"""Media: ``time-chunk`` (copy mode) and the media ``concat`` against bare ffmpeg runs.

Input: a generated 60 s 1280x720 clip at 30 fps (testsrc2 + a sine; H.264 with a
keyframe every 48 frames and B-frames, AAC), 60 s in ``--quick`` mode too: the goals
are for that length. Every side is a fresh process.

* ``serve partitioner time-chunk`` (``segment_seconds`` 10, ``mode`` copy: probe, plan,
  one stream-copy pass) against ``ffmpeg -f segment -segment_time 10 -c copy`` (which
  cuts on the first keyframe after each time and plans nothing): goal <= 1.25.
* ``serve assembler concat`` of those chunks, named as library results (probe every
  result, concat demuxer with per-file inpoint/duration, probe the output to check
  counts and timestamps) against a bare ``ffmpeg -f concat -c copy``: goal <= 1.25.

An information row times a fresh Python importing the library and PyAV, which every
component process pays before it reads a byte: at this size it is most of the gap.

Outputs are checked once, untimed: the chunks' frames add up to the clip's, the joined
file holds every frame. Outputs are deleted after every run.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from _harness import Config, Report, Row, clean_environ, interleave, run_timed

NAME = "media"
GOAL = 1.25
SECONDS, SEGMENT = 60, 10


def _ffmpeg() -> str:
    from bytenite_runtime.media import find_ffmpeg

    return find_ffmpeg()


def _make_clip(path: Path) -> None:
    run_timed(
        [_ffmpeg(), "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=30:duration={SECONDS}",
         "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={SECONDS}",
         "-c:v", "libx264", "-preset", "ultrafast", "-crf", "20", "-g", "48", "-bf", "2",
         "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-shortest", str(path)]
    )  # fmt: skip


def _frames(path: Path) -> int:
    from bytenite_runtime.media.probe import probe

    info = probe(path)
    return info.video.frames if info.video else 0


def _serve(kind: str, name: str) -> list[str]:
    return [sys.executable, "-m", "bytenite_runtime", "serve", kind, name]


def _emptied(*folders: Path) -> Callable[[], None]:
    def clear() -> None:
        for folder in folders:
            for path in folder.iterdir():
                path.unlink()

    return clear


def run(config: Config) -> Report:
    repeat = 3 if config.quick else 5
    report = Report()
    with tempfile.TemporaryDirectory(prefix="bytenite-bench-media-", dir=config.tmp) as tmp:
        root = Path(tmp)
        source, chunks, segs, results, out, base = (
            root / n for n in ("source", "chunks", "segs", "results", "out", "base")
        )
        for folder in (source, chunks, segs, results, out, base):
            folder.mkdir()
        clip = source / "clip.mp4"
        _make_clip(clip)
        os.sync()
        env = clean_environ()
        ours_cut = (
            _serve("partitioner", "time-chunk"),
            {**env, "SOURCE_DIR": str(source), "CHUNKS_DIR": str(chunks),
             "PARTITIONER_PARAMS": f'{{"segment_seconds": {SEGMENT}}}'},
        )  # fmt: skip
        bare_cut = [
            _ffmpeg(), "-hide_banner", "-loglevel", "error", "-nostdin", "-i", str(clip),
            "-map", "0", "-c", "copy", "-f", "segment", "-segment_time", str(SEGMENT),
            "-reset_timestamps", "1", str(segs / "seg%03d.mp4"),
        ]  # fmt: skip

        # Untimed: the chunks as results for the concat, and the checks.
        run_timed(*ours_cut)
        total = _frames(clip)
        found = sorted(chunks.iterdir(), key=lambda p: int(p.stem.split("_")[1]))
        if sum(_frames(p) for p in found) != total:
            raise RuntimeError("time-chunk: the chunks' frames do not add up to the clip's")
        for index, path in enumerate(found):
            path.rename(results / f"chunk-{index:06d}.clip.mp4")
        listing = root / "list.ffconcat"
        listing.write_text(
            "ffconcat version 1.0\n" + "".join(f"file '{p}'\n" for p in sorted(results.iterdir())),
            encoding="utf-8",
        )
        ours_join = (
            _serve("assembler", "concat"),
            {**env, "TASK_RESULTS_DIR": str(results), "OUTPUT_DIR": str(out),
             "ASSEMBLER_PARAMS": "{}"},
        )  # fmt: skip
        bare_join = [
            _ffmpeg(), "-hide_banner", "-loglevel", "error", "-nostdin", "-f", "concat",
            "-safe", "0", "-i", str(listing), "-map", "0", "-c", "copy",
            str(base / "clip.mp4"),
        ]  # fmt: skip
        run_timed(*ours_join)
        if _frames(out / "clip.mp4") != total:
            raise RuntimeError("concat: the joined file lost frames")
        clear = _emptied(chunks, segs, out, base)
        clear()

        sides = {
            "cut": {"time-chunk copy": lambda: run_timed(*ours_cut),
                    "ffmpeg -f segment -c copy": lambda: run_timed(bare_cut)},
            "join": {"concat (media)": lambda: run_timed(*ours_join),
                     "ffmpeg -f concat -c copy": lambda: run_timed(bare_join)},
        }  # fmt: skip
        for runs in sides.values():
            interleave(runs, 1, clear)  # warm: bytecode, binaries, page cache
            ours, bare = interleave(runs, repeat, clear).values()
            report.rows.append(Row(NAME, ours, bare, GOAL))
        # Information: the fixed cost of any component process, before it touches a byte.
        floor = [sys.executable, "-c", "import av, bytenite_runtime.task, bytenite_runtime.media"]
        start = interleave(
            {"python + imports": lambda: run_timed(floor, env),
             "ffmpeg -f segment -c copy": lambda: run_timed(bare_cut)},
            repeat, clear,
        )  # fmt: skip
        ours, bare = start.values()
        report.rows.append(Row(NAME, ours, bare, None))
        size = clip.stat().st_size
        report.notes.append(
            f"media: {SECONDS} s 720p clip, {size / 1e6:.0f} MB, {total} frames, "
            f"{len(found)} chunks of ~{SEGMENT} s (first run of each side untimed)"
        )
    return report
