"""``python -m bytenite_runtime serve KIND NAME``: run a built-in component as this process.

``list`` shows the built-ins; ``engines [--write DIR | --check DIR]`` lists, writes or
checks the engine folders generated from them; ``check PATH…`` is
``python -m bytenite_runtime.check``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from . import registry
from .task import serve

_USAGE = (
    "usage: python -m bytenite_runtime serve {partitioner,assembler} NAME | list"
    " | engines [--write DIR | --check DIR] | check PATH…"
)


def _engines_command(argv: list[str]) -> int:
    from . import _engines

    if not argv:
        for kind, name in _engines.engines():
            print(f"{_engines.folder_name(kind, name)}: {kind} {name}")
        return 0
    if len(argv) != 2 or argv[0] not in {"--write", "--check"}:
        print(_USAGE, file=sys.stderr)
        return 2
    root = Path(argv[1])
    if argv[0] == "--write":
        if root.exists() and not root.is_dir():
            print(f"error: --write: {str(root)!r}: not a folder", file=sys.stderr)
            return 2
        try:
            for folder in _engines.write_engines(root):
                print(f"wrote {folder}")
        except OSError as exc:
            where = exc.filename if exc.filename is not None else root
            print(f"error: --write: {str(where)!r}: {exc.strerror or exc}", file=sys.stderr)
            return 2
        return 0
    if not root.is_dir():
        write = _engines.regenerate_command(root)
        what = "not a folder" if root.exists() else f"no such folder (write it with `{write}`)"
        print(f"error: --check: {str(root)!r}: {what}", file=sys.stderr)
        return 2
    stale = _engines.stale_engines(root)
    for line in stale:
        print(line, file=sys.stderr)
    if stale:
        print(f"error: {len(stale)} engine folder(s) failed the checks", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str]) -> int:
    if argv in (["-h"], ["--help"]):
        print(_USAGE)
        return 0
    if argv == ["list"]:
        for kind in ("partitioner", "assembler"):
            print(f"{kind}s: {', '.join(registry.names(kind))}")
        return 0
    if argv[:1] == ["engines"]:
        return _engines_command(argv[1:])
    if argv[:1] == ["check"]:
        from .check.__main__ import main as check

        return check(argv[1:])
    if len(argv) == 3 and argv[0] == "serve" and argv[1] in {"partitioner", "assembler"}:
        serve(argv[2], argv[1])  # type: ignore[arg-type]
    print(_USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
