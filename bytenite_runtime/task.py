"""The entry API: one decorator per component kind turns a function into an entry point.

::

    from pydantic import BaseModel
    from bytenite_runtime import task

    class Params(BaseModel):
        case: str = "upper"

    @task.app(params=Params)
    def main(ctx: task.AppContext[Params]) -> None:
        text = ctx.chunk.read_text()
        ctx.results.write_text("out.txt", text.upper())

    if __name__ == "__main__":
        main.run()

``run()`` builds the settings from the environment (never at import), validates params
and secrets, calls the function, commits its chunks/results/output, and exits: 0 on
success, otherwise the error's exit code after one ``error: …`` line on stderr.
``invoke()`` does the same but raises instead of exiting (for tests).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal, NoReturn, TypeVar, overload

from pydantic import BaseModel

from ._chunk_writer import NewChunk
from ._context import AppContext, AssemblerContext, PartitionerContext
from ._entry import Entrypoint, Kind, SchemaOption
from ._inputs import Chunk, Result
from .chunks import MetadataMode
from .errors import ByteniteError, ConfigError, with_article

__all__ = [
    "AppContext",
    "AssemblerContext",
    "Chunk",
    "Entrypoint",
    "NewChunk",
    "PartitionerContext",
    "Result",
    "app",
    "assembler",
    "partitioner",
    "serve",
]

P = TypeVar("P")


def _decorator(
    kind: Kind,
    fn: Callable[[Any], Any] | None,
    params: type[Any] | None,
    schema: SchemaOption,
    secrets: Iterable[str],
    chunk_metadata: MetadataMode | None = None,
) -> Any:
    if params is not None and not (isinstance(params, type) and issubclass(params, BaseModel)):
        # Caught here, where it is written: at run time it would be an AttributeError from
        # inside the library, or (a model instance) params left unvalidated.
        raise TypeError(
            f"params must be a pydantic BaseModel subclass (got {params!r}); for a plain dict "
            "of params leave params out"
        )

    def wrap(f: Callable[[Any], Any]) -> Entrypoint[Any]:
        if isinstance(f, Entrypoint):
            # The outer one would look for schema.json beside an object, not a function,
            # find none, and skip that validation.
            raise TypeError(
                f"{f.__name__!r} is already {with_article(f.kind)} entry point; decorate the "
                "function once"
            )
        return Entrypoint(kind, f, params, schema, secrets, chunk_metadata)

    return wrap(fn) if fn is not None else wrap


@overload
def app(fn: Callable[[AppContext[Any]], Any], /) -> Entrypoint[Any]: ...
@overload
def app(
    *, params: type[P] | None = None, schema: SchemaOption = "auto", secrets: Iterable[str] = ()
) -> Callable[[Callable[[AppContext[P]], Any]], Entrypoint[P]]: ...
def app(
    fn: Callable[[Any], Any] | None = None,
    *,
    params: type[Any] | None = None,
    schema: SchemaOption = "auto",
    secrets: Iterable[str] = (),
) -> Any:
    """Declare an app: ``fn(ctx: AppContext[P])`` processes one chunk and writes results.

    ``params`` is a pydantic model for ``APP_PARAMS``; ``schema`` a JSON Schema (path,
    mapping, ``"auto"`` to use a ``schema.json`` beside the script or its folder, or
    None); ``secrets`` the secret ids the manifest declares.
    """
    return _decorator("app", fn, params, schema, secrets)


@overload
def partitioner(fn: Callable[[PartitionerContext[Any]], Any], /) -> Entrypoint[Any]: ...
@overload
def partitioner(
    *,
    params: type[P] | None = None,
    schema: SchemaOption = "auto",
    secrets: Iterable[str] = (),
    chunk_metadata: MetadataMode = "auto",
) -> Callable[[Callable[[PartitionerContext[P]], Any]], Entrypoint[P]]: ...
def partitioner(
    fn: Callable[[Any], Any] | None = None,
    *,
    params: type[Any] | None = None,
    schema: SchemaOption = "auto",
    secrets: Iterable[str] = (),
    chunk_metadata: MetadataMode = "auto",
) -> Any:
    """Declare a partitioner: ``fn(ctx: PartitionerContext[P])`` yields chunks.

    Each yielded item (bytes, str, a path, or :class:`NewChunk`) becomes
    ``data_{i}.bin`` in yield order; ``chunk_metadata`` says how metadata travels
    (see :mod:`bytenite_runtime.chunks`).
    """
    return _decorator("partitioner", fn, params, schema, secrets, chunk_metadata)


@overload
def assembler(fn: Callable[[AssemblerContext[Any]], Any], /) -> Entrypoint[Any]: ...
@overload
def assembler(
    *, params: type[P] | None = None, schema: SchemaOption = "auto", secrets: Iterable[str] = ()
) -> Callable[[Callable[[AssemblerContext[P]], Any]], Entrypoint[P]]: ...
def assembler(
    fn: Callable[[Any], Any] | None = None,
    *,
    params: type[Any] | None = None,
    schema: SchemaOption = "auto",
    secrets: Iterable[str] = (),
) -> Any:
    """Declare an assembler: ``fn(ctx: AssemblerContext[P])`` merges results into the output."""
    return _decorator("assembler", fn, params, schema, secrets)


def entrypoint_for(kind: Literal["partitioner", "assembler"], name: str) -> Entrypoint[Any]:
    """The entry point of a built-in component, by registry name."""
    from . import registry

    component = registry.get(kind, name)

    def partition(ctx: PartitionerContext[Any]) -> Iterator[Any]:
        with _extra_needed(kind, name):  # a generator imports as it goes
            yield from ctx.params.partition(ctx)

    def assemble(ctx: AssemblerContext[Any]) -> None:
        with _extra_needed(kind, name):
            ctx.params.assemble(ctx)

    run = partition if kind == "partitioner" else assemble
    return Entrypoint(kind, run, component, None, (), None)


# The extra that installs each library the built-ins import when they run (numpy: the
# image components' extra for those, else the tables').
_EXTRAS = {
    "pyarrow": "tables",
    "zstandard": "tables",
    "PIL": "images",
    "av": "media",
    "imageio_ffmpeg": "media",
    "jsonschema": "schema",
}


@contextlib.contextmanager
def _extra_needed(kind: str, name: str) -> Iterator[None]:
    """A library a built-in needs, missing, as a ConfigError naming the extra to install,
    not a ModuleNotFoundError traceback blamed on the component's code (exit 4)."""
    try:
        yield
    except ModuleNotFoundError as exc:
        module = (exc.name or "").partition(".")[0]
        images = "images" if name in {"tile", "mosaic"} else "tables"
        extra = _EXTRAS.get(module, images if module == "numpy" else None)
        if extra is None:
            raise
        raise ConfigError(
            f"the {name} {kind} needs {module}, which is not installed: "
            f"pip install 'bytenite-runtime[{extra}]'"
        ) from None


def serve(name: str, kind: Literal["partitioner", "assembler"] | None = None) -> NoReturn:
    """Run a built-in partitioner or assembler as this process (an engine's whole main.py)."""
    from . import registry

    try:
        resolved = kind or registry.kind_of(name)
        entry = entrypoint_for(resolved, name)
    except ByteniteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    _exit_now(entry.main())


def _exit_now(code: int) -> NoReturn:
    """Exit without tearing the interpreter down. A built-in runs no user code, and by now
    its files are closed and renamed into place; unloading numpy, pyarrow and pydantic
    would only add ~30 ms to every run (a tenth of a 1 GiB CSV split)."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
