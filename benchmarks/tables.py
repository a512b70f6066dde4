"""Tables: the ``row`` partitioner and the table ``concat`` against copy tools and dataframes.

Input: a generated CSV (``_tables_data``: quoted "Last, First" names, comments with
doubled quotes and LF/CRLF line breaks, some accents; 1 GiB by default) and the same
rows as Parquet (written by polars, 256k-row groups). Every side is a fresh process.

* ``row`` (``serve partitioner row``, 16 chunks) against ``cp`` of the CSV: goal
  <= 2.5 (0.4x cp's throughput); against polars ``read_csv`` + 16 ``write_csv``:
  <= 1/6; against a Python ``csv`` reader/writer loop into 16 files: <= 1/20. The csv
  loop runs on a 64 MiB slice of the same rows and its time is scaled to the full size.
* ``row`` on the Parquet file into 16 chunks against polars ``read_parquet`` + 16
  ``write_parquet``: <= 0.5.
* ``concat`` (``serve assembler concat``) of the 16 CSV chunks, named as library
  results (``chunk-000003.data.csv``), against ``cat`` of the same files: <= 2.

Outputs are checked once, untimed (chunks join back to the source byte for byte, the
concat gives back the source, row counts add up), and that run's peak RSS is reported
(``wait4`` on the child). Outputs are deleted after every run so their writeback never
lands in another side's time.
"""

from __future__ import annotations

import filecmp
import importlib.util
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from _harness import Config, Report, Row, Timings, clean_environ, interleave, run_timed
from _tables_data import HEADER, generate

NAME = "tables"
CHUNKS = 16
# Largest acceptable time ratios: 0.4x cp, 6x polars, 20x the csv module, 2x polars, 0.5x cat.
GOALS = {"cp": 2.5, "polars-csv": 0.167, "csv": 0.05, "polars-parquet": 0.5, "cat": 2.0}
GOAL_MIB = 1024
SLICE_MIB = 64
_PIECE = 8 << 20

SCRIPTS = {
    "polars-csv": "import polars as pl\ndf = pl.read_csv(SRC)\nEXT = 'csv'\n",
    "polars-parquet": "import polars as pl\ndf = pl.read_parquet(SRC)\nEXT = 'parquet'\n",
}
_SPLIT = """
step = -(-df.height // N)
for i in range(N):
    getattr(df.slice(i * step, step), f"write_{EXT}")(f"{OUT}/part_{i}.{EXT}")
print(df.height)
"""
CSV_LOOP = """
import csv, itertools
with open(SRC, newline="", encoding="utf-8") as source:
    reader = csv.reader(source)
    header = next(reader)
    step = -(-ROWS // N)
    for i in range(N):
        with open(f"{OUT}/part_{i}.csv", "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(header)
            writer.writerows(itertools.islice(reader, step))
"""
TO_PARQUET = "import polars as pl\npl.read_csv(SRC).write_parquet(OUT, row_group_size=262_144)\n"


def _script(body: str, **names: object) -> list[str]:
    preamble = "".join(f"{key} = {value!r}\n" for key, value in names.items())
    return [sys.executable, "-c", preamble + body]


def peak_rss(command: Sequence[str], env: Mapping[str, str]) -> tuple[int, str]:
    """Run ``command``; return its peak resident set in bytes (from ``wait4``, this child
    alone) and its stdout. Raises on a non-zero exit, like ``run_timed``."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen(list(command), env=dict(env), stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode:
            err.seek(0)
            tail = " | ".join(err.read().decode(errors="replace").strip().splitlines()[-5:])
            raise RuntimeError(f"{' '.join(command[:4])} … exited {child.returncode}: {tail}")
        out.seek(0)
        return usage.ru_maxrss * 1024, out.read().decode()


def read_all(path: Path) -> None:
    """Read a file once, so every side starts from the same warm page cache."""
    buffer = bytearray(_PIECE)
    with path.open("rb", buffering=0) as stream:
        while stream.readinto(buffer):
            pass


def check_chunks(folder: Path, source: Path) -> None:
    """The chunks each start with the header and their bodies join to the source."""
    names = sorted(folder.iterdir(), key=lambda p: int(p.stem.split("_")[1]))
    if len(names) != CHUNKS:
        raise RuntimeError(f"row: {len(names)} chunks, expected {CHUNKS}")
    with source.open("rb") as expected:
        expected.seek(len(HEADER))
        for path in names:
            with path.open("rb") as chunk:
                if chunk.read(len(HEADER)) != HEADER:
                    raise RuntimeError(f"row: {path.name} does not start with the header")
                while piece := chunk.read(_PIECE):
                    if expected.read(len(piece)) != piece:
                        raise RuntimeError(f"row: {path.name} differs from the source")
        if expected.read(1):
            raise RuntimeError("row: the chunks stop short of the end of the source")


Command = tuple[list[str], dict[str, str]]


class _Sides:
    """Every command of the benchmark, each writing into its own folder under ``root``."""

    def __init__(self, root: Path) -> None:
        self.env = clean_environ()
        self.outs = {name: root / name for name in ("row", "cp", "base", "concat")}
        for folder in self.outs.values():
            folder.mkdir()

    def clear(self) -> None:
        for folder in self.outs.values():
            for path in folder.iterdir():
                path.unlink()

    def row(self, source_dir: Path) -> Command:
        params = f'{{"num_chunks": {CHUNKS}}}'
        env = {"SOURCE_DIR": str(source_dir), "CHUNKS_DIR": str(self.outs["row"])}
        return _serve("partitioner", "row"), {**self.env, **env, "PARTITIONER_PARAMS": params}

    def concat(self, results: Path) -> Command:
        env = {"TASK_RESULTS_DIR": str(results), "OUTPUT_DIR": str(self.outs["concat"])}
        return _serve("assembler", "concat"), {**self.env, **env, "ASSEMBLER_PARAMS": "{}"}

    def polars(self, kind: str, source: Path) -> Command:
        names = {"SRC": str(source), "OUT": str(self.outs["base"]), "N": CHUNKS}
        return _script(SCRIPTS[kind] + _SPLIT, **names), self.env

    def plain(self, command: list[str]) -> Command:
        return command, self.env

    @staticmethod
    def timed(command: Command) -> Callable[[], float]:
        return lambda: run_timed(*command)


def _serve(kind: str, name: str) -> list[str]:
    return [sys.executable, "-m", "bytenite_runtime", "serve", kind, name]


class _Bench:
    """One run of the benchmark: the generated data, the sides, and what is reported."""

    def __init__(self, config: Config, root: Path) -> None:
        self.repeat, self.slow = (3, 1) if config.quick else (5, 2)
        self.root, self.source = root, root / "source"
        self.source.mkdir()
        self.csv = self.source / "data.csv"
        self.rows = generate(self.csv, config.size_mib << 20)
        self.size = self.csv.stat().st_size
        # Freshly written input is dirty; left alone it would be written back to disk in
        # the middle of some measurement.
        os.sync()
        read_all(self.csv)
        self.sides = _Sides(root)
        self.report = Report()
        self.rates: list[str] = []
        self.memory: list[str] = []

    def checked_run(self, label: str, command: Command) -> str:
        """One untimed run: peak memory noted, stdout returned, the output left to check."""
        rss, out = peak_rss(*command)
        self.memory.append(f"{label} {rss >> 20} MiB")
        return out

    def timed(
        self, sides: dict[str, Command], repeat: int, *, warm: bool = True, size: int = 0
    ) -> list[Timings]:
        """Time the sides alternately; ``size`` (default: the CSV's) gives their MB/s."""
        runs = {label: self.sides.timed(command) for label, command in sides.items()}
        if warm:
            interleave(runs, 1, self.sides.clear)  # bytecode, binaries, allocator state
        timings = interleave(runs, repeat, self.sides.clear)
        for label, found in timings.items():
            self.rates.append(f"{label} {(size or self.size) / 1e6 / found.best:.0f} MB/s")
        return list(timings.values())

    def partition_csv(self) -> Path:
        """Row on the CSV against cp, polars and the csv module; returns the chunks,
        named as library results, for the concat."""
        sides = self.sides
        self.checked_run("row csv", sides.row(self.source))
        check_chunks(sides.outs["row"], self.csv)
        results = self.root / "results"
        results.mkdir()
        for path in sides.outs["row"].iterdir():
            index = int(path.stem.split("_")[1])
            os.link(path, results / f"chunk-{index:06d}.data.csv")
        out = self.checked_run("polars csv", sides.polars("polars-csv", self.csv))
        if int(out) != self.rows:
            raise RuntimeError(f"polars read {out.strip()} rows, expected {self.rows}")
        sides.clear()
        copy = ["cp", str(self.csv), str(sides.outs["cp"] / "copy.csv")]
        ours, cp = self.timed(
            {"row csv -> 16": sides.row(self.source), "cp": sides.plain(copy)}, self.repeat
        )
        polars = sides.polars("polars-csv", self.csv)
        (base,) = self.timed({"polars read_csv + 16 write_csv": polars}, self.slow, warm=False)
        self.report.rows += [
            Row(NAME, ours, cp, GOALS["cp"]),
            Row(NAME, ours, base, GOALS["polars-csv"]),
            Row(NAME, ours, self.csv_loop(), GOALS["csv"]),
        ]
        return results

    def csv_loop(self) -> Timings:
        """The csv module loop on a slice of the same rows, its time scaled to the file."""
        piece = self.root / "slice.csv"
        rows = generate(piece, min(self.size, SLICE_MIB << 20))
        read_all(piece)
        names = {"SRC": str(piece), "OUT": str(self.sides.outs["base"]), "N": CHUNKS, "ROWS": rows}
        seconds = run_timed(_script(CSV_LOOP, **names), self.sides.env)
        self.sides.clear()
        sliced = piece.stat().st_size
        self.report.notes.append(
            f"{NAME}: csv loop timed once on a {sliced / (1 << 20):.0f} MiB slice of the same "
            f"rows ({seconds:.1f} s, {sliced / 1e6 / seconds:.0f} MB/s), scaled by "
            f"{self.size / sliced:.1f} to the full file"
        )
        return Timings("python csv loop (scaled)", (seconds * self.size / sliced,))

    def concat(self, results: Path) -> None:
        """The table concat of the chunks against cat."""
        sides = self.sides
        self.checked_run("concat csv", sides.concat(results))
        if not filecmp.cmp(sides.outs["concat"] / "data.csv", self.csv, shallow=False):
            raise RuntimeError("concat: the joined CSV differs from the source")
        sides.clear()
        files = sorted(str(p) for p in results.iterdir())
        cat = ["sh", "-c", 'exec cat -- "$@" > "$0"', str(sides.outs["cp"] / "cat.csv"), *files]
        ours, base = self.timed(
            {"concat csv <- 16": sides.concat(results), "cat": sides.plain(cat)}, self.repeat
        )
        self.report.rows.append(Row(NAME, ours, base, GOALS["cat"]))

    def parquet(self) -> None:
        """Row on the same rows as Parquet against polars."""
        if importlib.util.find_spec("bytenite_runtime.tables.columnar") is None:
            self.report.notes.append(f"{NAME}: parquet skipped (no tables.columnar yet)")
            return
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        sides, folder = self.sides, self.root / "parquet"
        folder.mkdir()
        table = folder / "data.parquet"
        run_timed(_script(TO_PARQUET, SRC=str(self.csv), OUT=str(table)), sides.env)
        read_all(table)
        self.checked_run("row parquet", sides.row(folder))
        chunks = list(sides.outs["row"].iterdir())
        rows = sum(pq.read_metadata(path).num_rows for path in chunks)
        if len(chunks) != CHUNKS or rows != self.rows:
            raise RuntimeError(f"row parquet: {len(chunks)} chunks, {rows} rows")
        self.checked_run("polars parquet", sides.polars("polars-parquet", table))
        sides.clear()
        polars = sides.polars("polars-parquet", table)
        both = {"row parquet -> 16": sides.row(folder), "polars parquet read + 16 writes": polars}
        ours, base = self.timed(both, self.slow + 1, warm=False, size=table.stat().st_size)
        self.report.rows.append(Row(NAME, ours, base, GOALS["polars-parquet"]))


def run(config: Config) -> Report:
    with tempfile.TemporaryDirectory(prefix="bench-tables-", dir=config.tmp) as tmp:
        bench = _Bench(config, Path(tmp))
        results = bench.partition_csv()
        bench.concat(results)
        bench.parquet()
    report = bench.report
    if config.size_mib < GOAL_MIB:
        report.rows = [Row(r.benchmark, r.ours, r.baseline, None) for r in report.rows]
        report.notes.append(f"{NAME}: goals apply from {GOAL_MIB} MiB on; rows shown as info")
    report.notes.append(
        f"{NAME}: {bench.size >> 20} MiB CSV, {bench.rows} rows; throughput: "
        + ", ".join(bench.rates)
    )
    report.notes.append(f"{NAME}: peak RSS (one checked run each): " + ", ".join(bench.memory))
    return report
