"""One component's captured output, as the simulator logs it: each line classified by
level, secrets masked first, written as a JSON line."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import IO, Any

import orjson

from .._log import Redactor

__all__ = ["LogSink", "classify"]

_LEVEL = re.compile(
    r"^\s*[\[(]?(?P<level>error|err|critical|fatal|warning|warn|info|debug)[\])]?(?=[\s:|])",
    re.IGNORECASE,
)
_LEVELS = {
    "error": "error", "err": "error", "critical": "error", "fatal": "error",
    "warning": "warning", "warn": "warning", "info": "info", "debug": "debug",
}  # fmt: skip
_QUOTED = 400
"""Characters of a component's last stderr line that a failure's reason quotes."""


def classify(line: str) -> str:
    """The platform's log level of one output line: error, warning, info, debug or unknown."""
    match = _LEVEL.match(line)
    return _LEVELS[match.group("level").lower()] if match else "unknown"


def _last_words(line: str) -> str:
    """What a failure's reason quotes of a stderr line: the part a terminal shows of a line
    redrawn with CR (a progress bar), control characters escaped (an escape sequence
    would redraw the simulator's own error line), the middle elided past ``_QUOTED``."""
    shown = next((part for part in reversed(line.split("\r")) if part.strip()), "").strip()
    shown = "".join(c if c.isprintable() or c in " \t" else repr(c)[1:-1] for c in shown)
    half = _QUOTED // 2
    return shown if len(shown) <= _QUOTED else f"{shown[:half]}…{shown[-half:]}"


class LogSink:
    """Writes one component's log as JSON lines with levels; secrets are masked first."""

    def __init__(self, path: Path, component: str, redactor: Redactor) -> None:
        self.path = path
        self.component = component
        self.redactor = redactor
        self._file: IO[bytes] = path.open("ab")
        self.last_error = ""
        self.lock = threading.Lock()
        # ctx.log masks secrets itself, so one found here the component printed some other
        # way, and the platform's logs, which mask nothing, would show it.
        self.showed_secret = False

    def mask(self, raw: bytes) -> bytes:
        masked = self.redactor.redact_bytes(raw)
        self.showed_secret |= masked != raw
        return masked

    def write(self, stream: str, raw: bytes, attempt: int | None) -> None:
        # Bytes first: a secret printed in Latin-1 or UTF-16 does not survive decoding whole.
        raw = self.mask(raw)
        decoded = raw.decode("utf-8", "replace").rstrip("\r\n")
        text = self.redactor.redact(decoded)
        self.showed_secret |= text != decoded
        level = classify(text)
        last = _last_words(text)
        keep = classify(last) == "error" or not self.last_error.startswith("error:")
        if stream == "stderr" and last and keep:
            self.last_error = last
        record: dict[str, Any] = {
            "timestamp": time.time(),
            "component": self.component,
            "level": level,
            "stream": stream,
            "message": text,
        }
        if attempt is not None:
            record["attempt"] = attempt
        with self.lock:
            self._file.write(orjson.dumps(record) + b"\n")

    def close(self) -> None:
        self._file.close()
