"""The public surface: curated, sorted ``__all__`` lists and a light import."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

import bytenite_runtime

PUBLIC_MODULES = [
    "bytenite_runtime",
    "bytenite_runtime.chunks",
    "bytenite_runtime.components",
    "bytenite_runtime.errors",
    "bytenite_runtime.registry",
    "bytenite_runtime.settings",
    "bytenite_runtime.task",
    "bytenite_runtime.testing",
]


def _isort_key(name: str) -> tuple[int, str]:
    # The order ruff's RUF022 keeps: CONSTANTS, then Classes, then functions and modules.
    if name.isupper():
        return 0, name
    return (1 if name[0].isupper() else 2), name


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_all_is_sorted_unique_and_every_name_exists(module_name: str) -> None:
    """Each public module's __all__ is sorted, has no duplicates, and names real attributes."""
    module = importlib.import_module(module_name)
    exported = list(module.__all__)
    assert exported == sorted(exported, key=_isort_key)
    assert len(set(exported)) == len(exported)
    missing = [name for name in exported if not hasattr(module, name)]
    assert missing == []


def test_package_exports_the_entry_api_errors_and_settings() -> None:
    """The package root exports task, the settings models, chunk types and every error."""
    expected = {
        "task", "AppSettings", "PartitionerSettings", "AssemblerSettings", "Secret",
        "Chunk", "ChunkMeta", "NewChunk", "Result", "Partitioner", "Assembler",
        "ByteniteError", "ConfigError", "SettingsError", "UnknownNameError", "TemplateError",
        "DataError", "ComponentError", "JobFailed",
    }  # fmt: skip
    assert expected <= set(bytenite_runtime.__all__)


def test_from_package_import_task_gives_the_entry_api() -> None:
    """``from bytenite_runtime import task`` exposes the decorators and context types."""
    from bytenite_runtime import task

    for name in (
        "app", "partitioner", "assembler", "serve", "Entrypoint",
        "AppContext", "PartitionerContext", "AssemblerContext", "Chunk", "NewChunk", "Result",
    ):  # fmt: skip
        assert hasattr(task, name), name
        assert name in task.__all__
    assert callable(task.app) and callable(task.partitioner) and callable(task.assembler)


def test_error_classes_form_the_documented_tree() -> None:
    """Every error derives from ByteniteError along the tree drawn in errors.py."""
    from bytenite_runtime import errors

    assert issubclass(errors.SettingsError, errors.ConfigError)
    assert issubclass(errors.UnknownNameError, errors.ConfigError)
    assert issubclass(errors.TemplateError, errors.ConfigError)
    for cls in (errors.ConfigError, errors.DataError, errors.ComponentError, errors.JobFailed):
        assert issubclass(cls, errors.ByteniteError)
    assert errors.JobFailed.exit_code == 5


def test_error_messages_are_one_line() -> None:
    """A multi-line message is collapsed to one line."""
    from bytenite_runtime import DataError

    assert str(DataError("line one\n  line two\tend")) == "line one line two end"


def test_import_is_light() -> None:
    """Importing the package loads no heavy optional dependency and no built-in component."""
    code = (
        "import sys, json, bytenite_runtime\n"
        "from bytenite_runtime import task\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = set(json.loads(proc.stdout))
    heavy = {
        "numpy", "pyarrow", "PIL", "jsonschema", "imageio_ffmpeg", "ffmpeg", "hypothesis",
        "bytenite_runtime.assemblers.zip", "bytenite_runtime.simulate",
    }  # fmt: skip
    assert heavy & loaded == set()
