"""The ``concat`` assembler: results joined in chunk order, one output per result name.

Results are grouped by their original name (``part.chunk-000003.txt`` belongs to
``part.txt``), so an app writing ``part.txt`` per task yields one ``part.txt`` whose
bytes are every task's bytes in chunk order. Tables are joined as tables
(:mod:`bytenite_runtime.tables.join`): one CSV header, one Parquet schema, one ``.npy``
header; and where results carry chunk metadata, their row counts are checked against it.
Video and audio are joined as media (:mod:`bytenite_runtime.media.join`): stream copy in
chunk order, frame and sample counts checked against the chunk metadata.
"""

from __future__ import annotations

import logging
import unicodedata
from collections import defaultdict
from collections.abc import Collection, Sequence
from typing import Any, ClassVar, Literal

from pydantic import Field

from .._copy import append_file
from .._inputs import Result
from .._names import FileName
from ..chunks import ChunkMeta, read_slot
from ..components import Assembler
from ..errors import DataError, listed
from ..media import is_media_name
from ..tables.join import label
from ..tables.source import Format, format_of_name
from ..task import AssemblerContext

__all__ = ["Concat", "check_rows", "group_results"]


def group_results(results: list[Result] | tuple[Result, ...]) -> dict[str, list[Result]]:
    """Results grouped by original name, each group in chunk order; unordered results in
    a group of several are an error naming them."""
    groups: dict[str, list[Result]] = defaultdict(list)
    for result in results:
        groups[result.original].append(result)
    for name, members in groups.items():
        if len(members) < 2:
            continue
        unordered = [m.name for m in members if m.index is None]
        if unordered:
            raise DataError(
                f"result {unordered[0]!r}: no chunk index in its name, so {name!r} cannot be "
                "put in order (write results through the library, and give the task its "
                "index via CHUNK_NUMBER or chunk metadata)"
            )
        seen: dict[int, str] = {}
        for m in members:
            assert m.index is not None
            if m.index in seen:
                raise DataError(
                    f"chunk {m.index}: two results for {name!r}: {seen[m.index]!r}, {m.name!r}"
                )
            seen[m.index] = m.name
    return dict(groups)


def _row_range(meta: ChunkMeta | None) -> tuple[str | None, int, int] | None:
    """``(source, start, stop)`` from a result's chunk metadata, when it carries a range."""
    if meta is None:
        return None
    rows = meta.fields.get("rows")
    if not isinstance(rows, list | tuple) or len(rows) != 2:
        return None
    start, stop = rows
    if not (isinstance(start, int) and isinstance(stop, int)):
        return None
    return meta.source, start, stop


def check_rows(
    results: Sequence[Result],
    counts: Sequence[int | None],
    *,
    verify: bool,
    log: logging.Logger,
    elsewhere: Collection[int] = (),
) -> None:
    """Each result's row count against the row range in its chunk metadata (an error), and
    consecutive ranges of one source against each other, and the last result's index
    against the chunk count (warnings: a gap, an overlap or a missing last chunk means a
    chunk is missing or repeated, but the app may have meant it)."""
    previous: tuple[Result, str | None, int] | None = None
    last: tuple[Result, ChunkMeta] | None = None
    for result, count in zip(results, counts, strict=True):
        meta = read_slot(result.path)
        found = _row_range(meta)
        if meta is None or found is None:
            continue
        last = result, meta
        source, start, stop = found
        if verify and count is not None and count != stop - start:
            raise DataError(
                f"{label(result)}: {count} rows, but its chunk metadata says rows "
                f"{start}-{stop} ({stop - start} rows) of {source!r}; set verify_rows=false "
                "for apps that change the row count"
            )
        if previous is not None and previous[1] == source and previous[2] != start:
            log.warning(
                "%s: rows of %r start at %d, but %s ended at %d (a chunk missing or repeated?)",
                label(result),
                source,
                start,
                label(previous[0]),
                previous[2],
            )
        previous = (result, source, stop)
    if last is not None:
        _check_last(*last, log, elsewhere)


def _check_last(
    result: Result, meta: ChunkMeta, log: logging.Logger, elsewhere: Collection[int]
) -> None:
    """Warn when chunks after the last result's are missing: no later range shows the gap.
    ``elsewhere``: chunks whose results go under other names (another output's, not missing)."""
    if meta.count is None:
        return
    missing = [i for i in range(meta.index + 1, meta.count) if i not in elsewhere]
    if not missing:
        return
    first, stop = missing[0], missing[-1]
    if first == stop:
        which = f"chunk {first}"
    elif len(missing) == stop - first + 1:
        which = f"chunks {first}-{stop}"
    else:
        which = f"chunks {listed([str(i) for i in missing], 5)}"
    log.warning(
        "%s: the last result, but the partitioner made %d chunks: %s missing (no result, "
        "or an app that wrote none?)",
        label(result), meta.count, which,
    )  # fmt: skip


def _warn_alike(names: list[str], log: logging.Logger) -> None:
    """Warn about outputs whose names differ only in Unicode normalization (NFC, NFD) or
    case: macOS and Windows store them as one file, so one overwrites the other there."""
    alike: dict[str, list[str]] = defaultdict(list)
    for name in names:
        alike[unicodedata.normalize("NFC", name).casefold()].append(name)
    for group in alike.values():
        if len(group) > 1:
            log.warning(
                "%d outputs whose names differ only in Unicode normalization or case (%s): "
                "macOS and Windows store them as one file; have the app write one name",
                len(group), ", ".join(ascii(n) for n in group),
            )  # fmt: skip


class Concat(Assembler):
    """Results joined in chunk order, one output file per result name: as bytes, or as
    tables (CSV/TSV, JSON Lines, Parquet, Arrow IPC, ``.npy``) by extension or ``format``."""

    name: ClassVar[str] = "concat"
    summary: ClassVar[str] = (
        "Results joined in chunk order (bytes or tables), one output per result name."
    )
    format: Literal["auto", "bytes", "csv", "tsv", "jsonl", "parquet", "arrow", "npy", "media"] = (
        Field(
            "auto",
            description="How to join: 'auto' goes by the result name's extension (.csv, .tsv/.tab, "
            ".jsonl/.ndjson, .parquet/.pq, .arrow/.feather/.ipc, .npy; video and audio such as "
            ".mp4/.mkv/.webm/.wav/.m4a: media; anything else: bytes); 'bytes' appends files as "
            "they are; a table format or 'media' applies to every output.",
        )
    )
    header: bool = Field(
        True,
        description="CSV/TSV: every result starts with the same header, written once; "
        "false: no header handling, bodies joined as they are.",
    )
    quoting: bool = Field(
        True,
        description="CSV/TSV: fields may be quoted (RFC 4180), and a result ending inside a "
        "quoted field is an error; false reads quotes as plain characters.",
    )
    unify_schemas: bool = Field(
        False,
        description="Parquet/Arrow: merge differing schemas (types promoted, a missing column "
        "becomes nulls) instead of rejecting a result whose schema differs.",
    )
    verify_rows: bool = Field(
        True,
        description="Check each result's row count against the row range in its chunk "
        "metadata, when it carries some; false for apps that change the row count.",
    )
    reencode: bool = Field(
        False,
        description="Media: re-encode the join even when every result has the same codecs "
        "(it is re-encoded anyway when they differ).",
    )
    verify_frames: bool = Field(
        True,
        description="Media: check each result's frame count and duration against its chunk "
        "metadata, that no chunk is missing, and the joined file's counts and timestamps; "
        "false for apps that change the frame rate or leave chunks out.",
    )
    output_name: FileName | None = Field(
        None,
        description="Name of the output file when all results share one name (default: that name).",
    )

    def format_of(self, original: str) -> Format | Literal["bytes", "media"]:
        """How the group of results named ``original`` is joined."""
        if self.format != "auto":
            return self.format
        if is_media_name(original):
            return "media"
        # Compressed names (.csv.gz) are deliberately not tables: their bytes are joined.
        return format_of_name(original) or "bytes"

    def assemble(self, ctx: AssemblerContext[Any]) -> None:
        if not ctx.results:
            raise DataError("TASK_RESULTS_DIR: no results to concatenate")
        groups = group_results(list(ctx.results))
        if self.output_name is not None and len(groups) > 1:
            raise DataError(
                f"ASSEMBLER_PARAMS.output_name: names one output, but the results have "
                f"{len(groups)} different names ({listed(sorted(groups), 3)})"
            )
        _warn_alike(list(groups), ctx.log)
        indices = {r.index for r in ctx.results if r.index is not None}
        for original, members in groups.items():
            name = self.output_name or original
            fmt = self.format_of(original)
            target = ctx.output.path(name)
            if fmt == "bytes":
                with target.open("wb", buffering=0) as dst:
                    for member in members:
                        append_file(dst, member.path)
            elif fmt == "media":
                from ..media.join import join_media

                join_media(
                    members, target, reencode=self.reencode, verify=self.verify_frames,
                    log=ctx.log, elsewhere=indices - {m.index for m in members},
                )  # fmt: skip
            else:
                from ..tables import join

                planned = join.plan(
                    fmt, members, header=self.header, unify=self.unify_schemas, quoting=self.quoting
                )
                check_rows(
                    members, planned.rows, verify=self.verify_rows, log=ctx.log,
                    elsewhere=indices - {m.index for m in members},
                )  # fmt: skip
                planned.write(target)
            ctx.log.info("%s: joined %d result(s) as %s", name, len(members), fmt)
