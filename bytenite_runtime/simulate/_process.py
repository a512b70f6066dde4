"""Run one component as an OS process, as a container would: own process group, own
environment, output captured line by line with levels, killed whole on timeout."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ._logsink import LogSink, classify

__all__ = ["Flag", "Outcome", "classify", "run_process"]

_KILL_GRACE = 2.0
_POLL = 0.25
_LONGEST = 1 << 20
"""Bytes of output without a newline that are logged as one line."""


class Flag(Protocol):
    """Anything that says whether to stop (a ``threading.Event`` is one)."""

    def is_set(self) -> bool: ...


@dataclass
class Outcome:
    """How a process ended.

    ``exit_code`` follows a container's convention: a process killed by signal N ends
    with 128 + N (139 for SIGSEGV), where ``subprocess`` says -N; ``killed_by`` is N then,
    as the code alone cannot tell such a kill from a process exiting with 139 itself."""

    exit_code: int | None
    timed_out: bool
    cancelled: bool
    started: float
    finished: float
    last_error: str
    killed_by: int | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.cancelled


def _kill_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _exit_fd(proc: subprocess.Popen[bytes]) -> int | None:
    """A descriptor that turns readable when ``proc`` exits (a Linux pidfd), else None."""
    if sys.platform != "linux":
        return None
    try:
        return os.pidfd_open(proc.pid)
    except OSError:  # kernels before 5.3
        return None


def _slice(deadline: float | None) -> float:
    """How long one wait may block: short enough to notice cancellation, never past the
    deadline."""
    return _POLL if deadline is None else max(0.0, min(_POLL, deadline - time.time()))


def _await_exit(
    proc: subprocess.Popen[bytes], deadline: float | None, cancel: Flag | None
) -> tuple[bool, bool]:
    """Wait for ``proc`` to exit, honouring the deadline and cancellation; return
    ``(timed_out, cancelled)``."""
    while True:
        if deadline is not None and time.time() >= deadline:
            return True, False
        if cancel is not None and cancel.is_set():
            return False, True
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(_slice(deadline))
            return False, False


def _stop(proc: subprocess.Popen[bytes], hurry: Flag | None) -> None:
    # SIGTERM first, so a component built on the library can remove its partial
    # files; SIGKILL the whole group after a short grace, as a container stop would,
    # or as soon as ``hurry`` is set (a second Ctrl-C).
    _kill_group(proc, signal.SIGTERM)
    end = time.monotonic() + _KILL_GRACE
    while (left := end - time.monotonic()) > 0 and not (hurry is not None and hurry.is_set()):
        try:
            proc.wait(min(_POLL, left))
            break
        except subprocess.TimeoutExpired:
            continue
    _kill_group(proc, signal.SIGKILL)
    proc.wait()


def _take(
    pending: dict[str, bytearray], name: str, chunk: bytes, sink: LogSink, attempt: int | None
) -> None:
    """Add ``chunk`` of stream ``name`` to its unfinished line, writing each line it ends
    to ``sink``.

    Only the new bytes are searched and the unfinished line grows in place, so output
    without newlines (a progress bar redrawn with CR) costs its length once, not its
    length squared; a line past ``_LONGEST`` is written as it stands, less the bytes
    a secret it ends in may still need."""
    *lines, rest = chunk.split(b"\n")
    line = pending[name]
    if lines:
        sink.write(name, bytes(line + lines[0]), attempt)
        for whole in lines[1:]:
            sink.write(name, whole, attempt)
        line = pending[name] = bytearray(rest)
    else:
        line += rest
    if len(line) >= _LONGEST:
        # Masked before it is cut, and the bytes where a secret going on in the next read
        # may start are held back: a secret across the cut would show half in each piece.
        masked = sink.mask(bytes(line))
        cut = len(masked) - max(0, sink.redactor.longest - 1)
        sink.write(name, masked[:cut], attempt)
        pending[name] = bytearray(masked[cut:])


def run_process(
    command: Sequence[str],
    env: Mapping[str, str],
    cwd: Path | None,
    timeout: float | None,
    sink: LogSink,
    attempt: int | None = None,
    cancel: Flag | None = None,
    hurry: Flag | None = None,
) -> Outcome:
    """Start ``command`` in its own session; stream its output into ``sink``; enforce
    ``timeout`` (seconds) on the whole process group; stop early when ``cancel`` is set,
    killing at once rather than after a grace when ``hurry`` is set too."""
    started = time.time()
    sink.last_error = ""
    try:
        proc = subprocess.Popen(
            list(command),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        sink.write(
            "stderr", f"error: cannot start {command[0]!r}: {exc.strerror}".encode(), attempt
        )
        return Outcome(127, False, False, started, time.time(), sink.last_error)
    deadline = None if timeout is None else started + timeout
    selector = selectors.DefaultSelector()
    pending: dict[str, bytearray] = {}
    for name, stream in (("stdout", proc.stdout), ("stderr", proc.stderr)):
        assert stream is not None
        os.set_blocking(stream.fileno(), False)
        selector.register(stream, selectors.EVENT_READ, name)
        pending[name] = bytearray()
    exit_fd = _exit_fd(proc)
    if exit_fd is not None:
        # A child the entrypoint leaves behind may hold the pipes open in silence; without
        # this the exit would only be seen when the select below times out.
        selector.register(exit_fd, selectors.EVENT_READ, None)
    open_pipes = len(pending)
    timed_out = cancelled = False
    try:
        while open_pipes:
            if deadline is not None and time.time() >= deadline:
                timed_out = True
                break
            if cancel is not None and cancel.is_set():
                cancelled = True
                break
            for key, _ in selector.select(_slice(deadline)):
                name = key.data
                if name is None:
                    selector.unregister(key.fileobj)
                    continue
                chunk = os.read(key.fd, 1 << 16)
                if not chunk:
                    selector.unregister(key.fileobj)
                    open_pipes -= 1
                    if pending[name]:
                        sink.write(name, bytes(pending[name]), attempt)
                        pending[name] = bytearray()
                    continue
                _take(pending, name, chunk, sink, attempt)
            if proc.poll() is not None and not selector.select(0):
                # The entrypoint has exited: its container would be gone, and with it any
                # child still holding the pipes open.
                break
        else:
            # Both pipes closed but the entrypoint may still run (it redirected its own
            # output); a container is not stopped for going quiet, so wait for the exit.
            timed_out, cancelled = _await_exit(proc, deadline, cancel)
    finally:
        selector.close()
        if exit_fd is not None:
            os.close(exit_fd)
    if timed_out or cancelled:
        _stop(proc, hurry)
    else:
        _kill_group(proc, signal.SIGKILL)
        proc.wait()
    for name, rest in pending.items():
        if rest:
            sink.write(name, bytes(rest), attempt)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
    killed_by = -proc.returncode if proc.returncode < 0 else None
    code = proc.returncode if killed_by is None else 128 + killed_by
    return Outcome(code, timed_out, cancelled, started, time.time(), sink.last_error, killed_by)
