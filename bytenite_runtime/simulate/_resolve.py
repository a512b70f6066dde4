"""Turn template tags into runnable components: built-ins, engine folders, app folders.

A tag is ``name``, ``name@1`` (newest 1.x) or ``name@1.2`` (exact), or a path to a
folder holding ``manifest.json`` and ``app/``. Folders found in the search paths win
over built-ins of the same name, so a user's own engine replaces ours.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .. import registry
from ..errors import TemplateError, UnknownNameError
from ..settings import SECRET_ID
from ._request import load_json

__all__ = ["Component", "find_template", "resolve", "search_folders"]

Role = Literal["partitioner", "app", "assembler"]
TAG = re.compile(r"(?P<name>[A-Za-z0-9_-]{1,64})(?:@(?P<major>[0-9]+)(?:\.(?P<minor>[0-9]+))?)?")
"""A component tag: ``name``, ``name@1`` (newest 1.x) or ``name@1.2`` (exact)."""
_VERSION = re.compile(r"([0-9]+)\.([0-9]+)")


@dataclass(frozen=True)
class Component:
    """A resolved component: how to start it and what it declares."""

    role: Role
    tag: str
    command: tuple[str, ...]
    cwd: Path | None = None
    folder: Path | None = None
    secret_ids: tuple[str, ...] = ()
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def builtin(self) -> bool:
        return self.folder is None


def looks_like_path(tag: str) -> bool:
    return os.sep in tag or "/" in tag or tag.startswith(".") or tag.endswith(".json")


def _manifest(folder: Path) -> dict[str, Any]:
    return load_json(folder / "manifest.json", "manifest")


def misplaced_entry(folder: Path, entry: str) -> str:
    """A hint for an entrypoint missing from ``app/``: where it is instead, if beside
    ``manifest.json`` (the platform runs only what ``app/`` holds)."""
    if (folder / entry).is_file():
        return f" (it is beside manifest.json; the platform runs app/ only: move it to app/{entry})"
    return ""


def _from_folder(
    role: Role, tag: str, folder: Path, manifest: dict[str, Any] | None = None
) -> Component:
    # The process starts in app/ and is given its script by path: a relative folder
    # would be taken relative to app/ itself.
    folder = folder.resolve()
    if manifest is None:
        if not (folder / "manifest.json").is_file():
            raise TemplateError(f"{role} {tag!r}: {str(folder)!r} holds no manifest.json")
        manifest = _manifest(folder)
    declared = manifest.get("type")
    if declared is not None and role != "app" and declared != role:
        raise TemplateError(f"{role} {tag!r}: manifest.json says type {declared!r}")
    if role == "app" and declared not in (None, "app"):
        raise TemplateError(f"app {tag!r}: manifest.json says type {declared!r}")
    entry_name = manifest.get("entrypoint", "main.py")
    if not isinstance(entry_name, str) or not entry_name:
        raise TemplateError(f"{role} {tag!r}: manifest.json entrypoint must be a file name")
    entry = folder / "app" / entry_name
    if not entry.is_file():
        raise TemplateError(
            f"{role} {tag!r}: entrypoint app/{entry_name} does not exist in {str(folder)!r}"
            + misplaced_entry(folder, entry_name)
        )
    if entry.suffix == ".py":
        command: tuple[str, ...] = (sys.executable, str(entry))
    elif entry.suffix == ".sh":
        command = ("bash", str(entry))
    else:
        command = (str(entry),)
    config = manifest.get("platform_config") or {}
    secret_ids = (config.get("secrets") or []) if isinstance(config, dict) else []
    if not isinstance(secret_ids, list) or not all(isinstance(s, str) for s in secret_ids):
        raise TemplateError(f"{role} {tag!r}: platform_config.secrets must be a list of ids")
    for secret_id in secret_ids:
        # Each id names environment variables: 'A=B' could not be passed at all.
        if not SECRET_ID.fullmatch(secret_id):
            raise TemplateError(
                f"{role} {tag!r}: platform_config.secrets: {secret_id!r} is not a valid secret "
                "id (a letter or '_', then letters, digits or '_')"
            )
    return Component(role, tag, command, entry.parent, folder, tuple(secret_ids), manifest)


def _manifests(
    search: Iterable[Path], broken: list[tuple[Path, TemplateError]] | None = None
) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every readable manifest in the search folders and their immediate subfolders; the
    unreadable ones go to ``broken``, with their error."""
    for root in search:
        if not root.is_dir():
            continue
        for folder in [root, *sorted(p for p in root.iterdir() if p.is_dir())]:
            if (folder / "manifest.json").is_file():
                try:
                    yield folder, _manifest(folder)
                except TemplateError as exc:
                    if broken is not None:
                        broken.append((folder, exc))


def _fits(role: Role, manifest: dict[str, Any]) -> bool:
    # Engines of both kinds share names (``passthrough``): the manifest's type decides.
    declared = manifest.get("type")
    return declared in (None, "app") if role == "app" else declared in (None, role)


def _candidates(
    name: str, fitting: Iterable[tuple[Path, dict[str, Any]]]
) -> list[tuple[tuple[int, int], Path, dict[str, Any]]]:
    found: dict[Path, tuple[tuple[int, int], dict[str, Any]]] = {}
    for folder, manifest in fitting:
        if manifest.get("name") == name:
            match = _VERSION.fullmatch(str(manifest.get("version", "0.0")))
            version = (int(match.group(1)), int(match.group(2))) if match else (0, 0)
            found.setdefault(folder.resolve(), (version, manifest))
    return [(v, p, manifest) for p, (v, manifest) in found.items()]


def resolve(
    role: Role, tag: str, search: Sequence[Path], relative_to: Path | None = None
) -> Component:
    """Resolve ``tag`` for ``role`` against folders in ``search``, then built-ins.

    A relative folder tag is taken relative to ``relative_to`` (the folder of the file
    that holds the tag), else to the current folder.
    """
    if "\0" in tag:  # in no path the system takes, nor in a tag
        raise TemplateError(f"{role} tag {tag!r}: expected name, name@major or name@major.minor")
    folder = (relative_to or Path.cwd()) / tag
    if looks_like_path(tag) or (folder.is_dir() and (folder / "manifest.json").is_file()):
        return _from_folder(role, tag, folder)
    match = TAG.fullmatch(tag)
    if match is None:
        raise TemplateError(f"{role} tag {tag!r}: expected name, name@major or name@major.minor")
    name = match.group("name")
    major = int(match.group("major")) if match.group("major") else None
    minor = int(match.group("minor")) if match.group("minor") else None
    # One scan of the search folders serves both the match and the suggestions.
    broken: list[tuple[Path, TemplateError]] = []
    manifests = list(_manifests(search, broken))
    fitting = [(folder, m) for folder, m in manifests if _fits(role, m)]
    named = _candidates(name, fitting)
    candidates = [
        (v, p, manifest)
        for v, p, manifest in named
        if (major is None or v[0] == major) and (minor is None or v[1] == minor)
    ]
    if candidates:
        # The newest version wins; the folder path only breaks a tie.
        _, folder, manifest = max(candidates, key=lambda c: (c[0], c[1]))
        return _from_folder(role, tag, folder, manifest)
    for folder, error in broken:
        if folder.name == name:
            # Most likely the engine meant: never run something else in its place.
            raise TemplateError(f"{role} {tag!r}: {error}")
    if role != "app" and name in registry.names(role):
        # Built-ins follow the package version; any 1.x tag names them.
        if major is not None and major != 1:
            raise TemplateError(f"{role} {tag!r}: built-in {name!r} is version 1.x")
        return Component(role, tag, (sys.executable, "-m", "bytenite_runtime", "serve", role, name))
    if named:
        # Only the version missed: say which there are, not "did you mean" the same name.
        versions = ", ".join(f"{a}.{b}" for a, b in sorted({v for v, _, _ in named}))
        raise TemplateError(f"{role} {tag!r}: {name!r} is found only at version {versions}")
    known = {str(m.get("name", "")) for _, m in fitting}
    if role != "app":
        known |= set(registry.names(role))
    where = ", ".join(str(s) for s in search) or "no folders"
    others = _other_kinds(role, name, [m for _, m in manifests])
    raise UnknownNameError(role, tag, known, searched=where, other_kinds=others)


def _other_kinds(role: Role, name: str, manifests: Sequence[dict[str, Any]]) -> list[str]:
    """The kinds of the components named ``name`` that do not fit ``role`` (an assembler
    given as a partitioner), to say so rather than only "unknown"; none when ``name`` is
    known for ``role`` too (only its version was not found)."""
    if any(m.get("name") == name and _fits(role, m) for m in manifests):
        return []
    kinds = {
        m.get("type") if m.get("type") in ("partitioner", "assembler") else "app"
        for m in manifests
        if m.get("name") == name
    }
    kinds |= {kind for kind in ("partitioner", "assembler") if name in registry.names(kind)}
    return [kind for kind in ("partitioner", "assembler", "app") if kind in kinds]


def search_folders(extra: Sequence[Path], base: Path) -> list[Path]:
    """Where tags and template ids are looked up: ``extra`` (``--search``), ``base`` (the
    request's folder) and its ``engines/``, ``templates/``, then the current folder and its
    ``engines/``, ``templates/``, ``examples/``. A template id takes the first file found;
    a tag the newest matching version in any of them."""
    cwd = Path.cwd()
    folders = [
        *extra, base, base / "engines", base / "templates", cwd, cwd / "engines",
        cwd / "templates", cwd / "examples",
    ]  # fmt: skip
    return list(dict.fromkeys(p.resolve() for p in folders))


def find_template(template_id: str, search: Sequence[Path]) -> Path:
    """The template file ``<template_id>.json`` in the first search folder holding one
    (whatever ``id`` it gives, if any), else the first whose ``id`` is ``template_id``."""
    for root in search:
        direct = root / f"{template_id}.json"
        if direct.is_file():
            load_json(direct, "template")  # a broken file named so is the error, not "unknown"
            return direct
    seen: list[str] = []
    for root in search:
        if not root.is_dir():
            continue
        for path in sorted(root.glob("*.json")) + sorted(root.glob("*/template.json")):
            try:
                doc = load_json(path, "template")
            except TemplateError:
                continue
            if doc.get("id") == template_id:
                return path
            if isinstance(doc.get("id"), str) and doc["id"] not in seen:
                seen.append(doc["id"])
    raise UnknownNameError("template", template_id, seen)
