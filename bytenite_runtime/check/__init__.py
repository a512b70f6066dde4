"""``python -m bytenite_runtime.check PATH…``: validate apps, engines and templates before a push.

PATH is an app or engine folder (``manifest.json`` + ``app/``, with an optional
``template.json`` and ``schema.json``), a template file, or a folder holding such
folders and template files (``engines/``, ``templates/``, ``examples/``, a project's
folder, whose other JSON files are skipped). Every problem
is one line, ``path: field: problem``; the exit code is 2 when there is any.

What is checked:

- ``manifest.json``: known fields only; ``name`` (1–64 letters, digits, ``-``, ``_``),
  ``version`` (``"major.minor"``), ``type``, ``description``, ``entrypoint`` (a file
  in ``app/``), ``platform`` (``docker``), ``platform_config`` (a container image;
  username and token for a private one; well-formed, distinct secret ids),
  ``device_requirements`` (``min_cpu`` ≥ 1, ``min_memory`` > 0 GiB, ``gpu`` a list of
  model names);
- ``schema.json``: a valid JSON Schema;
- templates: known fields only; an ``id``; ``app``, ``partitioner`` and ``assembler``
  tags (not folder paths) that resolve as the simulator resolves them; params valid
  against the built-in's model, an engine's or app's ``schema.json``; ``config`` (timeouts
  in whole seconds) and data source / destination valid.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from .._inputs import not_a_file
from ..simulate._resolve import search_folders
from ._findings import Finding
from ._manifest import check_manifest, check_schema_file
from ._template import check_template

__all__ = ["Finding", "Report", "check_paths"]

_NOT_TEMPLATES = {"manifest.json", "schema.json", "job.json"}
_TEMPLATE_KEYS = {"id", "app"}  # a template needs both; a --report file has neither


@dataclass
class Report:
    """What was checked (``apps``, ``engines``, ``templates``, ``schemas`` counts) and found."""

    findings: list[Finding] = field(default_factory=list)
    counts: dict[str, int] = field(
        default_factory=lambda: {"engines": 0, "apps": 0, "templates": 0, "schemas": 0}
    )

    @property
    def ok(self) -> bool:
        return not self.findings and any(self.counts.values())

    def summary(self) -> str:
        parts = [f"{n} {what if n > 1 else what[:-1]}" for what, n in self.counts.items() if n]
        return ", ".join(parts) or "nothing"


def _shown(path: Path) -> str:
    # As the user wrote it (folders add their children's names), so lines can be pasted.
    return str(path)


def _check_folder(folder: Path, report: Report, extra: Sequence[Path]) -> None:
    manifest, found = check_manifest(folder, _shown(folder / "manifest.json"))
    report.findings += found
    kind = manifest.get("type") if manifest else None
    report.counts["engines" if kind in ("partitioner", "assembler") else "apps"] += 1
    for schema in (folder / "schema.json", folder / "app" / "schema.json"):
        if schema.is_file():
            _check_schema(schema, report)
    template = folder / "template.json"
    if template.is_file():
        _check_template_file(template, report, extra)


def _check_schema(path: Path, report: Report) -> None:
    report.findings += check_schema_file(path, _shown(path))
    report.counts["schemas"] += 1


def _check_template_file(path: Path, report: Report, extra: Sequence[Path]) -> None:
    search = search_folders(extra, path.resolve().parent)
    report.findings += check_template(path, _shown(path), search)
    report.counts["templates"] += 1


def _may_be_template(path: Path) -> bool:
    """Whether a ``*.json`` found in a folder is to be checked as a template: not one whose
    JSON is no object or an object without a template's ``id`` or ``app`` (the job's data,
    a --secrets file, a simulate report, a job request); invalid JSON may be a broken
    template."""
    try:
        doc = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return True
    return isinstance(doc, dict) and bool(_TEMPLATE_KEYS & doc.keys())


def _check_one(path: Path, report: Report, extra: Sequence[Path]) -> None:
    if path.is_file():
        if path.name == "manifest.json":
            _check_folder(path.parent, report, extra)
        elif path.name == "schema.json":
            _check_schema(path, report)
        else:
            _check_template_file(path, report, extra)
    elif (path / "manifest.json").is_file():
        _check_folder(path, report, extra)
    elif os.path.lexists(path / "manifest.json"):
        reason = not_a_file(path / "manifest.json")
        report.findings.append(Finding(_shown(path / "manifest.json"), "", str(reason)))
    elif path.is_dir():
        before = sum(report.counts.values())
        for child in sorted(path.iterdir()):
            if child.is_dir() and (child / "manifest.json").is_file():
                _check_folder(child, report, extra)
            elif (
                child.suffix == ".json"
                and child.name not in _NOT_TEMPLATES
                and _may_be_template(child)
            ):
                _check_template_file(child, report, extra)
        if sum(report.counts.values()) == before:
            reason = "holds no manifest.json, no component folder and no template"
            report.findings.append(Finding(_shown(path), "", reason))
    else:
        report.findings.append(Finding(_shown(path), "", "does not exist"))


def check_paths(paths: Iterable[Path], search: Sequence[Path] = ()) -> Report:
    """Check every path; template tags are also looked up in ``search``."""
    report = Report()
    for path in paths:
        _check_one(Path(path), report, search)
    return report
