"""``python -m bytenite_runtime.check PATH…``: the command line. Only ``main`` prints and exits."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from .._argparse import OneLineParser
from ..errors import ConfigError
from . import check_paths


def main(argv: Sequence[str] | None = None, prog: str = "python -m bytenite_runtime.check") -> int:
    """Check the paths given; print one line per problem (stderr) or an ``ok:`` summary;
    ``prog`` is the command line that ran it, as usage lines show it."""
    parser = OneLineParser(
        prog=prog,
        description="Validate app, engine and template folders or files before a push.",
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    parser.add_argument(
        "--search",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="also look up template tags in DIR (as simulate --search)",
    )
    args = parser.parse_args(argv)
    report = check_paths(args.paths, args.search)
    for finding in report.findings:
        print(finding, file=sys.stderr)
    if report.findings:
        noun = "problem" if len(report.findings) == 1 else "problems"
        checked = any(report.counts.values())
        where = f"in {report.summary()}" if checked else "(nothing found to check)"
        print(f"error: {len(report.findings)} {noun} {where}", file=sys.stderr)
        return ConfigError.exit_code
    print(f"ok: {report.summary()} checked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
