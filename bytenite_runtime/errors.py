"""Every error the runtime raises, each a one-line message with an exit code.

The whole hierarchy::

    ByteniteError                  exit 1   root; anything this library raises
    ├── ConfigError                exit 2   the environment or params are wrong
    │   ├── SettingsError                   env variables / params fields, all at once
    │   ├── UnknownNameError                a component name not in the registry
    │   └── TemplateError                   a job request, template or manifest is wrong
    ├── DataError                  exit 3   the input data is wrong (names chunk, bytes, rows…)
    ├── ComponentError             exit 4   user code raised; carries the chunk index if known
    ├── JobFailed                  exit 5   simulate: a job failed (task exhausted retries,
    │                                       timeout, component exit code)
    └── ResourceError              exit 6   the machine refused: a full disk, a read-only
                                            folder, too few file descriptors, too little memory

Only an entry point (``task`` runners, the simulate CLI) turns these into a
printed line and an exit code; everything below raises.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "ByteniteError",
    "ComponentError",
    "ConfigError",
    "DataError",
    "JobFailed",
    "Problem",
    "ResourceError",
    "SettingsError",
    "TemplateError",
    "UnknownNameError",
    "listed",
    "nearest",
    "one_line",
    "with_article",
]


def one_line(text: str) -> str:
    """Collapse whitespace runs (newlines included) so a message stays on one line."""
    return " ".join(text.split())


def listed(items: Sequence[str], shown: int) -> str:
    """``a, b, c and 4 more``: the first ``shown`` of ``items``, for a one-line message."""
    rest = len(items) - shown
    return ", ".join(items[:shown]) + (f" and {rest} more" if rest > 0 else "")


def nearest(name: str, options: Iterable[str], *, cutoff: float = 0.6) -> str | None:
    """The one of ``options`` closest to ``name`` (a typo's intended word), or None when
    none is close enough: what every "did you mean" here suggests."""
    import difflib

    close = difflib.get_close_matches(name, list(options), n=1, cutoff=cutoff)
    return close[0] if close else None


class ByteniteError(Exception):
    """Root of the hierarchy; ``str(error)`` is always a single line."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))

    @property
    def message(self) -> str:
        return str(self)


class ConfigError(ByteniteError):
    """The environment, params, or a job description is wrong."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class Problem:
    """One bad setting: the env variable, the field inside it (if any), and why."""

    variable: str
    field: str
    reason: str

    @property
    def where(self) -> str:
        """``VARIABLE.field``, or the variable alone when the whole value is at fault."""
        return f"{self.variable}.{self.field}" if self.field else self.variable

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


class SettingsError(ConfigError):
    """Several bad variables/fields, reported together in one line."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        noun = "problem" if len(self.problems) == 1 else "problems"
        body = "; ".join(str(p) for p in self.problems)
        super().__init__(f"invalid settings ({len(self.problems)} {noun}): {body}")


def with_article(kind: str) -> str:
    """``kind`` after its indefinite article: "a partitioner", "an app"."""
    return f"an {kind}" if kind[:1] in "aeiou" else f"a {kind}"


class UnknownNameError(ConfigError):
    """A name that is not registered, with the nearest known one suggested."""

    def __init__(
        self,
        kind: str,
        name: str,
        known: Iterable[str],
        searched: str | None = None,
        other_kinds: Sequence[str] = (),
    ) -> None:
        options = sorted(known)
        close = nearest(name, options, cutoff=0.5)
        hint = f"; did you mean {close!r}?" if close is not None else ""
        if other_kinds:
            # The name is right, the slot is wrong: no near name would help.
            kinds = " and ".join(map(with_article, other_kinds))
            hint = f"; {name!r} is {kinds}, not {with_article(kind)}"
        # The folders searched come last: the name and the suggestion must lead the line.
        where = f"; searched {searched}" if searched is not None else ""
        self.name = name
        super().__init__(
            f"unknown {kind} {name!r}{hint} (known: {', '.join(options) or 'none'}{where})"
        )


class TemplateError(ConfigError):
    """A job request, template, manifest or tag that cannot be used."""


class DataError(ByteniteError):
    """The data itself is bad; the message names the chunk, file, bytes or rows at fault."""

    exit_code = 3


class ComponentError(ByteniteError):
    """User code inside a component raised; ``chunk`` is the chunk index when known."""

    exit_code = 4

    def __init__(self, message: str, chunk: int | None = None) -> None:
        self.chunk = chunk
        super().__init__(message if chunk is None else f"chunk {chunk}: {message}")


class ResourceError(ByteniteError):
    """The machine, not the data or the code, failed: the message names what ran out (disk
    space, file descriptors, memory) or refused a write, and the folder's variable."""

    exit_code = 6


class JobFailed(ByteniteError):
    """A simulated job ended in the Failed state; the message says which component and why."""

    exit_code = 5
