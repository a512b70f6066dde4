"""The ``zipper`` assembler on already-compressed media against two references.

Input: about 200 files of random bytes (random bytes do not compress, like JPEG or MP4
payloads) named as media (``.jpg``, ``.mp4``…), with one in eight named ``.bin`` so the
content sniffing runs too; named like library results (``….chunk-000007.jpg``).

Ours: ``python -m bytenite_runtime serve assembler zipper`` as the platform starts it.
References, each a fresh process writing to the same disk:

* ``zipfile`` deflating every file at level 6, what the platform's published zipper
  does. Goal: ours <= 0.1 x its time (at least 10x faster).
* ``tar cf``, a plain copy of the bytes into one file. Goal: ours <= 1.25 x its time
  (at least 0.8x its throughput).

All sides read warm files: the data is synced to disk and read once before timing, and
each output is deleted right after its run so dirty pages never pile up into writeback
in the middle of another side's measurement.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from _harness import Config, Report, Row, Timings, clean_environ, interleave, run_timed

NAME = "zipper"
FILES = 200
GOAL_DEFLATE = 0.1
GOAL_TAR = 1.25
GOAL_MIB = 1024
_EXTENSIONS = ("jpg", "png", "mp4", "webp", "mov", "jpg", "mp3", "bin")
_PIECE = 1 << 20

DEFLATE = """\
import sys, zipfile
from pathlib import Path
source, target = Path(sys.argv[1]), sys.argv[2]
with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
    for path in sorted(source.iterdir()):
        archive.write(path, path.name)
"""


def generate(folder: Path, total: int, files: int, seed: int = 7) -> None:
    """Write ``files`` random files of uneven sizes (1:9 spread) adding up to ``total``."""
    rng = random.Random(seed)
    weights = [rng.randint(1, 9) for _ in range(files)]
    sizes = [total * w // sum(weights) for w in weights]
    sizes[-1] += total - sum(sizes)
    for i, size in enumerate(sizes):
        ext = _EXTENSIONS[i % len(_EXTENSIONS)]
        with (folder / f"media_{i:04d}.chunk-{i:06d}.{ext}").open("wb") as out:
            left = size
            while left:
                piece = min(left, _PIECE)
                out.write(os.urandom(piece))
                left -= piece


def read_all(folder: Path) -> None:
    """Read every file once, so every side starts from the same warm page cache."""
    buffer = bytearray(_PIECE)
    for path in folder.iterdir():
        with path.open("rb", buffering=0) as stream:
            while stream.readinto(buffer):
                pass


class _Sides:
    def __init__(self, root: Path, source: Path) -> None:
        self.source = source
        self.out = root / "out"
        self.out.mkdir()
        self.env = clean_environ()

    def zipper(self) -> float:
        env = {
            **self.env,
            "TASK_RESULTS_DIR": str(self.source),
            "OUTPUT_DIR": str(self.out),
            "ASSEMBLER_PARAMS": "{}",
        }
        return run_timed(
            [sys.executable, "-m", "bytenite_runtime", "serve", "assembler", "zipper"], env
        )

    def deflate(self) -> float:
        target = self.out / "deflated.zip"
        return run_timed([sys.executable, "-c", DEFLATE, str(self.source), str(target)], self.env)

    def tar(self) -> float:
        archive = str(self.out / "all.tar")
        return run_timed(["tar", "cf", archive, "-C", str(self.source), "."], self.env)

    def clear(self) -> None:
        for path in self.out.iterdir():
            path.unlink()

    def verify_zipper(self, files: int) -> str:
        """Run the zipper once, untimed, and check its archive entry by entry (CRCs too)."""
        self.zipper()
        with zipfile.ZipFile(self.out / "results_archive.zip") as archive:
            infos = archive.infolist()
            bad = archive.testzip()
        self.clear()
        stored = sum(i.compress_type == zipfile.ZIP_STORED for i in infos)
        if len(infos) != files or bad is not None:
            raise RuntimeError(f"zipper archive: {len(infos)} entries, first bad: {bad}")
        return f"{len(infos)} entries, {stored} stored, CRCs ok"


def _rate(total: int, timings: Timings) -> str:
    return f"{total / 1e6 / timings.best:.0f} MB/s"


def run(config: Config) -> Report:
    total = config.size_mib << 20
    files = max(8, min(FILES, config.size_mib))
    repeat = 3 if config.quick else 5
    labels = {
        "zipper": "zipper (serve assembler)",
        "deflate": "zipfile DEFLATED-6",
        "tar": "tar cf",
    }
    with tempfile.TemporaryDirectory(prefix="bench-zipper-", dir=config.tmp) as tmp:
        root = Path(tmp)
        source = root / "results"
        source.mkdir()
        generate(source, total, files)
        # Freshly written input is dirty; left alone it would be written back to disk in
        # the middle of some measurement.
        os.sync()
        read_all(source)
        sides = _Sides(root, source)
        checked = sides.verify_zipper(files)
        fast: dict[str, Callable[[], float]] = {
            labels["zipper"]: sides.zipper,
            labels["tar"]: sides.tar,
        }
        interleave(fast, 1, sides.clear)  # warm-up: bytecode, tar's binary, allocator state
        timings = interleave(fast, repeat, sides.clear)
        # Deflating is some 20x slower than the others: fewer runs keep the whole
        # benchmark short, and a gap that wide does not hinge on noise.
        slow = interleave({labels["deflate"]: sides.deflate}, 1 if config.quick else 2, sides.clear)
        timings.update(slow)
    ours = timings[labels["zipper"]]
    # The goals are set for 1 GiB: below it the zipper's fixed start (an interpreter and
    # pydantic, some 0.15 s) against tar's few milliseconds is most of what is measured.
    judged = config.size_mib >= GOAL_MIB
    report = Report()
    report.rows.append(
        Row(NAME, ours, timings[labels["deflate"]], GOAL_DEFLATE if judged else None)
    )
    report.rows.append(Row(NAME, ours, timings[labels["tar"]], GOAL_TAR if judged else None))
    if not judged:
        report.notes.append(f"{NAME}: goals apply from {GOAL_MIB} MiB on; rows shown as info")
    rates = ", ".join(f"{label} {_rate(total, timings[label])}" for label in labels.values())
    report.notes.append(f"{NAME}: {config.size_mib} MiB in {files} files; {rates}")
    speedup = timings[labels["deflate"]].best / ours.best
    report.notes.append(f"{NAME}: {speedup:.1f}x faster than DEFLATED-6; archive: {checked}")
    return report
