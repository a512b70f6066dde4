"""Processes a component leaves behind in a session of its own, stopped after its stage.

A component runs in its own process group, which a timeout or the end of the component
kills whole; a child that calls ``setsid`` (a daemon, ``setsid cmd &``) leaves that group
and would outlive the simulator itself, where a container's end stops everything in it.
So the command line makes the simulator a child subreaper (Linux): such orphans become
its own children, and every one still there once a stage has ended is killed.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from pathlib import Path

__all__ = ["adopt_orphans", "stop_orphans"]

_PR_SET_CHILD_SUBREAPER = 36


def adopt_orphans() -> bool:
    """Make this process the subreaper of its descendants; False where it cannot be."""
    if sys.platform != "linux":
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def _children() -> list[int]:
    me, found = os.getpid(), []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            # The parent's pid follows the state, after the name in parentheses.
            stat = (entry / "stat").read_text()
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == me:
                found.append(int(entry.name))
    return found


def stop_orphans() -> int:
    """Kill and reap every child of this process (call it when no component runs: the
    orphans of a subreaper are its children too); return how many there were. Killing one
    makes its own children orphans in turn, so this goes on until none is left."""
    seen: set[int] = set()
    while new := [pid for pid in _children() if pid not in seen]:
        seen.update(new)
        for pid in new:
            try:
                os.kill(pid, signal.SIGKILL)
            except PermissionError:  # not ours to kill (a set-user-ID program): not waited for
                continue
            except ProcessLookupError:
                pass
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
    return len(seen)
