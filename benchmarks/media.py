"""Media: ``time-chunk`` (copy mode) and the media ``concat`` against bare ffmpeg runs.

Two generated 60 s 1280x720 clips at 30 fps (testsrc2 + a sine; H.264 with a keyframe
every 48 frames and B-frames, AAC), both in ``--quick`` mode too: the goals are for
that length.

* ``small``: CRF 20, about 60 MB. The goals' clip: here the fixed start of a Python
  process (interpreter, pydantic, PyAV: ~0.15 s) weighs as much as the work.
* ``mezzanine``: the same picture with temporal noise at CRF 14, about 780 MB (~100
  Mbit/s, a mezzanine's rate): the per-byte cost, with that fixed start diluted.

For each clip, every side a fresh process:

* ``serve partitioner time-chunk`` (``segment_seconds`` 10, ``mode`` copy: probe from
  the MP4 index, plan, one stream-copy pass, in two halves on two threads) against
  ``ffmpeg -f segment -segment_time 10 -c copy`` (which cuts on the first keyframe after
  each time and plans nothing): goal <= 1.25.
* ``serve assembler concat`` of those chunks, named as library results (probe every
  result, join them in this process from the probes' own opens as ffmpeg's concat
  demuxer would with per-file inpoint/duration, probe the output to check counts and
  timestamps) against a bare ``ffmpeg -f concat -c copy``: goal <= 1.25.

An information row times a fresh Python importing the library and PyAV, which every
component process pays before it reads a byte; a note splits each clip's work into its
stages, timed in this process (imports already paid).

Outputs are checked once, untimed: the chunks' frames add up to the clip's, the joined
file holds every frame. Outputs are deleted after every run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _harness import Config, Report, Row, clean_environ, interleave, run_timed

NAME = "media"
GOAL = 1.25
SECONDS, SEGMENT = 60, 10
# (name, extra ffmpeg arguments): the noise makes every frame differ from the last, so
# the encoder cannot fall back on the test pattern's stillness; ~10 s to generate.
CLIPS = (
    ("small", ("-crf", "20")),
    ("mezzanine", ("-vf", "noise=alls=8:allf=t", "-crf", "14")),
)


def _ffmpeg() -> str:
    from bytenite_runtime.media import find_ffmpeg

    return find_ffmpeg()


def _make_clip(path: Path, quality: tuple[str, ...]) -> None:
    run_timed(
        [_ffmpeg(), "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=30:duration={SECONDS}",
         "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={SECONDS}",
         "-c:v", "libx264", "-preset", "ultrafast", *quality, "-g", "48", "-bf", "2",
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


def _best_ms(step: Callable[[], object], repeat: int, after: Callable[[], None]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
        after()
    return min(times) * 1000


def _stages(clip: Path, results: Path, scratch: Path, repeat: int) -> str:
    """The library's steps timed in this process, imports paid: where ours goes."""
    from bytenite_runtime._inputs import list_results
    from bytenite_runtime.media import _join_checks, _join_copy, join, plan, remux
    from bytenite_runtime.media.cut import write_copy
    from bytenite_runtime.media.probe import probe

    def nothing() -> None:
        pass

    info = probe(clip)
    assert info.video is not None
    cuts = plan.requested_cuts(info.video.end - info.video.start, SEGMENT, None)
    bounds, pieces = plan.plan_video(info, cuts, "copy")
    comments = [None] * len(pieces)
    members = list_results(results)
    paths = [m.path for m in members]
    infos = join._probe_all(paths)
    joined = scratch / "joined.mp4"
    cut = {
        "probe": _best_ms(lambda: probe(clip), repeat, nothing),
        "plan": _best_ms(lambda: plan.plan_video(info, cuts, "copy"), repeat, nothing),
        "write chunks": _best_ms(
            lambda: list(write_copy(info, bounds, scratch, "mp4", comments)),
            repeat, _emptied(scratch),
        ),
    }  # fmt: skip
    with contextlib.ExitStack() as stack:
        # The join copies from the containers its probes opened (each seeks to its start).
        containers = [c for _, c in join._open_all(paths, stack, keep=True)]

        def copy_joined() -> None:
            if not remux.remux(infos, containers, joined, "mp4"):
                _join_copy.join_by_copy(members, infos, containers, joined, "mp4")

        remuxed = _best_ms(copy_joined, repeat, lambda: joined.unlink())
        copy_joined()
    glue = {
        "probe results": _best_ms(lambda: join._probe_all(paths), repeat, nothing),
        "remux": remuxed,
        "probe output": _best_ms(
            lambda: _join_checks.check_output(joined, infos, reencoded=False, decoded=False),
            repeat,
            nothing,
        ),
    }
    _emptied(scratch)()
    return "; ".join(
        f"{side}: " + " + ".join(f"{k} {v:.0f}" for k, v in times.items()) + " ms"
        for side, times in (("time-chunk", cut), ("concat", glue))
    )


def _bench_clip(
    root: Path, label: str, quality: tuple[str, ...], repeat: int, report: Report
) -> list[str]:
    """Rows and a note for one clip (and the start-up row for the small one); returns
    each goal row's ratio, labelled."""
    source, chunks, segs, results, out, base, scratch = (
        root / n for n in ("source", "chunks", "segs", "results", "out", "base", "scratch")
    )
    for folder in (source, chunks, segs, results, out, base, scratch):
        folder.mkdir(parents=True)
    clip = source / "clip.mp4"
    _make_clip(clip, quality)
    os.sync()
    size = clip.stat().st_size
    tag = f"{size / 1e6:.0f} MB"
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
        raise RuntimeError(f"time-chunk ({label}): the chunks' frames do not add up")
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
        raise RuntimeError(f"concat ({label}): the joined file lost frames")
    clear = _emptied(chunks, segs, out, base)
    clear()

    sides = {
        "time-chunk": {f"time-chunk copy, {label} {tag}": lambda: run_timed(*ours_cut),
                       "ffmpeg -f segment -c copy": lambda: run_timed(bare_cut)},
        "concat": {f"concat (media), {label} {tag}": lambda: run_timed(*ours_join),
                   "ffmpeg -f concat -c copy": lambda: run_timed(bare_join)},
    }  # fmt: skip
    ratios = []
    for kind, runs in sides.items():
        interleave(runs, 1, clear)  # warm: bytecode, binaries, page cache
        ours, bare = interleave(runs, repeat, clear).values()
        report.rows.append(Row(NAME, ours, bare, GOAL))
        ratios.append(f"{kind} {tag} {ours.best / bare.best:.2f}")
    if label == "small":
        # Information: the fixed cost of any component process, before it touches a byte.
        floor = [sys.executable, "-c", "import av, bytenite_runtime.task, bytenite_runtime.media"]
        start = interleave(
            {"python + imports": lambda: run_timed(floor, env),
             "ffmpeg -f segment -c copy": lambda: run_timed(bare_cut)},
            repeat, clear,
        )  # fmt: skip
        ours, bare = start.values()
        report.rows.append(Row(NAME, ours, bare, None))
    report.notes.append(
        f"media {label}: {SECONDS} s 720p clip, {tag}, {total} frames, {len(found)} chunks "
        f"of ~{SEGMENT} s; stages in-process (best of {repeat}): "
        + _stages(clip, results, scratch, repeat)
    )
    shutil.rmtree(root)
    return ratios


def run(config: Config) -> Report:
    from bytenite_runtime.media import version

    repeat = 3 if config.quick else 5
    report = Report()
    ratios = []
    with tempfile.TemporaryDirectory(prefix="bytenite-bench-media-", dir=config.tmp) as tmp:
        for label, quality in CLIPS:
            ratios += _bench_clip(Path(tmp) / label, label, quality, repeat, report)
    report.notes.append(
        "media ratios (best runs, goal <= 1.25): " + ", ".join(ratios) + "; the small clip's "
        "gap is mostly the fixed start of a Python process (the 'python + imports' row)"
    )
    report.notes.append(f"media: both sides ran {version()}")
    return report
