"""A PNG written band by band, compressed on several cores: the mosaic's output path.

Pillow encodes a PNG from a whole image in memory, where an RGB pixel takes 4 bytes, so
an 8192x8192 mosaic would hold 256 MiB before encoding, and deflate runs on one core.
This writer takes the image a band of rows at a time (only the band is in memory),
filters each row as libpng's adaptive heuristic does (the filter of the five whose
output has the smallest sum of absolute signed bytes), and deflates bands in parallel,
pigz style: each band is a raw deflate stream primed with the previous band's last
32 KiB and ended with a sync flush, so the pieces join into one zlib stream. Measured on
an 8192x1024 RGB band: filtering 0.26 s, deflate 2.3 s, against 3.4 s for Pillow's
encoder, with output 4% larger.

Modes: L, LA, RGB, RGBA (8-bit) and I;16 (16-bit grey). Palette images go through
Pillow (they are one byte a pixel already).
"""

from __future__ import annotations

import struct
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, BinaryIO

import numpy as np
from PIL import Image

__all__ = ["MODES", "PngWriter"]

# mode -> (colour type, bit depth, channels)
MODES = {"L": (0, 8, 1), "LA": (4, 8, 2), "RGB": (2, 8, 3), "RGBA": (6, 8, 4), "I;16": (0, 16, 1)}
_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_WINDOW = 32 * 1024
_ROWS_PER_FILTER = 32
_SLICE_ROWS = 128
_INCH_IN_METRES = 0.0254


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _deflate(data: bytes, zdict: bytes, level: int) -> bytes:
    compressor = (
        zlib.compressobj(level, zlib.DEFLATED, -15, zdict=zdict)
        if zdict
        else zlib.compressobj(level, zlib.DEFLATED, -15)
    )
    return compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)


def filter_rows(rows: np.ndarray[Any, Any], prev: np.ndarray[Any, Any], bpp: int) -> bytes:
    """``rows`` (h × bytes per row, uint8) as PNG scanlines: a filter byte, then the row
    filtered by the adaptive choice; ``prev`` is the row above the first (zeros at the top)."""
    x = rows.astype(np.int16)
    up = np.empty_like(x)
    up[0] = prev
    up[1:] = x[:-1]
    left = np.zeros_like(x)
    left[:, bpp:] = x[:, :-bpp]
    upleft = np.zeros_like(x)
    upleft[:, bpp:] = up[:, :-bpp]
    p = left + up - upleft
    pa, pb, pc = np.abs(p - left), np.abs(p - up), np.abs(p - upleft)
    paeth = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, upleft))
    candidates = np.stack([x, x - left, x - up, x - ((left + up) >> 1), x - paeth]).astype(np.uint8)
    cost = np.abs(candidates.view(np.int8).astype(np.int16)).sum(axis=2)
    choice = cost.argmin(axis=0)
    out = np.empty((rows.shape[0], rows.shape[1] + 1), dtype=np.uint8)
    out[:, 0] = choice
    out[:, 1:] = candidates[choice, np.arange(rows.shape[0])]
    return out.tobytes()


class PngWriter:
    """Write a ``width`` × ``height`` PNG to ``stream`` from bands of rows given in order."""

    def __init__(
        self,
        stream: BinaryIO,
        width: int,
        height: int,
        mode: str,
        *,
        level: int = 6,
        workers: int = 1,
        exif: bytes | None = None,
        icc_profile: bytes | None = None,
        dpi: tuple[float, float] | None = None,
        transparency: int | None = None,
    ) -> None:
        colour, depth, channels = MODES[mode]
        self.stream, self.mode, self.level = stream, mode, level
        self.width, self.height, self.rows_written = width, height, 0
        self.bpp = channels * depth // 8
        self.prev = np.zeros(width * self.bpp, dtype=np.int16)
        self.adler = zlib.adler32(b"")
        self.tail = b""
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="png")
        self.pending: deque[Future[bytes]] = deque()
        self.workers = workers
        header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
        stream.write(_SIGNATURE + _chunk(b"IHDR", header))
        if icc_profile:
            stream.write(_chunk(b"iCCP", b"ICC Profile\0\0" + zlib.compress(icc_profile)))
        if exif:
            stream.write(_chunk(b"eXIf", exif.removeprefix(b"Exif\x00\x00")))
        if dpi:
            # Pixels per metre, as Pillow writes them (unit 1: the metre).
            density = (round(d / _INCH_IN_METRES) for d in dpi)
            stream.write(_chunk(b"pHYs", struct.pack(">IIB", *density, 1)))
        if transparency is not None and colour == 0:
            # A grey image's transparent value (tRNS), as Pillow reads it into info.
            stream.write(_chunk(b"tRNS", struct.pack(">H", transparency)))
        stream.write(_chunk(b"IDAT", b"\x78\x9c"))

    def write(self, pixels: np.ndarray[Any, Any]) -> None:
        """Append rows: an array of shape (rows, width[, channels]) in this writer's mode."""
        if self.mode == "I;16":
            pixels = pixels.astype(">u2")
        rows = np.ascontiguousarray(pixels).view(np.uint8).reshape(pixels.shape[0], -1)
        if rows.shape[1] != self.width * self.bpp:
            raise ValueError(
                f"band is {rows.shape[1]} bytes wide, expected {self.width * self.bpp}"
            )
        pieces = []
        for start in range(0, rows.shape[0], _ROWS_PER_FILTER):
            part = rows[start : start + _ROWS_PER_FILTER]
            pieces.append(filter_rows(part, self.prev, self.bpp))
            self.prev = part[-1].astype(np.int16)
        filtered = b"".join(pieces)
        self.adler = zlib.adler32(filtered, self.adler)
        self.pending.append(self.pool.submit(_deflate, filtered, self.tail, self.level))
        self.tail = filtered[-_WINDOW:]
        self.rows_written += rows.shape[0]
        while len(self.pending) > self.workers:
            self._flush_one()

    def write_image(self, band: Image.Image) -> None:
        """Append the rows of a Pillow image, a slice at a time, so the raw, filtered and
        compressing copies of a large band stay small."""
        for y in range(0, band.height, _SLICE_ROWS):
            rows = band.crop((0, y, band.width, min(y + _SLICE_ROWS, band.height)))
            self.write(np.asarray(rows))

    def _flush_one(self) -> None:
        data = self.pending.popleft().result()
        if data:
            self.stream.write(_chunk(b"IDAT", data))

    def close(self) -> None:
        """Finish the zlib stream and the file; every row must have been written."""
        try:
            while self.pending:
                self._flush_one()
        finally:
            self.pool.shutdown()
        if self.rows_written != self.height:
            raise ValueError(f"wrote {self.rows_written} rows of {self.height}")
        final = zlib.compressobj(self.level, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)
        self.stream.write(_chunk(b"IDAT", final + struct.pack(">I", self.adler)))
        self.stream.write(_chunk(b"IEND", b""))
