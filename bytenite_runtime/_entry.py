"""The entry point object behind ``task.app``/``partitioner``/``assembler``: settings,
params, secrets, the call, staging and the exit code.

What guards the call of the component's own code (its errors, ``sys.exit()``, what its
function returned, SIGTERM) is in :mod:`._guards`.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Generic, Literal, NoReturn, TypeVar

from ._chunk_writer import ChunkWriter
from ._context import AppContext, AssemblerContext, PartitionerContext
from ._exhaustion import is_exhaustion, places, resource_error
from ._guards import END, Terminated, check_ran, chunks_from, guarded, is_main_thread, terminate
from ._inputs import Chunk, list_results, list_sources, reading_results
from ._log import Redactor, component_logger
from ._params import find_schema, ignored_keys, load_schema, validate_params
from ._staging import Output, Results
from .chunks import MetadataMode
from .errors import (
    ByteniteError,
    ComponentError,
    DataError,
    Problem,
    SettingsError,
    listed,
    one_line,
)
from .settings import (
    AppSettings,
    AssemblerSettings,
    ComponentSettings,
    PartitionerSettings,
    Secret,
    load_secrets,
    parse_json_object,
)

__all__ = ["Entrypoint", "Kind", "SchemaOption"]

P = TypeVar("P")
Kind = Literal["partitioner", "app", "assembler"]
SchemaOption = Path | str | Mapping[str, Any] | None


_SETTINGS: dict[str, type[ComponentSettings]] = {
    "partitioner": PartitionerSettings,
    "app": AppSettings,
    "assembler": AssemblerSettings,
}


class Entrypoint(Generic[P]):
    """A component function plus what it declares: params model, schema, secrets.

    Calling the object calls the function (handy in tests); ``run()`` is the process
    entry point and ``invoke()`` the same without exiting.
    """

    def __init__(
        self,
        kind: Kind,
        fn: Callable[[Any], Any],
        params: type[P] | None,
        schema: SchemaOption,
        secrets: Iterable[str],
        chunk_metadata: MetadataMode | None,
    ) -> None:
        self.kind = kind
        self.fn = fn
        self.params_model = params
        self.schema = schema
        self.secret_ids = tuple(secrets)
        self.chunk_metadata = chunk_metadata
        self.__doc__ = fn.__doc__
        self.__name__ = getattr(fn, "__name__", kind)

    def __call__(self, ctx: Any) -> Any:
        return self.fn(ctx)

    # -- settings -----------------------------------------------------------------

    def _schema(self) -> tuple[Mapping[str, Any] | None, str]:
        option = self.schema
        if option == "auto":
            found = find_schema(self.fn)
            return (load_schema(found), found.name) if found else (None, "")
        if isinstance(option, str | Path):
            path = Path(option)
            return load_schema(path), path.name
        return option, "schema"

    def _load(
        self, environ: Mapping[str, str] | None, redactor: Redactor
    ) -> tuple[Any, Any, dict[str, Secret], list[str]]:
        """Settings, params and secrets, or one SettingsError for every problem; and the
        warnings to log (params keys the model ignores)."""
        settings_cls = _SETTINGS[self.kind]
        variable = settings_cls.params_variable
        problems: list[Problem] = []
        notes: list[str] = []
        settings: Any = None
        try:
            settings = settings_cls.from_environ(environ)
        except SettingsError as exc:
            problems.extend(exc.problems)
        secrets, secret_problems = load_secrets(self.secret_ids, environ)
        for secret in secrets.values():
            redactor.extend(secret.revealed())
        problems.extend(secret_problems)

        raw: Any = settings.params if settings is not None else None
        if raw is None and not any(p.variable == variable for p in problems):
            raw = _reparse(environ, variable)
        params: Any = None
        if raw is not None:
            try:
                schema, schema_name = self._schema()
            except SettingsError as exc:  # a broken schema file joins the other problems
                problems.extend(exc.problems)
                schema, schema_name = None, ""
            model = self.params_model if isinstance(self.params_model, type) else None
            params, found = validate_params(  # type: ignore[type-var]
                variable, raw, model, schema, schema_name, redactor.redact
            )
            problems.extend(found)
            if model is not None and isinstance(raw, Mapping):
                notes = ignored_keys(variable, raw, model)  # type: ignore[arg-type]
        if problems:
            # A reason may quote a param's value, and a param may hold a secret.
            raise SettingsError(
                [Problem(p.variable, p.field, redactor.redact(p.reason)) for p in problems]
            )
        return settings, params, secrets, notes

    # -- running ------------------------------------------------------------------

    def invoke(self, environ: Mapping[str, str] | None = None) -> None:
        """Run the component once against ``environ`` (default ``os.environ``); raise on error.

        The error raised, and every error chained to it, shows a declared secret's value
        as ``***``, as ``run()``'s error line and traceback do.
        """
        redactor = Redactor()
        try:
            self._invoke(environ, redactor)
        except Exception as exc:
            redactor.mask_chain(exc)
            raise

    def _invoke(self, environ: Mapping[str, str] | None, redactor: Redactor) -> None:
        settings, params, secrets, notes = self._load(environ, redactor)
        log = component_logger(self.kind, redactor)
        for note in notes:
            log.warning("%s", note)
        try:
            if isinstance(settings, PartitionerSettings):
                self._partition(settings, params, secrets, log)
            elif isinstance(settings, AppSettings):
                self._app(settings, params, secrets, log)
            else:
                self._assemble(settings, params, secrets, log)
        except (OSError, MemoryError, DataError, ComponentError) as exc:
            # A DataError or ComponentError raised while handling the machine's failure is
            # that failure: one place tells it, not every reader that catches OSError.
            cause = exc if isinstance(exc, OSError | MemoryError) else exc.__context__
            if cause is None or not is_exhaustion(cause):
                raise
            chunk = settings.chunk_number if isinstance(settings, AppSettings) else None
            raise resource_error(cause, places(settings), chunk) from None

    def _partition(
        self,
        settings: PartitionerSettings,
        params: Any,
        secrets: dict[str, Secret],
        log: logging.Logger,
    ) -> None:
        sources, hidden = list_sources(settings.source_dir)
        if not sources:
            where = str(settings.source_dir)
            if hidden:
                raise DataError(
                    f"SOURCE_DIR: folder {where!r} holds only hidden files (such as "
                    f"{hidden[0].as_posix()!r}), which are skipped"
                )
            raise DataError(f"SOURCE_DIR: folder {where!r} holds no files")
        if hidden:
            # Silently dropping a file the user uploaded would look like lost data.
            log.warning(
                "SOURCE_DIR: skipping %d hidden file%s (a name starting with '.'): %s",
                len(hidden),
                "" if len(hidden) == 1 else "s",
                listed([repr(p.as_posix()) for p in hidden], 3),
            )
        mode = getattr(params, "chunk_metadata", None) or self.chunk_metadata or "auto"
        writer = ChunkWriter(settings.chunks_dir, mode)
        ctx = PartitionerContext(params, log, secrets, settings, sources)
        try:
            iterator = chunks_from(guarded(None, self.fn, ctx))
            while (item := guarded(writer.count, next, iterator, END, on_exit=END)) is not END:
                # What was yielded may not be a chunk, or its write callable may raise.
                guarded(writer.count, writer.add, item)
            count = writer.finish()
        except BaseException:
            writer.abort()
            raise
        log.info("wrote %d chunk%s", count, "" if count == 1 else "s")

    def _app(
        self, settings: AppSettings, params: Any, secrets: dict[str, Secret], log: logging.Logger
    ) -> None:
        with tempfile.TemporaryDirectory(prefix="bytenite-chunk-") as scratch:
            chunk = Chunk(settings.chunk_path, settings.chunk_number, Path(scratch))
            if chunk.meta is not None and settings.chunk_number not in (None, chunk.meta.index):
                log.warning(
                    "CHUNK_NUMBER=%s but the chunk's metadata says index %d; using the metadata",
                    settings.chunk_number,
                    chunk.meta.index,
                )
            if chunk.index is None:
                log.warning(
                    "chunk index unknown (no CHUNK_NUMBER, no chunk metadata): "
                    "results are unordered"
                )
            results = Results(settings.task_results_dir, chunk.index)
            try:
                ctx = AppContext(params, log, secrets, settings, chunk, results)
                check_ran(self.kind, guarded(chunk.index, self.fn, ctx))
                results.commit()
            except BaseException:
                results.discard()
                raise

    def _assemble(
        self,
        settings: AssemblerSettings,
        params: Any,
        secrets: dict[str, Secret],
        log: logging.Logger,
    ) -> None:
        results = list_results(settings.task_results_dir)
        output = Output(settings.output_dir)
        try:
            ctx = AssemblerContext(params, log, secrets, settings, results, output)
            check_ran(self.kind, guarded(None, reading_results(results, self.fn), ctx))
            output.commit()
        except BaseException:
            output.discard()
            raise

    def run(self, environ: Mapping[str, str] | None = None) -> NoReturn:
        """Process entry point: run, print one ``error:`` line on failure, and exit."""
        sys.exit(self.main(environ))

    def main(self, environ: Mapping[str, str] | None = None) -> int:
        """Run and return the exit code instead of exiting."""
        redactor = Redactor()
        previous = signal.signal(signal.SIGTERM, terminate) if is_main_thread() else None
        try:
            self._invoke(environ, redactor)
            return 0
        except ByteniteError as exc:
            if isinstance(exc, ComponentError) and exc.__cause__ is not None:
                trace = "".join(traceback.format_exception(exc.__cause__))
                sys.stderr.write(redactor.redact(trace))
            print(f"error: {redactor.redact(str(exc))}", file=sys.stderr)
            return exc.exit_code
        except KeyboardInterrupt as exc:
            # As simulate reports a stop: the signal named, exit 128 + its number.
            signum = exc.signum if isinstance(exc, Terminated) else signal.SIGINT
            name = signal.Signals(signum).name
            print(f"error: {self.kind} interrupted ({name})", file=sys.stderr)
            return 128 + int(signum)
        except Exception as exc:
            # An OS failure or a bug in this library: still one error line, never exit 0.
            sys.stderr.write(redactor.redact("".join(traceback.format_exception(exc))))
            message = one_line(f"{type(exc).__name__}: {exc}")
            print(f"error: {self.kind} failed: {redactor.redact(message)}", file=sys.stderr)
            return ByteniteError.exit_code
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)


def _reparse(environ: Mapping[str, str] | None, variable: str) -> Any:
    # Settings failed on other variables; the params may still be checked on their own.
    raw = (os.environ if environ is None else environ).get(variable)
    if raw is None:
        return None
    try:
        return parse_json_object(raw)
    except ValueError:
        return None
