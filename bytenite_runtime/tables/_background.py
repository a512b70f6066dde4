"""Running a producer on a thread and handing what it gives to the caller as it comes.

The CSV/TSV/JSON Lines split (:mod:`.delimited`) scans on this thread while its caller
copies the pieces already settled, so the copy overlaps the scan.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias, TypeVar, cast

if TYPE_CHECKING:
    # Only named in annotations: at run time _records would load numpy for a type.
    from ._records import Check

__all__ = ["in_background"]

_T = TypeVar("_T")


_DONE = object()


_Producer: TypeAlias = "Callable[[Callable[[_T], None], Callable[[Check], None]], None]"


def in_background(produce: _Producer[_T], name: str) -> Iterator[_T]:
    """What ``produce`` gives, as it gives it, ``produce`` running on a thread; its error
    is raised here. Closing the iterator early stops the thread at its next ``give``.

    ``produce`` also hands over checks, run here in order with what it gives: the caller
    mostly waits for the next item, so a check costs it nothing, while on the producing
    thread it would delay every item after it (the UTF-8 check of a CSV: ~7% of a scan).
    """
    given: queue.SimpleQueue[object] = queue.SimpleQueue()
    stopping = threading.Event()

    def give(item: object) -> None:
        if stopping.is_set():
            raise _Stopped
        given.put(item)

    def run() -> None:
        try:
            produce(give, lambda check: give(_Check(check)))
        except _Stopped:
            pass
        except BaseException as exc:  # handed over whole, to be raised in the caller
            given.put(_Failure(exc))
        given.put(_DONE)

    worker = threading.Thread(target=run, name=f"scan {name}", daemon=True)
    worker.start()
    try:
        while (item := given.get()) is not _DONE:
            if isinstance(item, _Check):
                item.run()
            elif isinstance(item, _Failure):
                raise item.exc
            else:
                yield cast(_T, item)
    finally:
        stopping.set()
        worker.join()


class _Stopped(Exception):
    """The consumer went away: the producing thread stops."""


@dataclass(frozen=True, slots=True)
class _Failure:
    exc: BaseException


@dataclass(frozen=True, slots=True)
class _Check:
    run: Check
