"""Images: the ``tile`` partitioner and the ``mosaic`` assembler against plain Pillow.

Input: a generated 8192x8192 RGB image (smooth gradients, waves and a little noise, so
PNG compresses it as it would a photo-like render), saved once as PNG and once as JPEG
(quality 95). Every side is a fresh process.

* ``tile`` (``serve partitioner tile``, 1024 px tiles: 64 of them) against a naive
  single-threaded Pillow loop (open, then 64 x crop + save in the same format, JPEG at
  the same quality 95): goal <= 0.6 for PNG and for JPEG.
* ``mosaic`` (``serve assembler mosaic``) of the 64 PNG tiles, named as library results,
  into one 8192x8192 PNG against the codec floor: a process that decodes the 64 tiles
  and encodes the full image once (its time minus the untimed load of that full image
  from the source): goal <= 1.1. Its peak RSS (``wait4``) against the output's raw size
  (8192 x 8192 x 3 bytes): goal <= 1.5.

Outputs are checked once, untimed (64 tiles; the mosaic equals the source pixel for
pixel) and deleted after every run.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _harness import Config, Report, Row, clean_environ, interleave, run_timed
from tables import peak_rss

NAME = "images"
SIDE = 8192
TILE = 1024
GOALS = {"tile": 0.6, "mosaic": 1.1, "memory": 1.5}

GENERATE = """
import numpy as np
from PIL import Image
side = SIDE
y = np.arange(side, dtype=np.float32)[:, None]
x = np.arange(side, dtype=np.float32)[None, :]
rng = np.random.default_rng(0)
channels = []
for i in range(3):
    wave = 60 * np.sin(x / (97 + 31 * i)) * np.cos(y / (131 + 17 * i))
    ramp = (x * (i + 1) + y * (3 - i)) / (8 * side) * 255
    noise = rng.integers(0, 6, (side, side), dtype=np.uint8)
    channels.append((np.clip(96 + wave + ramp * 0.5, 0, 249) + noise).astype(np.uint8))
image = Image.fromarray(np.stack(channels, axis=-1))
image.save(f"{OUT}/source.png")
image.save(f"{OUT}/source.jpg", quality=95)
"""
NAIVE = """
from PIL import Image
image = Image.open(SRC)
image.load()
ext = SRC.rsplit(".", 1)[1]
options = {"quality": 95} if ext == "jpg" else {}
for row in range(image.height // TILE):
    for col in range(image.width // TILE):
        box = (col * TILE, row * TILE, (col + 1) * TILE, (row + 1) * TILE)
        image.crop(box).save(f"{OUT}/tile_{row}_{col}.{ext}", **options)
"""
FLOOR = """
import pathlib, time
from PIL import Image
start = time.perf_counter()
full = Image.open(SRC)
full.load()
loading = time.perf_counter() - start
for path in sorted(pathlib.Path(TILES).iterdir()):
    with Image.open(path) as tile:
        tile.load()
full.save(f"{OUT}/floor.png")
print(loading)
"""


def _script(body: str, **names: object) -> list[str]:
    preamble = "".join(f"{key} = {value!r}\n" for key, value in names.items())
    return [sys.executable, "-c", preamble + body]


def _serve(kind: str, name: str) -> list[str]:
    return [sys.executable, "-m", "bytenite_runtime", "serve", kind, name]


def _clear(*folders: Path) -> None:
    for folder in folders:
        for path in folder.iterdir():
            path.unlink()


class _Bench:
    def __init__(self, config: Config, root: Path) -> None:
        self.root = root
        self.repeat = 2 if config.quick else 3
        self.env = clean_environ()
        self.report = Report()
        self.outs = {n: root / n for n in ("src-png", "src-jpg", "ours", "naive", "mosaic")}
        for folder in self.outs.values():
            folder.mkdir()
        started = time.perf_counter()
        subprocess.run(_script(GENERATE, SIDE=SIDE, OUT=str(root)), check=True, env=self.env)
        self.report.notes.append(
            f"{NAME}: generated {SIDE}x{SIDE} RGB in {time.perf_counter() - started:.1f} s "
            f"(PNG {(root / 'source.png').stat().st_size >> 20} MiB, "
            f"JPEG {(root / 'source.jpg').stat().st_size >> 20} MiB)"
        )
        (root / "source.png").rename(self.outs["src-png"] / "source.png")
        (root / "source.jpg").rename(self.outs["src-jpg"] / "source.jpg")

    def tile_env(self, ext: str) -> dict[str, str]:
        return {
            **self.env,
            "SOURCE_DIR": str(self.outs[f"src-{ext}"]),
            "CHUNKS_DIR": str(self.outs["ours"]),
            "PARTITIONER_PARAMS": f'{{"tile_width": {TILE}}}',
        }

    def tile(self, ext: str) -> None:
        source = self.outs[f"src-{ext}"] / f"source.{ext}"
        ours = (_serve("partitioner", "tile"), self.tile_env(ext))
        naive = (_script(NAIVE, SRC=str(source), OUT=str(self.outs["naive"]), TILE=TILE), self.env)
        sides = {f"tile {ext} -> 64": ours, "Pillow crop+save loop": naive}
        for command, env in sides.values():
            run_timed(command, env)
        chunks = len(list(self.outs["ours"].iterdir()))
        if chunks != 64:
            raise RuntimeError(f"tile: {chunks} chunks from the {ext} source, expected 64")
        memory, _ = peak_rss(*ours)
        self.report.notes.append(f"{NAME}: tile {ext} peak RSS {memory >> 20} MiB (parent)")
        _clear(self.outs["ours"], self.outs["naive"])
        runs = {
            label: (lambda c=command, e=env: run_timed(c, e))
            for label, (command, env) in sides.items()
        }
        timings = interleave(runs, self.repeat, lambda: _clear(self.outs["naive"]))
        ours_t, naive_t = timings.values()
        self.report.rows.append(Row(NAME, ours_t, naive_t, GOALS["tile"]))
        # Leave the last PNG run's tiles for the mosaic.
        if ext == "jpg":
            _clear(self.outs["ours"])

    def mosaic(self) -> None:
        results = self.root / "results"
        results.mkdir()
        chunks = sorted(self.outs["ours"].iterdir(), key=lambda p: int(p.stem.split("_")[1]))
        if len(chunks) != 64:
            _clear(self.outs["ours"])
            run_timed(_serve("partitioner", "tile"), self.tile_env("png"))
            chunks = sorted(self.outs["ours"].iterdir(), key=lambda p: int(p.stem.split("_")[1]))
        for index, chunk in enumerate(chunks):
            chunk.rename(results / f"chunk-{index:06d}.tile.png")
        env = {
            **self.env,
            "TASK_RESULTS_DIR": str(results),
            "OUTPUT_DIR": str(self.outs["mosaic"]),
            "ASSEMBLER_PARAMS": "{}",
        }
        ours = _serve("assembler", "mosaic")
        source = self.outs["src-png"] / "source.png"
        floor = _script(FLOOR, SRC=str(source), TILES=str(results), OUT=str(self.outs["naive"]))

        def floor_side() -> float:
            started = time.perf_counter()
            done = subprocess.run(floor, env=self.env, capture_output=True, check=True)
            return time.perf_counter() - started - float(done.stdout.decode().strip())

        memory, _ = peak_rss(ours, env)
        self.check_mosaic(source)
        _clear(self.outs["mosaic"])
        timings = interleave(
            {
                "mosaic 64 -> png": lambda: run_timed(ours, env),
                "decode tiles + encode once": floor_side,
            },
            self.repeat,
            lambda: _clear(self.outs["mosaic"], self.outs["naive"]),
        )
        ours_t, floor_t = timings.values()
        self.report.rows.append(Row(NAME, ours_t, floor_t, GOALS["mosaic"]))
        raw = SIDE * SIDE * 3
        ratio = memory / raw
        verdict = "yes" if ratio <= GOALS["memory"] else "NO"
        self.report.notes.append(
            f"{NAME}: mosaic peak RSS {memory >> 20} MiB = {ratio:.2f} x the output's raw "
            f"{raw >> 20} MiB (goal <= {GOALS['memory']}: {verdict})"
        )

    def check_mosaic(self, source: Path) -> None:
        check = (
            "import numpy as np\nfrom PIL import Image\n"
            "a = np.asarray(Image.open(A)); b = np.asarray(Image.open(B))\n"
            "assert a.shape == b.shape and np.array_equal(a, b), 'mosaic differs from source'\n"
        )
        out = self.outs["mosaic"] / "source.png"
        subprocess.run(_script(check, A=str(out), B=str(source)), check=True, env=self.env)


def run(config: Config) -> Report:
    with tempfile.TemporaryDirectory(prefix="bench-images-", dir=config.tmp) as tmp:
        bench = _Bench(config, Path(tmp))
        bench.tile("jpg")
        bench.tile("png")
        bench.mosaic()
    return bench.report
