"""Engine folders generated from the registry: one per built-in partitioner and assembler.

Each folder is what ``bytenite engine push`` uploads: ``manifest.json``, ``app/main.py``
(a few lines serving the built-in), ``README.md`` (parameter table) and ``schema.json``,
the last two generated from the component's params model, so they cannot drift from the
code. ``python -m bytenite_runtime engines --write engines/`` (re)writes them and
``--check engines/`` names every folder that differs from what generation gives.
"""

from __future__ import annotations

import json
import shlex
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from . import __version__, registry
from .registry import ComponentKind

__all__ = [
    "ENGINE_VERSION",
    "REGENERATE",
    "container_image",
    "engine_files",
    "engines",
    "folder_name",
    "is_generated_main",
    "main_py",
    "readme",
    "schema",
    "stale_engines",
    "write_engines",
]

# Built-ins answer any 1.x tag (see simulate's resolver); the engines say the same.
ENGINE_VERSION = "1.0"
REGENERATE = "python -m bytenite_runtime engines --write engines/"
_KINDS: tuple[ComponentKind, ...] = ("partitioner", "assembler")

# Components whose default work a GPU speeds up get the CUDA image, the rest the CPU one.
# None yet: time-chunk's 'exact' mode can encode with NVENC, but its default stream copy
# needs no GPU, and the CUDA image is several times larger to pull on every machine.
_CUDA: frozenset[tuple[ComponentKind, str]] = frozenset()
# Table families hold a row group in memory. tile holds the decoded source and its
# upright copy: a 16384² image (max_pixels' default) peaked at 2.04 GiB. time-chunk's
# 'exact' mode runs x264, whose threads (1.5 per core) hold 4K frames: 2.4 GiB on 16 cores.
_MEMORY_GIB: Mapping[str, int] = {
    "row": 2,
    "concat": 2,
    "tile": 4,
    "mosaic": 4,
    "time-chunk": 4,
}


def container_image(flavour: str) -> str:
    """Our image for this package version: ``ghcr.io/bytenite/bytenite-runtime:0.1-cpu``."""
    major, minor = __version__.split(".")[:2]
    return f"ghcr.io/bytenite/bytenite-runtime:{major}.{minor}-{flavour}"


def engines() -> Iterator[tuple[ComponentKind, str]]:
    """Every built-in as ``(kind, name)``, partitioners first, names sorted."""
    for kind in _KINDS:
        for name in registry.names(kind):
            yield kind, name


def folder_name(kind: ComponentKind, name: str) -> str:
    """The engine's folder: its name, suffixed with its kind when both kinds use the name."""
    shared = all(name in registry.names(k) for k in _KINDS)
    return f"{name}-{kind}" if shared else name


def _manifest(kind: ComponentKind, name: str) -> dict[str, Any]:
    component = registry.get(kind, name)
    flavour = "cuda" if (kind, name) in _CUDA else "cpu"
    requirements: dict[str, Any] = {"min_cpu": 1, "min_memory": _MEMORY_GIB.get(name, 1)}
    return {
        "name": name,
        "version": ENGINE_VERSION,
        "type": kind,
        "description": component.summary,
        "entrypoint": "main.py",
        "platform": "docker",
        "platform_config": {"container": container_image(flavour)},
        "device_requirements": requirements,
    }


def main_py(kind: ComponentKind, name: str) -> str:
    """The engine's whole entry point: serve the built-in by name."""
    return (
        f'"""The {name} {kind} engine: a bytenite-runtime built-in."""\n'
        "\n"
        "from bytenite_runtime import task\n"
        "\n"
        'if __name__ == "__main__":\n'
        f"    task.serve({json.dumps(name)}, {json.dumps(kind)})\n"
    )


def is_generated_main(path: Path, kind: ComponentKind, name: str) -> bool:
    """Whether ``path`` is exactly the generated entry point of built-in ``name``."""
    try:
        return path.read_text(encoding="utf-8") == main_py(kind, name)
    except OSError:
        return False


def schema(kind: ComponentKind, name: str) -> dict[str, Any]:
    """JSON Schema of the component's params, from its model (unknown keys rejected)."""
    generated = registry.get(kind, name).model_json_schema()
    generated["additionalProperties"] = False
    if "description" in generated:  # the class docstring: plain prose, as the README has it
        generated["description"] = " ".join(generated["description"].replace("``", "`").split())
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **generated}


def _constraints(prop: Mapping[str, Any]) -> list[str]:
    marks = {"minimum": "≥", "maximum": "≤", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}
    found = [f"{sign} {prop[key]}" for key, sign in marks.items() if key in prop]
    shortest, longest = prop.get("minLength"), prop.get("maxLength")
    if shortest == longest == 1:
        found.append("one character")
    else:
        if shortest == 1:
            found.append("non-empty")
        if longest is not None:
            found.append(f"≤ {longest} characters")
    return found


def _type_text(prop: Mapping[str, Any]) -> str:
    options = prop.get("anyOf")
    if options:
        texts = [_type_text(o) for o in options if o.get("type") != "null"]
        nullable = any(o.get("type") == "null" for o in options)
        return " or ".join(texts) + (" (optional)" if nullable else "")
    if "enum" in prop:
        return " \\| ".join(f"`{value}`" for value in prop["enum"])
    text = str(prop.get("type", "any"))
    if prop.get("type") == "array" and isinstance(prop.get("items"), dict):
        text = f"list of {_type_text(prop['items'])}"
    extra = _constraints(prop)
    return f"{text}, {', '.join(extra)}" if extra else text


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def readme(kind: ComponentKind, name: str) -> str:
    """The engine's README: what it does, how to use it, and its parameter table."""
    component = registry.get(kind, name)
    generated = component.model_json_schema()
    required = set(generated.get("required", []))
    rows = []
    for field, prop in generated.get("properties", {}).items():
        if field in required:
            default = "required"
        elif prop.get("default") is None:
            default = "—"
        else:
            default = f"`{json.dumps(prop['default'])}`"
        rows.append(
            f"| `{field}` | {_type_text(prop)} | {default} | {_cell(prop.get('description', ''))} |"
        )
    table = "\n".join(rows) if rows else "| *(none)* | | | |"
    params_key = "partitioner" if kind == "partitioner" else "assembler"
    return (
        f"# {name} ({kind})\n"
        "\n"
        f"{component.summary}\n"
        "\n"
        f"{_cell((component.__doc__ or '').replace('``', '`'))}\n"
        "\n"
        f'In a template: `"{kind}": "{name}@{ENGINE_VERSION.split(".")[0]}"`; its params go under\n'
        f"`params.{params_key}` of the job. Unknown params are rejected.\n"
        "\n"
        "| param | type | default | description |\n"
        "|---|---|---|---|\n"
        f"{table}\n"
        "\n"
        f"Generated from the params model by `{REGENERATE}`; do not edit by hand.\n"
    )


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def engine_files(kind: ComponentKind, name: str) -> dict[str, str]:
    """The engine folder's files, by path relative to the folder."""
    return {
        "manifest.json": _json(_manifest(kind, name)),
        "app/main.py": main_py(kind, name),
        "README.md": readme(kind, name),
        "schema.json": _json(schema(kind, name)),
    }


def _present(folder: Path) -> set[str]:
    return {
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def _expected() -> dict[str, dict[str, str]]:
    return {folder_name(k, n): engine_files(k, n) for k, n in engines()}


def regenerate_command(root: Path) -> str:
    """The command that writes the engine folders under ``root``."""
    return f"python -m bytenite_runtime engines --write {shlex.quote(f'{root}/')}"


def stale_engines(root: Path) -> list[str]:
    """One line per engine folder under ``root`` that differs from generation (or is extra)."""
    problems: list[str] = []
    expected = _expected()
    fix = f"regenerate with `{regenerate_command(root)}`"
    for folder, files in expected.items():
        where = root / folder
        if not where.is_dir():
            problems.append(f"{where}: missing; {fix}")
            continue
        differing = sorted(
            rel
            for rel, text in files.items()
            if not (where / rel).is_file() or (where / rel).read_text(encoding="utf-8") != text
        )
        differing += sorted(_present(where) - set(files))
        if differing:
            verb = "differs" if len(differing) == 1 else "differ"
            problems.append(f"{where}: {', '.join(differing)} {verb} from generation; {fix}")
    if root.is_dir():
        for extra in sorted(p.name for p in root.iterdir() if p.is_dir()):
            if extra not in expected and extra != "__pycache__":
                problems.append(f"{root / extra}: not a built-in engine; remove it or register it")
    return problems


def write_engines(root: Path) -> list[Path]:
    """Write every engine folder under ``root``, replacing what was there; return the folders."""
    written = []
    for folder, files in _expected().items():
        where = root / folder
        if where.is_dir():
            shutil.rmtree(where)
        for rel, text in files.items():
            path = where / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        written.append(where)
    return written
