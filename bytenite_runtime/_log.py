"""Component loggers: plain ``LEVEL name: message`` lines on stderr; secrets redacted
from them and from the errors a component raises."""

from __future__ import annotations

import json
import logging
import sys
import urllib.parse
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = ["Redactor", "component_logger", "propagating"]

_FORMAT = "%(levelname)s %(name)s: %(message)s"
_PROPAGATE: ContextVar[bool] = ContextVar("bytenite_log_propagate", default=False)


class Redactor(logging.Filter):
    """Replaces every known secret value in log records (and any text) with ``***``."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        super().__init__()
        self.values: list[str] = []
        self.encoded: list[bytes] = []
        self.extend(values)

    def extend(self, values: Iterable[str]) -> None:
        """Mask these values too: each whole, stripped, and line by line, because output
        is logged line by line and apps often strip a padded secret before printing it;
        and each as the usual ways of showing a string escape it (``repr``, ``%r``,
        ``json.dumps``, a bytes repr, a URL), which change a value holding a backslash, a
        quote, a space or a non-ASCII character."""
        found = set(self.values)
        for value in values:
            for form in (value, value.strip(), *value.splitlines()):
                if form.strip():
                    found.update(f for f in _shown_forms(form) if f.strip())
        # Longest first, so a value containing another is masked whole.
        self.values = sorted(found, key=len, reverse=True)
        encoded = {raw for form in self.values for raw in _encoded_forms(form)}
        self.encoded = sorted(encoded, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for value in self.values:
            text = text.replace(value, "***")
        return text

    def redact_bytes(self, raw: bytes) -> bytes:
        """``raw`` output, not yet decoded, with every value masked as the usual text
        encodings write it: an app whose locale is not UTF-8 prints a secret in Latin-1 or
        UTF-16, which decoded as UTF-8 would show it but for its non-ASCII letters."""
        for value in self.encoded:
            raw = raw.replace(value, b"***")
        return raw

    @property
    def longest(self) -> int:
        """Bytes of the longest form :meth:`redact_bytes` masks (0 with no values)."""
        return len(self.encoded[0]) if self.encoded else 0

    def redact_all(self, value: Any) -> Any:
        """``value`` with every string in it redacted: a str, or a plain list, tuple or dict
        holding them (nested; keys are left as they are). A subclass of those is left
        whole: a named tuple, say, cannot be rebuilt from its items alone."""
        if isinstance(value, str):
            return self.redact(value)
        if type(value) is dict:
            return {key: self.redact_all(item) for key, item in value.items()}
        if type(value) in (list, tuple):
            return type(value)(self.redact_all(item) for item in value)
        return value

    def mask_chain(self, exc: BaseException) -> None:
        """Redact ``exc`` in place, and every exception chained to it or grouped in it:
        their args, notes and OSError file names."""
        # Entrypoint.run() prints only redacted text, but whoever catches invoke()'s error
        # (a test runner above all) prints its message and those of its causes: an app's
        # own exception often quotes the secret it failed with.
        seen: set[int] = set()
        pending: list[BaseException | None] = [exc]
        while pending:
            current = pending.pop()
            if current is None or id(current) in seen:
                continue
            seen.add(id(current))
            masked = self.redact_all(current.args)
            if masked != current.args:
                current.args = masked
            notes = getattr(current, "__notes__", None)
            if isinstance(notes, list):
                current.__notes__ = self.redact_all(notes)
            if isinstance(current, OSError):  # its message shows these, not its args
                for name in ("filename", "filename2"):
                    value = getattr(current, name)
                    if isinstance(value, str):
                        setattr(current, name, self.redact(value))
            pending += [current.__cause__, current.__context__]
            if isinstance(current, BaseExceptionGroup):
                pending += current.exceptions

    def filter(self, record: logging.LogRecord) -> bool:
        if self.values:
            record.msg = self.redact(record.getMessage())
            record.args = None
            if record.exc_info and record.exc_info[1] is not None:
                record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
        return True


def _shown_forms(value: str) -> set[str]:
    """``value`` and how it reads once escaped, without the quotes around it."""
    return {
        value,
        repr(value)[1:-1],
        ascii(value)[1:-1],
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        repr(value.encode("utf-8", "surrogateescape"))[2:-1],
        urllib.parse.quote(value, safe=""),
        urllib.parse.quote(value),  # its default keeps "/", which AWS secret keys hold
        urllib.parse.quote_plus(value, safe=""),
    }


_ENCODINGS = ("utf-8", "cp1252", "latin-1", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")


def _encoded_forms(value: str) -> set[bytes]:
    """``value`` in each of ``_ENCODINGS`` that can write it."""
    found = set()
    for encoding in _ENCODINGS:
        try:
            found.add(value.encode(encoding))
        except UnicodeEncodeError:
            continue
    return found


@contextmanager
def propagating() -> Iterator[None]:
    """Component loggers made meanwhile also hand their records, already redacted, to the
    root logger, where pytest's ``caplog`` sees them (the testing helpers use this)."""
    token = _PROPAGATE.set(True)
    try:
        yield
    finally:
        _PROPAGATE.reset(token)


def component_logger(kind: str, redactor: Redactor, level: int = logging.INFO) -> logging.Logger:
    """The logger handed to a component: ``bytenite.<kind>``, one stderr handler, redacted.

    It does not propagate (a component calling ``logging.basicConfig`` would print every
    line twice) unless made inside :func:`propagating`."""
    logger = logging.getLogger(f"bytenite.{kind}")
    logger.setLevel(level)
    logger.propagate = _PROPAGATE.get()
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    for old in list(logger.filters):
        logger.removeFilter(old)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_FORMAT))
    logger.addHandler(handler)
    logger.addFilter(redactor)
    return logger
