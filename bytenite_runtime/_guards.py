"""Where the library meets a component's own code and the process around it: a failure
or ``sys.exit()`` in that code turned into the library's errors, what a component
function returned checked (a coroutine or generator whose body never ran, one chunk
where chunks were due), and SIGTERM raised as an interrupt, so staging folders are
cleaned up on the way out.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ._chunk_writer import NewChunk
from .errors import ByteniteError, ComponentError, ConfigError

if TYPE_CHECKING:
    from ._entry import Kind

__all__ = [
    "END",
    "Terminated",
    "check_ran",
    "chunks_from",
    "guarded",
    "is_main_thread",
    "terminate",
]

T = TypeVar("T")

END = object()


def _unstarted(value: object) -> str | None:
    """What ``value`` is when it is a coroutine or generator (whose body has not run yet),
    closed so that Python does not warn about it later; None for anything else."""
    if inspect.iscoroutine(value):
        value.close()
        return "a coroutine"
    if inspect.isasyncgen(value):
        # aclose() would need an event loop; dropping it unstarted runs nothing.
        return "an async generator"
    if inspect.isgenerator(value):
        value.close()
        return "a generator"
    return None


def chunks_from(produced: Any) -> Iterator[Any]:
    """An iterator over what a partitioner function returned, which must be an iterable
    of chunks; a str, bytes or path is one chunk, not chunks of one character or byte."""
    if inspect.iscoroutine(produced) or inspect.isasyncgen(produced):
        raise ConfigError(
            f"the partitioner function returned {_unstarted(produced)}; it must yield chunks "
            "from a plain 'def'"
        )
    if produced is None:
        raise ConfigError("the partitioner function returned None; it must yield chunks")
    if isinstance(produced, str | bytes | bytearray | memoryview | os.PathLike | NewChunk):
        kind = "path" if isinstance(produced, os.PathLike) else type(produced).__name__
        raise ConfigError(
            f"the partitioner function returned one {kind} instead of yielding chunks; "
            "yield each chunk (or return a list of them)"
        )
    try:
        return iter(produced)
    except TypeError:
        raise ConfigError(
            f"the partitioner function returned {type(produced).__name__}; it must yield chunks"
        ) from None


def check_ran(kind: Kind, returned: object) -> None:
    """An 'async def' or generator app/assembler returns before its body runs; committing
    nothing and exiting 0 would look like a task that had nothing to write."""
    what = _unstarted(returned)
    if what is not None:
        raise ConfigError(
            f"the {kind} function returned {what}, so its body never ran; it must be a plain "
            "'def' that writes its files and returns"
        )


def guarded(chunk: int | None, fn: Callable[..., T], *args: Any, on_exit: Any = None) -> T:
    """``fn(*args)``, a failure of the component's own code becoming a ComponentError.

    ``sys.exit()`` in the component's code is a return of ``on_exit`` when its code is 0
    or None (what it wrote is kept; a partitioner's generator ends there), else a
    failure: it must not skip the commit of results, or the one error line.
    """
    try:
        return fn(*args)
    except ByteniteError:
        raise
    except SystemExit as exc:
        if exc.code is None or exc.code == 0:
            return cast(T, on_exit)
        raise ComponentError(f"called sys.exit({exc.code!r})", chunk) from None
    except Exception as exc:
        raise ComponentError(f"{type(exc).__name__}: {exc}", chunk) from exc


def is_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the code was, so staging folders are cleaned up on the way out."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def terminate(signum: int, frame: object) -> None:
    raise Terminated(signum)
