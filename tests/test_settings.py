"""Settings models: which variables each component reads and how bad ones are reported."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from pydantic import BaseModel

from bytenite_runtime import (
    AppSettings,
    AssemblerSettings,
    PartitionerSettings,
    Secret,
    SettingsError,
)
from bytenite_runtime.errors import Problem
from bytenite_runtime.settings import (
    CONTRACT_VARIABLES,
    app_environment,
    assembler_environment,
    load_secrets,
    partitioner_environment,
    secret_environment,
    secret_value,
)

SECRET = "hunter2-s3cr3t-value"


def _aliases(model: type[AppSettings | PartitionerSettings | AssemblerSettings]) -> set[str]:
    return {str(field.validation_alias) for field in model.model_fields.values()}


@pytest.fixture
def app_env(tmp_path: Path) -> dict[str, str]:
    for name in ("task", "results", "user", "shared"):
        (tmp_path / name).mkdir()
    (tmp_path / "task" / "data.bin").write_bytes(b"chunk")
    return app_environment(
        tmp_path / "task",
        tmp_path / "results",
        {"k": 1},
        tmp_path / "user",
        tmp_path / "shared",
        3,
    )


def _problems(exc: pytest.ExceptionInfo[SettingsError]) -> dict[str, Problem]:
    return {p.variable if not p.field else f"{p.variable}.{p.field}": p for p in exc.value.problems}


# -- which variables ---------------------------------------------------------------------


def test_partitioner_reads_exactly_its_contract_variables() -> None:
    """The partitioner model reads SOURCE_DIR, CHUNKS_DIR, PARTITIONER_PARAMS, SHARED_CACHE_DIR."""
    expected = {"SOURCE_DIR", "CHUNKS_DIR", "PARTITIONER_PARAMS", "SHARED_CACHE_DIR"}
    assert _aliases(PartitionerSettings) == expected


def test_app_reads_exactly_its_contract_variables() -> None:
    """The app model reads its task folders, params, both caches and CHUNK_NUMBER, no more."""
    expected = {
        "TASK_DIR", "TASK_RESULTS_DIR", "APP_PARAMS", "USER_CACHE_DIR", "SHARED_CACHE_DIR",
        "CHUNK_NUMBER",
    }  # fmt: skip
    assert _aliases(AppSettings) == expected


def test_assembler_reads_exactly_its_contract_variables() -> None:
    """The assembler model reads its results and output folders, params and the shared cache."""
    expected = {"TASK_RESULTS_DIR", "OUTPUT_DIR", "ASSEMBLER_PARAMS", "SHARED_CACHE_DIR"}
    assert _aliases(AssemblerSettings) == expected


def test_every_variable_read_is_a_contract_variable() -> None:
    """No model reads a variable outside the documented contract."""
    read = _aliases(PartitionerSettings) | _aliases(AppSettings) | _aliases(AssemblerSettings)
    assert read <= CONTRACT_VARIABLES


def test_app_settings_from_environment_helper(app_env: dict[str, str], tmp_path: Path) -> None:
    """What app_environment builds is exactly what AppSettings reads back."""
    settings = AppSettings.from_environ(app_env)
    assert settings.task_dir == tmp_path / "task"
    assert settings.task_results_dir == tmp_path / "results"
    assert settings.params == {"k": 1}
    assert settings.user_cache_dir == tmp_path / "user"
    assert settings.shared_cache_dir == tmp_path / "shared"
    assert settings.chunk_number == 3
    assert settings.chunk_path == tmp_path / "task" / "data.bin"


def test_partitioner_and_assembler_environment_round_trip(tmp_path: Path) -> None:
    """partitioner_environment / assembler_environment produce settings their models accept."""
    for name in ("src", "chunks", "results", "out"):
        (tmp_path / name).mkdir()
    part = PartitionerSettings.from_environ(
        partitioner_environment(tmp_path / "src", tmp_path / "chunks", {"a": [1]}, None)
    )
    assert (part.source_dir, part.chunks_dir, part.params) == (
        tmp_path / "src",
        tmp_path / "chunks",
        {"a": [1]},
    )
    assert part.shared_cache_dir is None
    asm = AssemblerSettings.from_environ(
        assembler_environment(tmp_path / "results", tmp_path / "out", {}, tmp_path / "src")
    )
    assert (asm.task_results_dir, asm.output_dir, asm.params) == (
        tmp_path / "results",
        tmp_path / "out",
        {},
    )
    assert asm.shared_cache_dir == tmp_path / "src"


def test_variable_names_are_case_sensitive(app_env: dict[str, str]) -> None:
    """A lower-case ``task_dir`` does not stand in for TASK_DIR."""
    env = {k.lower() if k == "TASK_DIR" else k: v for k, v in app_env.items()}
    with pytest.raises(SettingsError) as exc:
        AppSettings.from_environ(env)
    assert [str(p) for p in exc.value.problems] == ["TASK_DIR: is not set"]


def test_given_mapping_is_read_instead_of_os_environ(
    app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """from_environ(mapping) ignores the process environment entirely."""
    monkeypatch.setenv("CHUNK_NUMBER", "-9")
    monkeypatch.setenv("APP_PARAMS", "garbage")
    settings = AppSettings.from_environ(app_env)
    assert settings.chunk_number == 3
    assert settings.params == {"k": 1}


def test_os_environ_is_read_by_default(
    app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """from_environ() with no mapping reads os.environ."""
    for key, value in app_env.items():
        monkeypatch.setenv(key, value)
    assert AppSettings.from_environ().chunk_number == 3


def test_other_variables_are_ignored(app_env: dict[str, str]) -> None:
    """Unrelated variables (another component's, PATH…) do not disturb a model."""
    env = dict(app_env, SOURCE_DIR="/nowhere", OUTPUT_DIR="/nowhere", PATH="/bin")
    assert AppSettings.from_environ(env).chunk_number == 3


# -- reporting problems ------------------------------------------------------------------


def test_every_missing_variable_is_reported_at_once() -> None:
    """An empty environment yields one SettingsError listing each required variable."""
    with pytest.raises(SettingsError) as exc:
        AssemblerSettings.from_environ({})
    assert [str(p) for p in exc.value.problems] == [
        "TASK_RESULTS_DIR: is not set",
        "OUTPUT_DIR: is not set",
        "ASSEMBLER_PARAMS: is not set",
    ]
    assert str(exc.value).startswith("invalid settings (3 problems): ")


def test_several_bad_variables_are_reported_together(tmp_path: Path) -> None:
    """Bad folders, bad JSON and a bad CHUNK_NUMBER all appear in one error, by env name."""
    (tmp_path / "file").write_text("x")
    env = {
        "TASK_DIR": str(tmp_path / "missing"),
        "TASK_RESULTS_DIR": str(tmp_path / "file"),
        "APP_PARAMS": "{",
        "USER_CACHE_DIR": str(tmp_path / "also-missing"),
        "CHUNK_NUMBER": "-2",
    }
    with pytest.raises(SettingsError) as exc:
        AppSettings.from_environ(env)
    problems = _problems(exc)
    assert set(problems) == {
        "TASK_DIR",
        "TASK_RESULTS_DIR",
        "APP_PARAMS",
        "USER_CACHE_DIR",
        "CHUNK_NUMBER",
    }
    assert "does not exist" in problems["TASK_DIR"].reason
    assert "is not a folder" in problems["TASK_RESULTS_DIR"].reason
    assert "not valid JSON" in problems["APP_PARAMS"].reason
    message = str(exc.value)
    assert "\n" not in message
    assert message.startswith("invalid settings (5 problems): ")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("{not json", "is not valid JSON"),
        ("[]", "must be a JSON object, got an array"),
        ("1", "must be a JSON object, got a number"),
        ('"x"', "must be a JSON object, got a string"),
        ("null", "must be a JSON object, got null"),
        ("true", "must be a JSON object, got a boolean"),
        ('{"a": 1, "a": 2}', "gives the key 'a' twice in one object"),
        ('{"a": [{"b": 1, "c": 2, "b": 1}]}', "gives the key 'b' twice in one object"),
        pytest.param(
            '{"a": ' + "[" * 1000 + "]" * 1000 + "}",
            "nests objects and arrays more than 100 levels",
            id="nested-1000-deep",
        ),
    ],
)
def test_params_must_be_a_json_object(app_env: dict[str, str], raw: str, reason: str) -> None:
    """Empty, malformed, non-object, duplicate-key or absurdly nested params JSON is an error
    naming the params variable."""
    with pytest.raises(SettingsError) as exc:
        AppSettings.from_environ(dict(app_env, APP_PARAMS=raw))
    (problem,) = exc.value.problems
    assert (problem.variable, problem.field) == ("APP_PARAMS", "")
    assert problem.reason.startswith(reason)


def test_deeply_nested_params_are_a_settings_error_not_a_recursion_error(
    app_env: dict[str, str],
) -> None:
    """Params nested ~1000 deep (orjson takes 1024) fail a model field as a SettingsError."""
    from bytenite_runtime import task

    class Params(BaseModel):
        x: int = 0

    @task.app(params=Params, schema=None)
    def main(ctx: task.AppContext[Params]) -> None:
        raise AssertionError("never called")

    raw = '{"x": ' + "[" * 1000 + "]" * 1000 + "}"
    with pytest.raises(SettingsError, match=r"APP_PARAMS: nests objects and arrays more than"):
        main.invoke(dict(app_env, APP_PARAMS=raw))


def test_params_nested_to_the_limit_are_taken(app_env: dict[str, str]) -> None:
    """Params nested exactly MAX_PARAMS_DEPTH levels (top object included) are read."""
    raw = '{"a": ' + "[" * 99 + "]" * 99 + "}"
    assert AppSettings.from_environ(dict(app_env, APP_PARAMS=raw)).params["a"] is not None


def test_params_object_is_parsed(app_env: dict[str, str]) -> None:
    """A JSON object in the params variable becomes a dict, nested values kept."""
    settings = AppSettings.from_environ(dict(app_env, APP_PARAMS='{"a": {"b": [1, 2]}}'))
    assert settings.params == {"a": {"b": [1, 2]}}


def test_chunk_number_absent_is_none(app_env: dict[str, str]) -> None:
    """Without CHUNK_NUMBER (it is only in a draft of the docs) the number is None."""
    del app_env["CHUNK_NUMBER"]
    assert AppSettings.from_environ(app_env).chunk_number is None


@pytest.mark.parametrize("raw", ["", "  "])
def test_chunk_number_set_but_empty_is_none(app_env: dict[str, str], raw: str) -> None:
    """An empty CHUNK_NUMBER means the same as an absent one, not an error."""
    assert AppSettings.from_environ(dict(app_env, CHUNK_NUMBER=raw)).chunk_number is None


@pytest.mark.parametrize(("raw", "value"), [("0", 0), ("7", 7), ("12345", 12345)])
def test_chunk_number_parses_integers(app_env: dict[str, str], raw: str, value: int) -> None:
    """A non-negative integer CHUNK_NUMBER is read as that integer."""
    assert AppSettings.from_environ(dict(app_env, CHUNK_NUMBER=raw)).chunk_number == value


@pytest.mark.parametrize("raw", ["-1", "abc", "1.5", "1e3", "0x10"])
def test_chunk_number_rejects_negative_and_non_integers(app_env: dict[str, str], raw: str) -> None:
    """A negative or non-integer CHUNK_NUMBER is an error naming CHUNK_NUMBER and the value."""
    with pytest.raises(SettingsError) as exc:
        AppSettings.from_environ(dict(app_env, CHUNK_NUMBER=raw))
    (problem,) = exc.value.problems
    assert problem.variable == "CHUNK_NUMBER"
    assert repr(raw) in problem.reason


def test_missing_folder_is_named(app_env: dict[str, str], tmp_path: Path) -> None:
    """A folder variable pointing nowhere is reported with its variable and path."""
    with pytest.raises(SettingsError) as exc:
        AppSettings.from_environ(dict(app_env, TASK_RESULTS_DIR=str(tmp_path / "nope")))
    assert str(exc.value.problems[0]) == (
        f"TASK_RESULTS_DIR: folder {str(tmp_path / 'nope')!r} does not exist"
    )


def test_file_instead_of_folder_is_named(app_env: dict[str, str], tmp_path: Path) -> None:
    """A folder variable pointing at a file is reported as not a folder."""
    (tmp_path / "f").write_text("x")
    with pytest.raises(SettingsError) as exc:
        AppSettings.from_environ(dict(app_env, SHARED_CACHE_DIR=str(tmp_path / "f")))
    assert str(exc.value.problems[0]) == (
        f"SHARED_CACHE_DIR: {str(tmp_path / 'f')!r} is not a folder"
    )


@pytest.mark.parametrize(
    ("model", "variable"),
    [
        (AppSettings, "TASK_DIR"),
        (AppSettings, "TASK_RESULTS_DIR"),
        (PartitionerSettings, "SOURCE_DIR"),
        (PartitionerSettings, "CHUNKS_DIR"),
        (AssemblerSettings, "TASK_RESULTS_DIR"),
        (AssemblerSettings, "OUTPUT_DIR"),
    ],
)
def test_empty_required_folder_is_an_error_not_the_working_folder(
    model: type[AppSettings | PartitionerSettings | AssemblerSettings],
    variable: str,
    app_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A required folder variable set but empty is reported by name, never read as '.'."""
    (tmp_path / "task" / "data.bin").write_bytes(b"chunk")
    monkeypatch.chdir(tmp_path / "task")  # '.' would pass every folder check here
    env = app_env | partitioner_environment(tmp_path, tmp_path / "results", {}, None)
    env |= assembler_environment(tmp_path, tmp_path / "results", {}, None)
    with pytest.raises(SettingsError) as exc:
        model.from_environ(dict(env, **{variable: ""}))
    assert [str(p) for p in exc.value.problems] == [f"{variable}: is empty, expected a folder path"]


@pytest.mark.parametrize("variable", ["USER_CACHE_DIR", "SHARED_CACHE_DIR"])
def test_empty_optional_cache_folder_means_unset(app_env: dict[str, str], variable: str) -> None:
    """An optional cache variable set but empty means the same as an absent one, not '.'."""
    settings = AppSettings.from_environ(dict(app_env, **{variable: ""}))
    assert getattr(settings, variable.lower()) is None


def test_task_dir_without_chunk_is_reported(app_env: dict[str, str]) -> None:
    """The settings name TASK_DIR when the folder holds no data.bin."""
    (Path(app_env["TASK_DIR"]) / "data.bin").unlink()
    with pytest.raises(SettingsError, match=r"TASK_DIR: folder .* holds no data\.bin"):
        AppSettings.from_environ(app_env)


def test_task_dir_without_chunk_joins_the_other_problems(
    app_env: dict[str, str], tmp_path: Path
) -> None:
    """A TASK_DIR without data.bin is reported in the same error as the other bad variables."""
    (tmp_path / "task" / "data.bin").unlink()
    env = dict(app_env, CHUNK_NUMBER="x")
    with pytest.raises(SettingsError) as exc:
        AppSettings.from_environ(env)
    assert sorted(p.variable for p in exc.value.problems) == ["CHUNK_NUMBER", "TASK_DIR"]
    assert f"TASK_DIR: folder {str(tmp_path / 'task')!r} holds no data.bin" in str(exc.value)


_UNPRIVILEGED = textwrap.dedent(
    """
    import os, sys
    from bytenite_runtime import AppSettings, PartitionerSettings, SettingsError
    env = dict(TASK_DIR=sys.argv[1], TASK_RESULTS_DIR=sys.argv[1], APP_PARAMS="{}")
    AppSettings.from_environ(env)  # load everything lazily imported while still root
    os.setuid(65534)
    cases = [
        (AppSettings, dict(env, TASK_RESULTS_DIR=sys.argv[2])),
        (AppSettings, dict(env, USER_CACHE_DIR=sys.argv[2])),
        (PartitionerSettings, dict(SOURCE_DIR=sys.argv[1], CHUNKS_DIR=sys.argv[2],
                                   PARTITIONER_PARAMS="{}")),
        (AppSettings, dict(env, TASK_DIR=sys.argv[3])),
    ]
    for model, case in cases:
        try:
            model.from_environ(case)
            print("accepted")
        except SettingsError as exc:
            print(exc)
    """
)


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX permissions")
def test_unwritable_and_unreachable_folders_are_reported() -> None:
    """A read-only output folder, or one behind an unsearchable parent, is a SettingsError."""
    if os.geteuid() == 0:
        # os.access answers for the real uid, and root may write anywhere: run the check
        # in a child that has dropped to 'nobody' (after importing, as root owns the venv).
        root = Path(tempfile.mkdtemp())
        try:
            root.chmod(0o755)
            readable, readonly, private = root / "in", root / "ro", root / "private"
            readable.mkdir(mode=0o755)
            readonly.mkdir()
            readonly.chmod(0o555)
            private.mkdir(mode=0o700)
            (private / "inner").mkdir()
            (readable / "data.bin").write_bytes(b"x")
            readable.chmod(0o777)
            proc = subprocess.run(
                [sys.executable, "-c", _UNPRIVILEGED, str(readable), str(readonly),
                 str(private / "inner")],
                capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip
        finally:
            shutil.rmtree(root, ignore_errors=True)
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        assert lines[0].endswith(f"TASK_RESULTS_DIR: folder {str(readonly)!r} is not writable")
        assert lines[1].endswith(f"USER_CACHE_DIR: folder {str(readonly)!r} is not writable")
        assert lines[2].endswith(f"CHUNKS_DIR: folder {str(readonly)!r} is not writable")
        assert "TASK_DIR: folder" in lines[3] and "cannot be reached" in lines[3]
    else:
        with tempfile.TemporaryDirectory() as tmp:
            readonly = Path(tmp, "ro")
            readonly.mkdir()
            readonly.chmod(0o555)
            env = {"SOURCE_DIR": tmp, "CHUNKS_DIR": str(readonly), "PARTITIONER_PARAMS": "{}"}
            with pytest.raises(SettingsError, match=r"CHUNKS_DIR: folder .* is not writable"):
                PartitionerSettings.from_environ(env)
            readonly.chmod(0o755)


def test_settings_are_frozen(app_env: dict[str, str]) -> None:
    """A settings object cannot be changed after it was read."""
    settings = AppSettings.from_environ(app_env)
    with pytest.raises(ValueError, match="frozen"):
        settings.chunk_number = 4


def test_importing_reads_no_settings() -> None:
    """Importing the package with a garbage environment succeeds: nothing is read at import."""
    garbage = {
        "TASK_DIR": "/does/not/exist",
        "APP_PARAMS": "{{{",
        "CHUNK_NUMBER": "-5",
        "PARTITIONER_PARAMS": "[]",
        "ASSEMBLER_PARAMS": "",
        "SECRETS": "not json",
    }
    code = (
        "import bytenite_runtime, bytenite_runtime.task, bytenite_runtime.registry, "
        "bytenite_runtime.testing; "
        "from bytenite_runtime.partitioners import files; "
        "from bytenite_runtime.assemblers import concat; print('ok')"
    )
    env = {k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ} | garbage
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


# -- secrets -----------------------------------------------------------------------------


def test_storage_secret_is_read_from_its_pair() -> None:
    """A storage secret arrives as {ID}_ACCESS_KEY and {ID}_SECRET_KEY."""
    env = secret_environment({"AWS": ("AKIA" + SECRET, SECRET)})
    assert env == {"AWS_ACCESS_KEY": "AKIA" + SECRET, "AWS_SECRET_KEY": SECRET}
    secrets, problems = load_secrets(["AWS"], env)
    assert problems == []
    secret = secrets["AWS"]
    assert secret.kind == "storage"
    assert secret.access_key is not None and secret.secret_key is not None
    assert secret.access_key.get_secret_value() == "AKIA" + SECRET
    assert secret.secret_key.get_secret_value() == SECRET
    assert secret.value is None
    assert sorted(secret.revealed()) == sorted(["AKIA" + SECRET, SECRET])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("t0k3n", "t0k3n"),
        ({"access_key": "AKIA", "secret_key": "k/1"}, ("AKIA", "k/1")),
        ({"access_key": "AKIA"}, None),
        ({"access_key": "AKIA", "secret_key": 1}, None),
        (["AKIA", "k/1"], None),
        (None, None),
    ],
)
def test_secret_value_reads_the_secrets_file_shapes(value: object, expected: object) -> None:
    """A secrets file's value is a str, or a storage secret's {access_key, secret_key} as
    its pair; any other shape is None, for the caller to name."""
    assert secret_value(value) == expected


def test_other_secret_is_read_from_its_id() -> None:
    """A secret of type ``other`` arrives as the variable named by its id."""
    secrets, problems = load_secrets(["TOKEN"], secret_environment({"TOKEN": SECRET}))
    assert problems == []
    assert secrets["TOKEN"].kind == "other"
    assert secrets["TOKEN"].value is not None
    assert secrets["TOKEN"].value.get_secret_value() == SECRET
    assert secrets["TOKEN"].revealed() == [SECRET]


def test_undeclared_secrets_are_not_read() -> None:
    """Only the declared ids are loaded, in declaration order, whatever else is set."""
    env = secret_environment({"A": "1", "B": "2", "C": ("x", "y")})
    secrets, problems = load_secrets(["C", "A"], env)
    assert problems == []
    assert list(secrets) == ["C", "A"]


def test_missing_secret_names_every_variable_it_could_be() -> None:
    """A declared secret with no variable set names {ID} and the pair it could have been, and
    where the platform takes it from (the manifest, which code cannot show), in a reason
    without the ';' that separates the problems of one error."""
    secrets, problems = load_secrets(["GCP"], {})
    assert secrets == {}
    assert [str(p) for p in problems] == [
        "GCP: is not set, nor GCP_ACCESS_KEY/GCP_SECRET_KEY (secret GCP, which the platform "
        "sets only when manifest.json's platform_config.secrets lists it)"
    ]


@pytest.mark.parametrize(
    ("present", "missing"),
    [("S3_ACCESS_KEY", "S3_SECRET_KEY"), ("S3_SECRET_KEY", "S3_ACCESS_KEY")],
)
def test_half_a_storage_pair_names_the_missing_half(present: str, missing: str) -> None:
    """With only one of the pair set, the error names the other one, not the value."""
    secrets, problems = load_secrets(["S3"], {present: SECRET})
    assert secrets == {}
    assert [(p.variable, p.reason) for p in problems] == [(missing, "is not set (secret S3)")]
    assert SECRET not in str(SettingsError(problems))


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "is empty"),
        (" " + SECRET, "has leading or trailing whitespace (value hidden)"),
        (SECRET + "\n", "has leading or trailing whitespace (value hidden)"),
        (SECRET + "\x01tail", "contains control characters (value hidden)"),
        ("mid\x7fdle" + SECRET, "contains control characters (value hidden)"),
        (SECRET + "\udcff", "is not valid UTF-8 (value hidden)"),
    ],
)
def test_bad_secret_values_are_reported_without_the_value(value: str, reason: str) -> None:
    """Empty, padded, control-character or non-UTF-8 secrets are errors that never quote it."""
    for env, variable in (
        (secret_environment({"TOKEN": value}), "TOKEN"),
        (secret_environment({"AWS": ("fine-access", value)}), "AWS_SECRET_KEY"),
    ):
        secret_id = variable.removesuffix("_SECRET_KEY")
        secrets, problems = load_secrets([secret_id], env)
        assert secrets == {}
        assert [(p.variable, p.reason) for p in problems] == [(variable, reason)]
        error = SettingsError(problems)
        for text in (str(error), repr(error), repr(problems)):
            assert SECRET not in text
            if value:
                assert value not in text


@pytest.mark.parametrize("secret_id", ["1ABC", "a-b", "has space", "", "x" * 129])
def test_invalid_secret_id_is_reported(secret_id: str) -> None:
    """A secret id that cannot be a variable name is reported under 'secrets'."""
    secrets, problems = load_secrets([secret_id], {secret_id: SECRET})
    assert secrets == {}
    assert [(p.variable, p.field) for p in problems] == [("secrets", secret_id)]
    assert SECRET not in str(SettingsError(problems))


def test_secret_values_never_appear_in_repr_or_str() -> None:
    """Secret, its fields and a settings dump show masks, never the value."""
    env = secret_environment({"AWS": ("ACCESS" + SECRET, SECRET), "TOKEN": SECRET})
    secrets, _ = load_secrets(["AWS", "TOKEN"], env)
    for secret in secrets.values():
        for text in (str(secret), repr(secret), secret.model_dump_json(), str(secret.model_dump())):
            assert SECRET not in text
    assert isinstance(secrets["TOKEN"], Secret)


def test_settings_objects_never_hold_secret_variables(app_env: dict[str, str]) -> None:
    """Secrets in the environment are not read into (or shown by) the component settings."""
    env = app_env | secret_environment({"TOKEN": SECRET, "AWS": (SECRET, SECRET)})
    settings = AppSettings.from_environ(env)
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings.model_dump())


def test_settings_error_beside_a_secret_does_not_leak_it(app_env: dict[str, str]) -> None:
    """A settings error raised while a secret is set never carries the secret's value."""
    env = dict(app_env, CHUNK_NUMBER="x") | secret_environment({"TOKEN": SECRET})
    with pytest.raises(SettingsError) as exc:
        AppSettings.from_environ(env)
    assert SECRET not in str(exc.value)
    assert SECRET not in repr(exc.value)


def test_readme_settings_example_is_what_the_readme_app_gets(app_env: dict[str, str]) -> None:
    """The README's three-problem example is the exact line its own app (``case`` a
    Literal) prints for a bad CHUNK_NUMBER, a padded secret and ``{"case": 3}``."""
    from typing import Literal

    from pydantic import BaseModel

    from bytenite_runtime import task

    class Params(BaseModel):
        case: Literal["upper", "lower", "title"] = "upper"

    @task.app(params=Params, secrets=["MYS"], schema=None)
    def main(ctx: task.AppContext[Params]) -> None:
        raise AssertionError("never runs")

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    quoted = next(
        line for line in readme.splitlines() if line.startswith("error: invalid settings (3")
    )
    env = dict(app_env, CHUNK_NUMBER="x", MYS=" v ", APP_PARAMS='{"case": 3}')
    with pytest.raises(SettingsError) as exc:
        main.invoke(env)
    assert f"error: {exc.value}" == quoted


def test_a_secret_not_declared_is_a_key_error_saying_where_to_declare_it() -> None:
    """Looking up a secret id the component did not declare (one the platform may well
    have set) is a KeyError naming the declared ids and where to declare it."""
    secrets, problems = load_secrets(["API_TOKEN"], {"API_TOKEN": "tok-value-123"})
    assert problems == []
    with pytest.raises(KeyError) as exc:
        secrets["OTHER"]
    assert exc.value.args[0] == (
        "'OTHER' is not a secret this component declares (declared: 'API_TOKEN'); list it in "
        "secrets=[...] of its task decorator and in manifest.json's platform_config.secrets"
    )
    assert secrets.get("OTHER") is None
