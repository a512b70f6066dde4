"""The ``zipper`` assembler: every result in one ZIP, stored or deflated per file.

Deflating media that is already compressed (JPEG, PNG, MP4, ZIP…) burns CPU for a
fraction of a percent; the platform's published zipper deflates everything at level 6.
Here such files are stored (a CRC pass and a copy) and everything else is deflated, so
an archive of generated images is written near the speed of copying its bytes.
"""

from __future__ import annotations

import os
import time
import zipfile
import zlib
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from .._names import FileName
from ..components import Assembler
from ..errors import DataError
from ..task import AssemblerContext
from .files import output_names

__all__ = ["Zipper", "is_incompressible"]

# Copy through one reused buffer small enough to stay in L2 cache between the CRC pass
# and the write: measured on 1 GiB of media, fresh 4 MiB blocks per read (page faults on
# every block) ran at half the speed of ``tar cf``; this buffer runs level with it.
_BLOCK = 256 << 10
_SAMPLE = 64 << 10
_EARLIEST = (1980, 1, 1, 0, 0, 0)
_LATEST = (2107, 12, 31, 23, 59, 58)
_LATEST_SECONDS = 4_386_355_200  # 2108-12-31 UTC: past _LATEST in every time zone
# Extensions whose content is compressed already (media, archives, columnar files).
_COMPRESSED_EXTENSIONS = frozenset(
    (
        "jpg jpeg png gif webp avif heic heif jxl jp2 mp4 m4v mov mkv webm avi mpg mpeg ts flv "
        "mp3 aac m4a ogg oga opus flac wma zip gz tgz bz2 xz zst lz4 7z rar jar whl apk docx "
        "xlsx pptx odt epub parquet orc npz woff woff2 br"
    ).split()
)
_COMPRESSED_MAGIC = (
    b"\xff\xd8\xff",  # JPEG
    b"\x89PNG",
    b"GIF8",
    b"PK\x03\x04",  # ZIP and its children
    b"\x1f\x8b",  # gzip
    b"\x28\xb5\x2f\xfd",  # zstd
    b"BZh",
    b"\xfd7zXZ",
    b"7z\xbc\xaf",
    b"Rar!",
    b"OggS",
    b"fLaC",
    b"ID3",
    b"\x1aE\xdf\xa3",  # Matroska / WebM
    b"PAR1",
)


def is_incompressible(path: Path, size: int) -> bool:
    """True for files deflate cannot shrink: known compressed formats, or a sample that
    deflate level 1 shrinks by less than 3%."""
    if path.suffix.lower().lstrip(".") in _COMPRESSED_EXTENSIONS:
        return True
    with path.open("rb") as stream:
        head = stream.read(_SAMPLE)
        if head.startswith(_COMPRESSED_MAGIC) or head[4:8] in {b"ftyp", b"moov"}:
            return True
        if size > 4 * _SAMPLE:
            stream.seek(size // 2)
            head += stream.read(_SAMPLE)
    if len(head) < 512:
        return False
    return len(zlib.compress(head, 1)) > 0.97 * len(head)


class Zipper(Assembler):
    """Every result file into one ZIP (zip64 when large), entries in chunk order."""

    name: ClassVar[str] = "zipper"
    summary: ClassVar[str] = "All results in one ZIP; compressed media stored, the rest deflated."
    archive_name: FileName = Field("results_archive.zip", description="File name of the archive.")
    compression: Literal["auto", "deflate", "store"] = Field(
        "auto",
        description="'auto' stores files that do not compress (media, archives) and deflates "
        "the rest; 'deflate' or 'store' apply to every file.",
    )
    level: int = Field(6, ge=1, le=9, description="Deflate level for deflated entries.")
    restore_names: bool = Field(
        True,
        description="Name entries by the results' original names (without the "
        "'chunk-NNNNNN.' marker) when they are all distinct.",
    )

    def assemble(self, ctx: AssemblerContext[Any]) -> None:
        target = ctx.output.path(self.archive_name)
        names = output_names(ctx.results, self.restore_names)
        stored = deflated = 0
        buffer = memoryview(bytearray(_BLOCK))
        with zipfile.ZipFile(target, "w", allowZip64=True) as archive:
            for result, name in zip(ctx.results, names, strict=True):
                try:
                    stat = result.path.stat()
                    store = self.compression == "store" or (
                        self.compression == "auto" and is_incompressible(result.path, stat.st_size)
                    )
                    self._add(archive, result.path, name, stat, store, buffer)
                except OSError as exc:
                    where = f"chunk {result.index}: " if result.index is not None else ""
                    raise DataError(f"{where}result {result.name!r}: {exc.strerror}") from None
                stored += store
                deflated += not store
        ctx.log.info("zipped %d file(s): %d stored, %d deflated", len(names), stored, deflated)

    def _add(
        self,
        archive: zipfile.ZipFile,
        path: Path,
        name: str,
        stat: os.stat_result,
        store: bool,
        buffer: memoryview,
    ) -> None:
        # A zip date holds local times in the years 1980-2107: one outside them (a result
        # touched to 2200, or 1970 seen west of UTC) is clamped, not a struct error.
        local = time.localtime(min(max(stat.st_mtime, 0), _LATEST_SECONDS))[:6]
        info = zipfile.ZipInfo(name, date_time=min(max(local, _EARLIEST), _LATEST))
        info.external_attr = (stat.st_mode & 0xFFFF) << 16
        info.file_size = stat.st_size
        if store:
            info.compress_type = zipfile.ZIP_STORED
        else:
            info.compress_type = zipfile.ZIP_DEFLATED
            # Python 3.13 made the level public; 3.11 and 3.12 read the private name.
            setattr(
                info,
                "compress_level" if hasattr(info, "compress_level") else "_compresslevel",
                self.level,
            )
        with path.open("rb", buffering=0) as src, archive.open(info, "w") as dst:
            while size := src.readinto(buffer):
                dst.write(buffer[:size])
