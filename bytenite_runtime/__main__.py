"""``python -m bytenite_runtime serve KIND NAME``: run a built-in component as this process.

``list`` shows the built-ins; ``engines [--write DIR | --check DIR]`` lists, writes or
checks the engine folders generated from them; ``check PATH…`` is
``python -m bytenite_runtime.check``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from . import registry
from .errors import nearest
from .task import serve

_USAGE = (
    "usage: python -m bytenite_runtime serve {partitioner,assembler} NAME | list"
    " | engines [--write DIR | --check DIR] | check PATH…"
)
_HELP = f"""{_USAGE}

commands:
  serve partitioner NAME  run the built-in partitioner NAME as this process, from the
                          environment the platform gives a partitioner
  serve assembler NAME    the same for the built-in assembler NAME
  list                    the built-in partitioners and assemblers
  engines                 the engine folders generated from the built-ins
  engines --write DIR     write those folders into DIR, ready to push
  engines --check DIR     check that DIR holds them as generation gives them
  check PATH…             validate app, engine and template folders or files before a
                          push (python -m bytenite_runtime check --help)

Run a whole job on this machine: python -m bytenite_runtime.simulate --help"""
_COMMANDS = ("serve", "list", "engines", "check")


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
        print(_HELP)
        return 0
    if argv == ["list"]:
        for kind in ("partitioner", "assembler"):
            print(f"{kind}s: {', '.join(registry.names(kind))}")
        return 0
    if argv[:1] == ["engines"]:
        return _engines_command(argv[1:])
    if argv[:1] == ["check"]:
        from .check.__main__ import main as check

        return check(argv[1:], prog="python -m bytenite_runtime check")
    if len(argv) == 3 and argv[0] == "serve" and argv[1] in {"partitioner", "assembler"}:
        serve(argv[2], argv[1])  # type: ignore[arg-type]
    if argv and argv[0] not in _COMMANDS:
        close = nearest(argv[0], _COMMANDS, cutoff=0.5)
        hint = f"; did you mean {close!r}?" if close is not None else ""
        print(f"error: unknown command {argv[0]!r}{hint} (see --help)", file=sys.stderr)
        return 2
    print(_USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
