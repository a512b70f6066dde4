"""Typed settings for the three components: the one module that names the contract's variables.

Each component gets one pydantic-settings model read from the environment the platform
injects (see ``CONTRACT.md``). Models are built at an entry point, never at import
time, and every bad variable is reported in a single :class:`~.errors.SettingsError`
naming the variable (and field), never a secret's value.

The simulator builds component environments with the ``*_environment`` helpers below,
so the variable names live here and nowhere else.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import orjson
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, SecretStr
from pydantic import ValidationError as _PydanticValidationError
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, SettingsConfigDict
from pydantic_settings import PydanticBaseSettingsSource as _Source

from ._names import is_utf8
from .errors import Problem, SettingsError, nearest

__all__ = [
    "CONTRACT_VARIABLES",
    "AppSettings",
    "AssemblerSettings",
    "ComponentSettings",
    "DeclaredSecrets",
    "PartitionerSettings",
    "Secret",
    "app_environment",
    "assembler_environment",
    "load_secrets",
    "parse_json_object",
    "partitioner_environment",
    "secret_environment",
    "secret_value",
    "secret_variable_names",
]

SOURCE_DIR = "SOURCE_DIR"
CHUNKS_DIR = "CHUNKS_DIR"
PARTITIONER_PARAMS = "PARTITIONER_PARAMS"
TASK_DIR = "TASK_DIR"
TASK_RESULTS_DIR = "TASK_RESULTS_DIR"
APP_PARAMS = "APP_PARAMS"
USER_CACHE_DIR = "USER_CACHE_DIR"
SHARED_CACHE_DIR = "SHARED_CACHE_DIR"
CHUNK_NUMBER = "CHUNK_NUMBER"
OUTPUT_DIR = "OUTPUT_DIR"
ASSEMBLER_PARAMS = "ASSEMBLER_PARAMS"
SECRETS = "SECRETS"

CONTRACT_VARIABLES = frozenset(
    {
        SOURCE_DIR, CHUNKS_DIR, PARTITIONER_PARAMS, TASK_DIR, TASK_RESULTS_DIR, APP_PARAMS,
        USER_CACHE_DIR, SHARED_CACHE_DIR, CHUNK_NUMBER, OUTPUT_DIR, ASSEMBLER_PARAMS, SECRETS,
    }
)  # fmt: skip

CHUNK_FILE = "data.bin"
SECRET_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
"""A secret id that can name its variables (``ID``, ``ID_ACCESS_KEY``, ``ID_SECRET_KEY``)."""


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "a string" if isinstance(value, str) else "an array"


MAX_PARAMS_DEPTH = 100
"""How deeply params may nest objects and arrays: far past any real params, and well short
of the recursion limit that showing (``repr``) or checking (a JSON Schema) a value meets."""


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) < len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return obj


def _nested_too_deep(value: object) -> bool:
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            if depth > MAX_PARAMS_DEPTH:
                return True
            children = item.values() if isinstance(item, dict) else item
            pending += [(child, depth + 1) for child in children]
    return False


def parse_json_object(raw: object) -> object:
    """A params variable's JSON object; ValueError says what is wrong with the text."""
    if not isinstance(raw, str | bytes):
        return raw
    if not raw.strip():
        raise ValueError("is empty; expected a JSON object such as '{}'")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ValueError(f"must be a JSON object, got {_json_type(value)}")
    text = raw if isinstance(raw, str) else raw.decode()
    if text.count("[") + text.count("{") > MAX_PARAMS_DEPTH and _nested_too_deep(value):
        raise ValueError(f"nests objects and arrays more than {MAX_PARAMS_DEPTH} levels deep")
    try:
        # orjson keeps the last of a key given twice without a word: a pasted-over param.
        # The depth check above keeps json's recursive parser within the recursion limit.
        json.loads(text, object_pairs_hook=_unique_keys)
    except _DuplicateKey as exc:
        key = _describe_input(exc.key)
        raise ValueError(
            f"gives the key {key} twice in one object (JSON leaves which one counts undefined)"
        ) from None
    return value


def _empty_is_unset(raw: object) -> object:
    # CHUNK_NUMBER is a draft-only variable, the caches optional: set-but-empty means the
    # same as absent.
    return None if isinstance(raw, str) and not raw.strip() else raw


def _not_empty(raw: object) -> object:
    # Path("") is ".": an empty folder variable would silently mean the working folder.
    if isinstance(raw, str) and not raw:
        raise ValueError("is empty, expected a folder path")
    return raw


def _readable_dir(path: Path) -> Path:
    try:
        exists = path.exists()
    except OSError as exc:
        # A parent this process cannot search raises instead of answering False.
        raise ValueError(f"folder {str(path)!r} cannot be reached ({exc.strerror})") from None
    if not exists:
        raise ValueError(f"folder {str(path)!r} does not exist")
    if not path.is_dir():
        raise ValueError(f"{str(path)!r} is not a folder")
    if not os.access(path, os.R_OK | os.X_OK):
        raise ValueError(f"folder {str(path)!r} is not readable")
    return path


def _writable_dir(path: Path) -> Path:
    _readable_dir(path)
    if not os.access(path, os.W_OK):
        raise ValueError(f"folder {str(path)!r} is not writable")
    return path


def _task_dir(path: Path) -> Path:
    # Checked with the other variables, so a missing chunk joins their one error.
    _readable_dir(path)
    if not (path / CHUNK_FILE).is_file():
        raise ValueError(f"folder {str(path)!r} holds no {CHUNK_FILE}")
    return path


JsonObject = Annotated[dict[str, Any], NoDecode, BeforeValidator(parse_json_object)]
ReadableDir = Annotated[Path, BeforeValidator(_not_empty), AfterValidator(_readable_dir)]
WritableDir = Annotated[Path, BeforeValidator(_not_empty), AfterValidator(_writable_dir)]
TaskDir = Annotated[Path, BeforeValidator(_not_empty), AfterValidator(_task_dir)]
OptionalReadableDir = Annotated[ReadableDir | None, BeforeValidator(_empty_is_unset)]
OptionalWritableDir = Annotated[WritableDir | None, BeforeValidator(_empty_is_unset)]

# The environment a model reads from; None means os.environ. A context variable keeps
# ``from_environ`` re-entrant without touching the process environment.
_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("bytenite_environ", default=None)


class _MappingEnvSource(EnvSettingsSource):
    """The env source, reading a given mapping instead of ``os.environ`` when one is set."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        environ = _ENVIRON.get()
        return dict(os.environ if environ is None else environ)


class ComponentSettings(BaseSettings):
    """What every component's settings share: read from the injected environment only
    (no ``.env`` file, no secrets folder), frozen, and failing with one SettingsError."""

    model_config = SettingsConfigDict(case_sensitive=True, frozen=True, extra="ignore")
    component: ClassVar[str]
    params_variable: ClassVar[str]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: _Source,
        env_settings: _Source,
        dotenv_settings: _Source,
        file_secret_settings: _Source,
    ) -> tuple[_Source, ...]:
        # Only the injected environment counts: no .env files, no secrets folders.
        return (init_settings, _MappingEnvSource(settings_cls, case_sensitive=True))

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Any:
        """Build from ``environ`` (default ``os.environ``); raise one SettingsError for all."""
        token = _ENVIRON.set(environ)
        try:
            return cls()
        except _PydanticValidationError as exc:
            raise SettingsError(problems_from_validation(exc)) from None
        finally:
            _ENVIRON.reset(token)


class PartitionerSettings(ComponentSettings):
    """What a partitioner receives: where the source files are and where chunks go."""

    component: ClassVar[str] = "partitioner"
    params_variable: ClassVar[str] = PARTITIONER_PARAMS
    source_dir: ReadableDir = Field(validation_alias=SOURCE_DIR)
    chunks_dir: WritableDir = Field(validation_alias=CHUNKS_DIR)
    params: JsonObject = Field(validation_alias=PARTITIONER_PARAMS)
    shared_cache_dir: OptionalReadableDir = Field(None, validation_alias=SHARED_CACHE_DIR)


class AppSettings(ComponentSettings):
    """What one app task receives: its chunk folder, results folder, params and caches."""

    component: ClassVar[str] = "app"
    params_variable: ClassVar[str] = APP_PARAMS
    task_dir: TaskDir = Field(validation_alias=TASK_DIR)
    task_results_dir: WritableDir = Field(validation_alias=TASK_RESULTS_DIR)
    params: JsonObject = Field(validation_alias=APP_PARAMS)
    user_cache_dir: OptionalWritableDir = Field(None, validation_alias=USER_CACHE_DIR)
    shared_cache_dir: OptionalReadableDir = Field(None, validation_alias=SHARED_CACHE_DIR)
    chunk_number: Annotated[int | None, BeforeValidator(_empty_is_unset)] = Field(
        None, ge=0, validation_alias=CHUNK_NUMBER
    )

    @property
    def chunk_path(self) -> Path:
        return self.task_dir / CHUNK_FILE


class AssemblerSettings(ComponentSettings):
    """What the assembler receives: every task's results (flat) and the output folder."""

    component: ClassVar[str] = "assembler"
    params_variable: ClassVar[str] = ASSEMBLER_PARAMS
    task_results_dir: ReadableDir = Field(validation_alias=TASK_RESULTS_DIR)
    output_dir: WritableDir = Field(validation_alias=OUTPUT_DIR)
    params: JsonObject = Field(validation_alias=ASSEMBLER_PARAMS)
    shared_cache_dir: OptionalReadableDir = Field(None, validation_alias=SHARED_CACHE_DIR)


def _describe_input(value: object, redact: Callable[[str], str] | None = None) -> str:
    # Masked before it is cut: a secret cut in two is no longer found, and its head shows.
    text = repr(value) if redact is None else redact(repr(value))
    return text if len(text) <= 60 else text[:57] + "..."


def _nearest_field(model: type[BaseModel], key: str) -> str | None:
    return nearest(key, (info.alias or name for name, info in model.model_fields.items()))


def problems_from_validation(
    exc: _PydanticValidationError,
    variable: str | None = None,
    *,
    show_input: bool = True,
    model: type[BaseModel] | None = None,
    redact: Callable[[str], str] | None = None,
) -> list[Problem]:
    """Turn pydantic errors into Problems.

    Settings errors are located at an env name (``variable=None``); errors of a params
    model pass the params ``variable`` so their location becomes the field path. Given
    the ``model``, an unknown top-level key gets the nearest known field suggested; given
    ``redact``, a quoted input is masked before it is shortened.
    """
    problems = []
    for err in exc.errors(include_url=False):
        loc = [str(part) for part in err["loc"]]
        if variable is None:
            name, field = (loc[0] if loc else "?"), ".".join(loc[1:])
        else:
            name, field = variable, ".".join(loc)
        if err["type"] == "missing":
            reason = "is not set" if not field else "field required"
        else:
            reason = err["msg"].removeprefix("Value error, ")
            near = None
            if model is not None and err["type"] == "extra_forbidden" and len(loc) == 1:
                near = _nearest_field(model, loc[0])
            if near is not None:
                reason += f", did you mean {near!r}?"
            if show_input and err["type"] not in {"value_error"} and "input" in err:
                reason += f" (got {_describe_input(err['input'], redact)})"
        problems.append(Problem(name, field, reason))
    return problems


class Secret(BaseModel):
    """One secret the app declared; values are ``SecretStr`` and never shown in a repr.

    Storage secrets (aws, gcp, storj) carry ``access_key`` and ``secret_key``; secrets of
    type ``other`` carry ``value``.
    """

    model_config = ConfigDict(frozen=True)
    id: str
    kind: Literal["storage", "other"]
    access_key: SecretStr | None = None
    secret_key: SecretStr | None = None
    value: SecretStr | None = None

    def revealed(self) -> list[str]:
        """Every raw value this secret holds (for redaction; never log the result)."""
        held = (self.access_key, self.secret_key, self.value)
        return [s.get_secret_value() for s in held if s is not None]

    def get_secret_value(self) -> str:
        """The value of a secret of type ``other``, as ``str`` (``SecretStr``'s own name
        for it); a storage secret has two keys instead: :meth:`get_keys`."""
        if self.value is None:
            raise TypeError(f"secret {self.id} is a storage secret: use get_keys()")
        return self.value.get_secret_value()

    def get_keys(self) -> tuple[str, str]:
        """The access key and secret key of a storage secret (aws, gcp, storj)."""
        if self.access_key is None or self.secret_key is None:
            raise TypeError(f"secret {self.id} holds one value: use get_secret_value()")
        return self.access_key.get_secret_value(), self.secret_key.get_secret_value()


def secret_variable_names(secret_id: str) -> tuple[str, str, str]:
    """The variables a secret id arrives as: ``{ID}_ACCESS_KEY``, ``{ID}_SECRET_KEY``, ``{ID}``."""
    return f"{secret_id}_ACCESS_KEY", f"{secret_id}_SECRET_KEY", secret_id


def _check_secret_value(name: str, value: str, problems: list[Problem]) -> SecretStr | None:
    # The reasons below never quote the value: the value is the secret.
    if not value:
        problems.append(Problem(name, "", "is empty"))
        return None
    if value != value.strip():
        problems.append(Problem(name, "", "has leading or trailing whitespace (value hidden)"))
        return None
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        problems.append(Problem(name, "", "contains control characters (value hidden)"))
        return None
    if not is_utf8(value):
        # Non-UTF-8 bytes arrive as lone surrogates, which no log line or error can encode.
        problems.append(Problem(name, "", "is not valid UTF-8 (value hidden)"))
        return None
    return SecretStr(value)


class DeclaredSecrets(dict[str, Secret]):
    """``ctx.secrets``: a component's declared secrets by id; an id it did not declare is a
    KeyError saying where to declare it, since the platform may well have set it."""

    def __missing__(self, key: str) -> Secret:
        declared = ", ".join(map(repr, self)) or "none"
        raise KeyError(
            f"{key!r} is not a secret this component declares (declared: {declared}); list "
            "it in secrets=[...] of its task decorator and in manifest.json's "
            "platform_config.secrets"
        )


def load_secrets(
    ids: Iterable[str], environ: Mapping[str, str] | None = None
) -> tuple[dict[str, Secret], list[Problem]]:
    """Read each declared secret id from the environment; return secrets and problems."""
    env = os.environ if environ is None else environ
    secrets: dict[str, Secret] = DeclaredSecrets()
    problems: list[Problem] = []
    for secret_id in ids:
        if not SECRET_ID.fullmatch(secret_id):
            problems.append(
                Problem("secrets", secret_id, "is not a valid id (letters, digits, '_')")
            )
            continue
        access_name, key_name, plain_name = secret_variable_names(secret_id)
        if access_name in env or key_name in env:
            missing = [n for n in (access_name, key_name) if n not in env]
            if missing:
                problems.append(Problem(missing[0], "", f"is not set (secret {secret_id})"))
                continue
            before = len(problems)
            access = _check_secret_value(access_name, env[access_name], problems)
            key = _check_secret_value(key_name, env[key_name], problems)
            if len(problems) == before:
                secrets[secret_id] = Secret(
                    id=secret_id, kind="storage", access_key=access, secret_key=key
                )
        elif plain_name in env:
            value = _check_secret_value(plain_name, env[plain_name], problems)
            if value is not None:
                secrets[secret_id] = Secret(id=secret_id, kind="other", value=value)
        else:
            # No ';' in a reason: it separates the problems of one error. The platform
            # injects only the ids a manifest lists, which code alone cannot show.
            reason = (
                f"is not set, nor {access_name}/{key_name} (secret {secret_id}, which the "
                "platform sets only when manifest.json's platform_config.secrets lists it)"
            )
            problems.append(Problem(plain_name, "", reason))
    return secrets, problems


def _dump(params: Mapping[str, Any] | BaseModel) -> str:
    if isinstance(params, BaseModel):
        # A params model instance (a test's) as JSON carries it, under the names validation
        # takes: an alias, where a field has one.
        return params.model_dump_json(by_alias=True)
    return orjson.dumps(dict(params)).decode()


def partitioner_environment(
    source_dir: Path,
    chunks_dir: Path,
    params: Mapping[str, Any] | BaseModel,
    shared_cache_dir: Path | None,
) -> dict[str, str]:
    """The contract variables a partitioner container receives."""
    env = {
        SOURCE_DIR: str(source_dir),
        CHUNKS_DIR: str(chunks_dir),
        PARTITIONER_PARAMS: _dump(params),
    }
    if shared_cache_dir is not None:
        env[SHARED_CACHE_DIR] = str(shared_cache_dir)
    return env


def app_environment(
    task_dir: Path,
    results_dir: Path,
    params: Mapping[str, Any] | BaseModel,
    user_cache_dir: Path,
    shared_cache_dir: Path,
    chunk_number: int | None,
) -> dict[str, str]:
    """The contract variables one app task receives (``CHUNK_NUMBER`` only when given)."""
    env = {
        TASK_DIR: str(task_dir),
        TASK_RESULTS_DIR: str(results_dir),
        APP_PARAMS: _dump(params),
        USER_CACHE_DIR: str(user_cache_dir),
        SHARED_CACHE_DIR: str(shared_cache_dir),
    }
    if chunk_number is not None:
        env[CHUNK_NUMBER] = str(chunk_number)
    return env


def assembler_environment(
    results_dir: Path,
    output_dir: Path,
    params: Mapping[str, Any] | BaseModel,
    shared_cache_dir: Path | None,
) -> dict[str, str]:
    """The contract variables the assembler container receives."""
    env = {
        TASK_RESULTS_DIR: str(results_dir),
        OUTPUT_DIR: str(output_dir),
        ASSEMBLER_PARAMS: _dump(params),
    }
    if shared_cache_dir is not None:
        env[SHARED_CACHE_DIR] = str(shared_cache_dir)
    return env


def secret_value(value: object) -> str | tuple[str, str] | None:
    """A secret as a secrets file holds it: a str, or a storage secret's
    ``{"access_key": …, "secret_key": …}`` as its pair; None for any other shape."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        access, secret = value.get("access_key"), value.get("secret_key")
        if isinstance(access, str) and isinstance(secret, str):
            return (access, secret)
    return None


def secret_environment(values: Mapping[str, str | tuple[str, str]]) -> dict[str, str]:
    """Variables for secrets: ``(access, secret)`` pairs for storage secrets, a str for others."""
    env: dict[str, str] = {}
    for secret_id, value in values.items():
        access_name, key_name, plain_name = secret_variable_names(secret_id)
        if isinstance(value, tuple):
            env[access_name], env[key_name] = value
        else:
            env[plain_name] = value
    return env


FFMPEG = "BYTENITE_FFMPEG"


def ffmpeg_override(environ: Mapping[str, str] | None = None) -> str | None:
    """The ffmpeg executable named by ``BYTENITE_FFMPEG`` (not a contract variable: an
    image's own setting), or None when unset or empty."""
    value = (os.environ if environ is None else environ).get(FFMPEG, "").strip()
    return value or None
