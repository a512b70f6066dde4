"""The registry: built-in names, lazy imports, helpful unknown-name errors, strict params."""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from bytenite_runtime import Assembler, ConfigError, Partitioner, UnknownNameError, registry


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("partitioner", {"passthrough", "replicate-fanout"}),
        ("assembler", {"concat", "passthrough", "zipper"}),
    ],
)
def test_names_are_sorted_kebab_case_and_include_the_builtins(
    kind: str, expected: set[str]
) -> None:
    """names() lists every built-in of a kind, sorted, each a kebab-case key."""
    names = registry.names(kind)  # type: ignore[arg-type]
    assert names == sorted(names)
    assert expected <= set(names)
    assert all(re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", name) for name in names)


@pytest.mark.parametrize("kind", ["partitioner", "assembler"])
def test_every_name_resolves_to_a_component_of_that_kind(kind: str) -> None:
    """get() returns the class whose ``name`` is the key, subclassing the kind's base."""
    base = Partitioner if kind == "partitioner" else Assembler
    for name in registry.names(kind):  # type: ignore[arg-type]
        component = registry.get(kind, name)  # type: ignore[arg-type]
        assert issubclass(component, base)
        assert component.name == name
        assert component.summary and "\n" not in component.summary


def test_importing_the_package_does_not_import_builtins() -> None:
    """Built-in component modules load only when asked for by name."""
    code = (
        "import sys, bytenite_runtime, bytenite_runtime.registry\n"
        "heavy = ['bytenite_runtime.assemblers.zip', 'bytenite_runtime.assemblers.concat',\n"
        "         'bytenite_runtime.partitioners.files']\n"
        "print([m for m in heavy if m in sys.modules])\n"
        "bytenite_runtime.registry.get('assembler', 'zipper')\n"
        "print('bytenite_runtime.assemblers.zip' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert proc.stdout.splitlines() == ["[]", "True"]


def test_unknown_name_suggests_the_nearest() -> None:
    """A misspelt name is an UnknownNameError suggesting the closest registered one."""
    with pytest.raises(UnknownNameError) as exc:
        registry.get("assembler", "zipperr")
    assert "did you mean 'zipper'?" in str(exc.value)
    assert f"(known: {', '.join(registry.names('assembler'))})" in str(exc.value)
    assert exc.value.name == "zipperr"
    assert exc.value.exit_code == 2


def test_unknown_name_without_a_near_match_lists_the_known_ones() -> None:
    """A name far from every known one gets no suggestion but the full list."""
    with pytest.raises(UnknownNameError) as exc:
        registry.get("partitioner", "qqqqqqqq")
    assert "did you mean" not in str(exc.value)
    assert str(exc.value).endswith(f"(known: {', '.join(registry.names('partitioner'))})")


def test_names_are_per_kind() -> None:
    """An assembler name is unknown as a partitioner."""
    with pytest.raises(UnknownNameError, match="unknown partitioner 'zipper'"):
        registry.get("partitioner", "zipper")


@pytest.mark.parametrize(
    ("kind", "name", "other"),
    [("partitioner", "zipper", "an assembler"), ("assembler", "row", "a partitioner")],
)
def test_a_name_of_the_other_kind_says_which_kind_it_is(kind: str, name: str, other: str) -> None:
    """A built-in asked for as the wrong kind is named as the kind it is, not just unknown."""
    with pytest.raises(UnknownNameError) as exc:
        registry.get(kind, name)  # type: ignore[arg-type]
    assert str(exc.value).startswith(f"unknown {kind} {name!r}; {name!r} is {other}, not a")


def test_serving_an_assembler_as_a_partitioner_says_it_is_an_assembler(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """`serve partitioner zipper` exits 2 saying zipper is an assembler, in one line."""
    from bytenite_runtime.__main__ import main

    with pytest.raises(SystemExit) as exc:
        main(["serve", "partitioner", "zipper"])
    assert exc.value.code == 2
    assert capfd.readouterr().err == (
        "error: unknown partitioner 'zipper'; 'zipper' is an assembler, not a partitioner "
        f"(known: {', '.join(registry.names('partitioner'))})\n"
    )


def test_kind_of_resolves_unique_names() -> None:
    """kind_of answers for names registered under one kind only."""
    assert registry.kind_of("zipper") == "assembler"
    assert registry.kind_of("replicate-fanout") == "partitioner"


def test_kind_of_rejects_ambiguous_and_unknown_names() -> None:
    """'passthrough' exists as both kinds and must be qualified; unknown names suggest."""
    with pytest.raises(ConfigError, match="both a partitioner and an assembler"):
        registry.kind_of("passthrough")
    with pytest.raises(UnknownNameError, match="did you mean 'concat'"):
        registry.kind_of("conact")


@pytest.mark.parametrize("kind", ["partitioner", "assembler"])
def test_params_models_reject_unknown_keys(kind: str) -> None:
    """Every built-in's params model forbids unknown keys, so a typo fails loudly."""
    for name in registry.names(kind):  # type: ignore[arg-type]
        component = registry.get(kind, name)  # type: ignore[arg-type]
        assert component.model_config.get("extra") == "forbid"
        assert component.model_config.get("frozen") is True
        with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
            component.model_validate({"definitely_not_a_param": 1})


@pytest.mark.parametrize("kind", ["partitioner", "assembler"])
def test_params_fields_are_documented(kind: str) -> None:
    """Every params field carries a description, so the README table can be generated."""
    for name in registry.names(kind):  # type: ignore[arg-type]
        component = registry.get(kind, name)  # type: ignore[arg-type]
        for field_name, info in component.model_fields.items():
            assert info.description, f"{name}.{field_name} has no description"


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_module_help_prints_usage_and_succeeds(flag: str) -> None:
    """``python -m bytenite_runtime --help`` prints the usage on stdout and exits 0."""
    from bytenite_runtime.__main__ import main

    with contextlib.redirect_stdout(io.StringIO()) as out:
        assert main([flag]) == 0
    assert out.getvalue().startswith("usage: python -m bytenite_runtime serve")


def test_module_help_describes_every_command() -> None:
    """``--help`` gives a line for each command the usage names, and points at the
    simulator, so a user need not read the source to learn what ``engines`` does."""
    from bytenite_runtime.__main__ import main

    with contextlib.redirect_stdout(io.StringIO()) as out:
        assert main(["--help"]) == 0
    text = out.getvalue()
    for command in ("serve partitioner NAME", "serve assembler NAME", "list", "engines"):
        assert f"\n  {command} " in text
    assert "engines --write DIR" in text and "engines --check DIR" in text
    assert "check PATH" in text and "bytenite_runtime.simulate --help" in text


def test_module_unknown_command_is_one_line_with_the_nearest() -> None:
    """A mistyped command is one error line naming it and the command meant, exit 2."""
    from bytenite_runtime.__main__ import main

    with contextlib.redirect_stderr(io.StringIO()) as err:
        assert main(["serv", "partitioner", "row"]) == 2
    assert err.getvalue().splitlines() == [
        "error: unknown command 'serv'; did you mean 'serve'? (see --help)"
    ]


def test_module_check_usage_names_the_command_that_ran_it() -> None:
    """``python -m bytenite_runtime check`` with a bad command line points at its own
    ``--help``, not at the ``bytenite_runtime.check`` module's."""
    from bytenite_runtime.__main__ import main

    with contextlib.redirect_stderr(io.StringIO()) as err, pytest.raises(SystemExit) as exit_:
        main(["check"])
    assert exit_.value.code == 2
    assert "(see python -m bytenite_runtime check --help)" in err.getvalue()


def test_module_list_with_extra_arguments_is_a_usage_error() -> None:
    """``list`` followed by anything else is a usage error (exit 2), not silently accepted."""
    from bytenite_runtime.__main__ import main

    with contextlib.redirect_stderr(io.StringIO()) as err:
        assert main(["list", "extra"]) == 2
    assert err.getvalue().startswith("usage:")


def test_engines_write_to_an_unusable_folder_is_one_error_line(tmp_path: Path) -> None:
    """``engines --write`` into a path under a file is one ``error: --write:`` line, exit 2."""
    from bytenite_runtime.__main__ import main

    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    with contextlib.redirect_stderr(io.StringIO()) as err:
        assert main(["engines", "--write", str(blocker / "engines")]) == 2
    lines = err.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: --write: '{blocker / 'engines'}")


def test_engines_write_to_a_file_says_it_is_not_a_folder(tmp_path: Path) -> None:
    """``engines --write`` naming a file is one line saying that path is not a folder, not
    an error about an engine folder under it."""
    from bytenite_runtime.__main__ import main

    blocker = tmp_path / "afile"
    blocker.write_text("a file, not a folder")
    with contextlib.redirect_stderr(io.StringIO()) as err:
        assert main(["engines", "--write", str(blocker)]) == 2
    assert err.getvalue().splitlines() == [f"error: --write: '{blocker}': not a folder"]


def test_module_check_runs_the_check_command(tmp_path: Path) -> None:
    """``python -m bytenite_runtime check PATH`` is ``python -m bytenite_runtime.check PATH``:
    the same lines and exit code."""
    from bytenite_runtime.__main__ import main

    with contextlib.redirect_stderr(io.StringIO()) as err:
        assert main(["check", str(tmp_path / "nope")]) == 2
    assert str(tmp_path / "nope") in err.getvalue()


_BLOCKED = """
import sys
for module in ("numpy", "pyarrow", "zstandard", "PIL", "av", "imageio_ffmpeg"):
    sys.modules[module] = None  # as if only the core were installed
from bytenite_runtime.task import serve
serve({name!r}, {kind!r})
"""


@pytest.mark.parametrize(
    ("kind", "name", "files", "extra", "module"),
    [
        ("assembler", "concat", {"chunk-000000.o.csv": "a\n1\n"}, "tables", "numpy"),
        ("partitioner", "row", {"t.parquet": "PAR1"}, "tables", "pyarrow"),
        ("partitioner", "tile", {"p.png": "not read"}, "images", "PIL"),
        ("partitioner", "time-chunk", {"clip.mp4": "not read"}, "media", "av"),
    ],
)
def test_a_built_in_without_its_extra_names_the_extra_to_install(
    tmp_path: Path, kind: str, name: str, files: dict[str, str], extra: str, module: str
) -> None:
    """A built-in whose libraries are not installed (only the core is) fails with one line
    naming the missing library and the extra that installs it, exit 2, not a traceback
    blamed on the component (exit 4)."""
    from conftest import base_env, last_line

    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    out.mkdir()
    for file, text in files.items():
        (inputs / file).write_text(text)
    if kind == "partitioner":
        env = base_env(SOURCE_DIR=str(inputs), CHUNKS_DIR=str(out), PARTITIONER_PARAMS="{}")
    else:
        env = base_env(TASK_RESULTS_DIR=str(inputs), OUTPUT_DIR=str(out), ASSEMBLER_PARAMS="{}")
    code = _BLOCKED.format(name=name, kind=kind)
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 2, run.stderr
    assert last_line(run.stderr) == (
        f"error: the {name} {kind} needs {module}, which is not installed: "
        f"pip install 'bytenite-runtime[{extra}]'"
    )
    assert "Traceback" not in run.stderr
    assert list(out.iterdir()) == []
