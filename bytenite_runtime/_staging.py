"""Staging an app's results and an assembler's output: files are written into a hidden
folder inside the target and moved into it only on success, under their final names
(a result's carries its chunk index), so a failing component leaves nothing half-written.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import orjson

from ._copy import link_or_copy
from ._names import NAME_MAX, file_name_problem, name_bytes, shown_name
from .chunks import result_name
from .errors import ConfigError, DataError

__all__ = ["STAGING_PREFIX", "Output", "Results"]

STAGING_PREFIX = ".bytenite-staging-"


class _Staged:
    """A hidden staging folder inside ``target``; files appear in ``target`` on commit."""

    def __init__(self, target: Path) -> None:
        self.target = target
        # Anything else that appears in the target was written there by the component itself.
        self._before = {p.name for p in target.iterdir()}
        self.dir = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=target))

    noun = "output"

    def path(self, name: str) -> Path:
        """Where to write a top-level file called ``name``; a name that cannot be
        committed as it is written fails here, before any byte is written."""
        self._check_name(name)
        return self.dir / name

    def _check_name(self, name: str) -> None:
        problem = file_name_problem(name)
        if problem is not None:
            raise ConfigError(f"{self.noun} name {shown_name(name)} {problem}")
        final = self.final_name(name)
        if final != name and name_bytes(final) > NAME_MAX:
            prefix = final[: len(final) - len(name)]
            room = NAME_MAX - name_bytes(prefix)
            raise ConfigError(
                f"{self.noun} name {shown_name(name)} is too long: with its {prefix!r} prefix "
                f"it is {name_bytes(final)} bytes, over the {NAME_MAX}-byte file-name limit; "
                f"keep {self.noun} names to {room} bytes"
            )

    def write_bytes(self, name: str, data: bytes) -> Path:
        path = self.path(name)
        path.write_bytes(data)
        return path

    def write_text(self, name: str, text: str, encoding: str = "utf-8") -> Path:
        path = self.path(name)
        path.write_text(text, encoding=encoding)
        return path

    def write_json(self, name: str, value: object) -> Path:
        path = self.path(name)
        path.write_bytes(orjson.dumps(value, option=orjson.OPT_INDENT_2))
        return path

    def final_name(self, name: str) -> str:
        return name

    def commit(self) -> list[Path]:
        """Move every staged top-level entry into the target; return the final paths.

        All names are checked before anything moves, so a clash commits nothing.
        """
        entries = sorted(self.dir.iterdir())
        finals: dict[str, Path] = {}
        for entry in entries:
            # Files made in ``dir`` directly never went through path().
            self._check_name(entry.name)
            if entry.is_symlink():
                self._materialize(entry)
            name = self.final_name(entry.name)
            if name in finals:
                first = finals[name].name
                raise DataError(f"{name}: written twice (as {first!r} and {entry.name!r})")
            if (self.target / name).exists():
                raise DataError(f"{name}: already exists in {str(self.target)!r}")
            finals[name] = entry
        for name, entry in finals.items():
            entry.replace(self.target / name)
        self.dir.rmdir()
        return [self.target / name for name in finals]

    def _materialize(self, link: Path) -> None:
        """A staged symbolic link to a file replaced by that file (hard-linked or copied): a
        link is not what the platform uploads, and its target (an app's stripped chunk,
        say) may be gone once the component ends. A link to a folder stays a link."""
        target = link.readlink()
        if not link.exists():
            raise DataError(
                f"{self.noun} {shown_name(link.name)} is a symbolic link to a missing file "
                f"({str(target)!r})"
            )
        if link.is_file():
            partial = link.with_name(f".{link.name}.partial")
            link_or_copy(link.resolve(), partial)
            partial.replace(link)

    def discard(self) -> None:
        """Remove what was staged, and what the component wrote into the target itself."""
        for entry in self.target.iterdir():
            if entry.name in self._before:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


class Results(_Staged):
    """An app task's results writer: every file it holds gets the chunk index in its name."""

    noun = "result"

    def __init__(self, target: Path, index: int | None) -> None:
        super().__init__(target)
        self.index = index

    def final_name(self, name: str) -> str:
        return result_name(name, self.index)


class Output(_Staged):
    """The assembler's output folder writer."""
