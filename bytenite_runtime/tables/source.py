"""What a table source file is: its format and how it is sized (compression: _compression)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import ConfigError, DataError
from ._compression import GZIP, ZSTD, inner_name

__all__ = [
    "DELIMITERS",
    "Format",
    "Sizing",
    "check_magic",
    "check_no_delimiter_hint",
    "check_not_binary",
    "check_not_feather_v1",
    "detect_format",
    "format_of_name",
    "has_slot",
    "plan_sizing",
    "read_head",
]

Format = Literal["csv", "tsv", "jsonl", "parquet", "arrow", "npy"]

_EXTENSIONS: dict[str, Format] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".arrow": "arrow",
    ".arrows": "arrow",
    ".feather": "arrow",
    ".ipc": "arrow",
    ".npy": "npy",
}
_MAGIC: tuple[tuple[bytes, Format], ...] = (
    (b"PAR1", "parquet"),
    (b"ARROW1", "arrow"),
    (b"\x93NUMPY", "npy"),
)
_TEXT_FORMATS = ("csv", "tsv", "jsonl")
# What each binary format's file starts with: an Arrow IPC stream opens with a message's
# continuation marker (0xFFFFFFFF), one written before Arrow 0.15 with its length.
_OWN_MAGIC: dict[Format, tuple[bytes, ...]] = {
    "parquet": (b"PAR1", b"PARE"),
    "arrow": (b"ARROW1", b"\xff\xff\xff\xff", b"FEA1"),
    "npy": (b"\x93NUMPY",),
}
_OTHER_MAGIC = (
    (b"PAR1", "Parquet"),
    (b"ARROW1", "Arrow IPC"),
    (b"\xff\xff\xff\xff", "an Arrow IPC stream"),
    (b"FEA1", "Feather v1"),
    (b"\x93NUMPY", "a NumPy .npy array"),
    (b"PK\x03\x04", "a ZIP archive (an .npz?)"),
    (GZIP, "gzip data"),
    (ZSTD, "zstd data"),
)
_A_FILE = {"parquet": "a Parquet file", "arrow": "an Arrow IPC file", "npy": "a .npy file"}
_FEATHER_V1 = b"FEA1"
_HEAD = 512


def check_not_binary(path: Path, head: bytes, name: str, fmt: Format) -> None:
    """Raise ``DataError`` when a CSV/TSV/JSON Lines source at ``path`` (``name`` in
    messages), whose first bytes are ``head``, is Parquet, Arrow IPC or ``.npy``, saying
    which format to set, rather than failing on its first non-UTF-8 byte."""
    if fmt not in _TEXT_FORMATS:
        return
    for magic, real in _MAGIC:
        if not head.startswith(magic):
            continue
        if real != "npy":
            # Parquet and Arrow files also end in their magic: a CSV whose header starts
            # "PAR1,…" is not Parquet. The .npy magic's first byte is never UTF-8.
            with path.open("rb") as stream:
                stream.seek(max(0, stream.seek(0, 2) - len(magic)))
                if stream.read() != magic:
                    continue
        shown = magic.decode("latin-1").encode("unicode_escape").decode("ascii")
        kind = dict(_OTHER_MAGIC)[magic]
        raise DataError(
            f"{name}: looks like {kind} (starts with {shown}), not {fmt.upper()}; "
            f'set "format": "{real}" or rename it'
        )


def check_no_delimiter_hint(head: bytes, name: str, fmt: Format) -> None:
    """Raise ``DataError`` when a CSV/TSV source's first line is Excel's delimiter hint
    (``sep=;``): read as the header, every chunk would carry it in place of the real one,
    and a converted chunk would name its columns after it."""
    if fmt not in DELIMITERS:
        return
    line = head.removeprefix(b"\xef\xbb\xbf").split(b"\n", 1)[0].removesuffix(b"\r")
    if len(line) == 5 and line.lower().startswith(b"sep="):
        hint = line.decode("latin-1")
        raise DataError(
            f"{name}: its first line {hint!r} is Excel's delimiter hint, not a header or a "
            f"record; remove that line (and set delimiter to {hint[4:]!r})"
        )


def _looks_like(head: bytes) -> str | None:
    """What a file starting with ``head`` looks like, in words; None when unknown."""
    for magic, shown in _OTHER_MAGIC:
        if head.startswith(magic):
            return shown
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:
            return None
        text = head[: exc.start].decode("utf-8")  # a character cut by the read
    if any(c < " " and c not in "\t\r\n" for c in text):
        return None
    if text.lstrip("\ufeff \t\r\n")[:1] in ("{", "["):
        return "text (JSON Lines?)"
    return "text (TSV?)" if "\t" in text.partition("\n")[0] else "text (CSV?)"


def read_head(path: Path) -> bytes:
    """The first bytes of the file at ``path``: what :func:`detect_format`,
    :func:`check_not_binary` and :func:`check_magic` look at."""
    with path.open("rb") as stream:
        return stream.read(_HEAD)


def check_magic(head: bytes, name: str, fmt: Format) -> None:
    """Raise ``DataError`` when a Parquet, Arrow IPC or ``.npy`` file (``name`` in
    messages), whose first bytes are ``head`` (:func:`read_head`), holds another format's
    bytes, saying what they look like, rather than passing on pyarrow's or numpy's wording
    about a metadata length or a footer; or, for Arrow IPC, Feather v1."""
    if fmt not in _OWN_MAGIC:
        return
    if fmt == "arrow":
        check_not_feather_v1(head, name)
    if not head or head.startswith(_OWN_MAGIC[fmt]):
        return
    shown = _looks_like(head)
    if shown is not None:
        raise DataError(f"{name}: not {_A_FILE[fmt]}; its bytes look like {shown}")


def check_not_feather_v1(head: bytes, name: str) -> None:
    """Raise ``DataError`` when ``head`` (a file's first bytes) opens a Feather v1 file,
    which pyarrow's IPC readers misread as a stream with an absurd message length."""
    if head.startswith(_FEATHER_V1):
        raise DataError(
            f"{name}: Feather v1 is not supported; rewrite it as Feather v2 / Arrow IPC"
        )


DELIMITERS = {"csv": ",", "tsv": "\t"}
"""Each delimited table format's own field separator."""


def has_slot(fmt: str) -> bool:
    """True for the table formats whose chunks carry their metadata in the file's own
    key/value slot (Parquet, Arrow IPC); the others need ``chunk_metadata: footer``."""
    return fmt in ("parquet", "arrow")


def format_of_name(name: str) -> Format | None:
    """The table format a file name's own extension says (``.csv.gz`` says nothing)."""
    return _EXTENSIONS.get(Path(name).suffix.lower())


def detect_format(path: Path, head: bytes, declared: Format | None) -> Format:
    """The table format of ``path`` (already decompressed ``head`` bytes): the declared one,
    else the file extension, else magic bytes; an unknown format is a one-line error."""
    if declared is not None:
        return declared
    inner = inner_name(path)
    found = format_of_name(inner)
    if found is not None:
        return found
    suffix = Path(inner).suffix.lower()
    for magic, fmt in _MAGIC:
        if head.startswith(magic):
            return fmt
    raise ConfigError(
        f"PARTITIONER_PARAMS.format: cannot tell the table format of {path.name!r} "
        f"(extension {suffix or 'none'!r}); set format to one of "
        f"{', '.join(sorted(set(_EXTENSIONS.values())))}"
    )


@dataclass(frozen=True)
class Sizing:
    """How one file is cut: by rows, by a byte target, or into a number of chunks.

    Exactly one field is set. A record larger than the byte target still goes whole into
    one chunk; ``chunks`` is met exactly whenever the file holds enough records.
    """

    rows: int | None = None
    target_bytes: int | None = None
    chunks: int | None = None


def plan_sizing(
    sizes: Sequence[int],
    rows_per_chunk: int | None,
    num_chunks: int | None,
    bytes_per_chunk: int | None,
) -> list[Sizing]:
    """One Sizing per source file; ``num_chunks`` is shared out in proportion to size."""
    if rows_per_chunk is not None:
        return [Sizing(rows=rows_per_chunk) for _ in sizes]
    if bytes_per_chunk is not None:
        return [Sizing(target_bytes=bytes_per_chunk) for _ in sizes]
    assert num_chunks is not None
    total = sum(sizes)
    if len(sizes) > num_chunks:
        raise ConfigError(
            f"PARTITIONER_PARAMS.num_chunks: {num_chunks} is fewer than the {len(sizes)} "
            "source files (a chunk never spans two files)"
        )
    # Largest-remainder share-out: every file gets at least one chunk, the sum is exact.
    shares = [max(1.0, num_chunks * s / total) if total else 1.0 for s in sizes]
    counts = [int(x) for x in shares]
    order = sorted(range(len(sizes)), key=lambda i: shares[i] - counts[i], reverse=True)
    i = 0
    while sum(counts) < num_chunks:
        counts[order[i % len(order)]] += 1
        i += 1
    while sum(counts) > num_chunks:
        j = max(range(len(counts)), key=lambda k: counts[k])
        counts[j] -= 1
    return [Sizing(chunks=c) for c in counts]
