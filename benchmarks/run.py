"""Run the benchmarks and print their ratios against baselines timed in the same run.

    python benchmarks/run.py                  # everything (a few minutes)
    python benchmarks/run.py --quick          # fewer repetitions, 256 MiB for zipper/tables
    python benchmarks/run.py --only zipper --size-mib 512

Slowness never fails: the exit code is 0 unless a benchmark itself breaks (a job that
does not complete, an archive that does not check out), and then it is 1.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import cold_start
import images
import media
import simulate_fanout
import tables
import zipper
from _harness import Config, Report, format_table

BENCHMARKS: dict[str, Callable[[Config], Report]] = {
    cold_start.NAME: cold_start.run,
    images.NAME: images.run,
    media.NAME: media.run,
    simulate_fanout.NAME: simulate_fanout.run,
    tables.NAME: tables.run,
    zipper.NAME: zipper.run,
}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--quick", action="store_true", help="fewer repetitions and less data")
    p.add_argument(
        "--only",
        action="append",
        choices=sorted(BENCHMARKS),
        metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}",
    )
    p.add_argument(
        "--size-mib",
        type=int,
        help="data the zipper archives and the size of the tables CSV, in MiB "
        "(default 1024, or 256 with --quick)",
    )
    p.add_argument(
        "--tmp",
        type=Path,
        default=Path("/tmp"),
        help="where generated data and job folders go, deleted afterwards (default /tmp)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    size = args.size_mib if args.size_mib is not None else (256 if args.quick else 1024)
    if size < 1:
        print("error: --size-mib must be at least 1", file=sys.stderr)
        return 2
    config = Config(quick=args.quick, size_mib=size, tmp=args.tmp)
    print(
        f"bytenite-runtime benchmarks: Python {platform.python_version()}, "
        f"{os.cpu_count()} cores, {platform.system()} {platform.machine()}"
        f"{', quick' if args.quick else ''}",
        flush=True,
    )
    rows, notes, broken = [], [], []
    started = time.perf_counter()
    for name in args.only or list(BENCHMARKS):
        print(f"running {name} …", file=sys.stderr, flush=True)
        try:
            report = BENCHMARKS[name](config)
        except Exception:
            broken.append(name)
            traceback.print_exc()
            continue
        rows.extend(report.rows)
        notes.extend(report.notes)
    print()
    print(format_table(rows))
    print()
    for note in notes:
        print(note)
    print(
        "\nratio = fastest run of ours / fastest run of the baseline (judged against the goal);"
        "\nmedians = the same with median runs; n = runs of ours / of the baseline"
    )
    print(f"total {time.perf_counter() - started:.0f} s")
    if broken:
        print(f"error: benchmark(s) broke: {', '.join(broken)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
