"""``python -m bytenite_runtime serve KIND NAME``: run a built-in component as this process."""

from __future__ import annotations

import sys

from . import registry
from .task import serve

_USAGE = "usage: python -m bytenite_runtime serve {partitioner,assembler} NAME | list"


def main(argv: list[str]) -> int:
    if argv[:1] == ["list"]:
        for kind in ("partitioner", "assembler"):
            print(f"{kind}s: {', '.join(registry.names(kind))}")
        return 0
    if len(argv) == 3 and argv[0] == "serve" and argv[1] in {"partitioner", "assembler"}:
        serve(argv[2], argv[1])  # type: ignore[arg-type]
    print(_USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
