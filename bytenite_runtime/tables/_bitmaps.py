"""The bitmaps a block of CSV, TSV or JSON Lines becomes, and what they say.

Each block becomes two bitmaps, one bit per byte: its newlines, and whether each byte is
inside quotes (and a third where bare CRs are looked for: the CRs no LF follows). The
quote parity is a prefix XOR of the quote bitmap inside each 64-bit word plus one
running XOR across words, all in numpy, so a block is analysed as if it started outside
quotes, with the counts for both cases kept: placing it in the file is a lookup. A
:class:`Block` is an analysis placed in its file; byte positions are worked out only for
the few blocks a cut falls in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ._utf8 import Runs, non_ascii_runs

__all__ = ["NEWLINE", "QUOTE", "Analysis", "Block", "Scratch", "Words", "analyse"]

QUOTE, NEWLINE, _CR = 0x22, 0x0A, 0x0D
_ONE = np.uint64(1)
_PREFIX_SHIFTS = tuple(np.uint64(1 << k) for k in range(6))
_TOP = np.uint64(63)
_ALL = np.uint64(0xFFFF_FFFF_FFFF_FFFF)


Words = npt.NDArray[np.uint64]


@dataclass(frozen=True, slots=True)
class Analysis:
    """What one block says on its own, whatever the quote parity at its start."""

    offset: int
    size: int
    newlines: Words
    inside: Words | None
    """Per byte, inside quotes if the block starts outside (None: the block has no quote)."""
    counts: tuple[int, int]
    """Record ends if the block starts outside quotes, and if it starts inside."""
    flips: int
    runs: Runs | None
    last: int
    head: int
    bare_crs: Words | None
    """Per byte, a CR not followed by LF (one as the block's last byte counts: the next
    block decides); None when there is none or they were not looked for."""


class Scratch:
    """A worker's reused read buffer and byte-sized temporaries: fresh arrays for every
    block cost their page faults, and on threads the faults contend with each other."""

    def __init__(self, size: int, *, reads: bool = False) -> None:
        self.buffer = bytearray(size if reads else 0)
        self.flags = np.empty(size, np.bool_)
        # The UTF-8 check's words reuse the flags' memory: it runs between their two uses.
        self.words = self.flags[: size // 8 * 8].view(np.uint64)
        self.marks = np.empty(-(-size // 64) * 8, np.bool_)  # whole groups of eight


def analyse(
    data: bytes | bytearray,
    offset: int,
    quoted: bool,
    scratch: Scratch | None = None,
    *,
    bare_crs: bool = False,
) -> Analysis:
    bytes_ = np.frombuffer(data, np.uint8)
    scratch = scratch or Scratch(len(data))
    flags = scratch.flags[: len(data)]
    newlines = bits(np.equal(bytes_, NEWLINE, out=flags))
    runs = non_ascii_runs(data, (scratch.words, scratch.marks))
    # A file without a CR pays only this search for one.
    bare = _bare_crs(bytes_, newlines, flags) if bare_crs and b"\r" in data else None
    ends = (runs, data[-1], data[0], bare)
    if not (quoted and b'"' in data):
        counts = (popcount(newlines), 0)
        return Analysis(offset, len(data), newlines, None, counts, 0, *ends)
    inside = bits(np.equal(bytes_, QUOTE, out=flags))
    for shift in _PREFIX_SHIFTS:
        inside ^= inside << shift
    # Each bit now holds the parity of the quotes up to it within its word; the top bit
    # is the word's own parity, which carries into the words after it.
    own = inside >> _TOP
    before = np.bitwise_xor.accumulate(own) ^ own
    inside ^= before * _ALL
    counts = (popcount(newlines & ~inside), popcount(newlines & inside))
    flips = int(before[-1] ^ own[-1])
    return Analysis(offset, len(data), newlines, inside, counts, flips, *ends)


def _bare_crs(
    bytes_: npt.NDArray[np.uint8], newlines: Words, flags: npt.NDArray[np.bool_]
) -> Words | None:
    """The CRs of a block that no LF follows, one bit per byte (see :func:`bits`)."""
    crs = bits(np.equal(bytes_, _CR, out=flags))
    followed = newlines >> _ONE
    followed[:-1] |= newlines[1:] << _TOP
    bare = crs & ~followed
    return bare if bare.any() else None


class Block:
    """One block of the file, placed: the record ends before it and its quote parity."""

    def __init__(self, analysis: Analysis, first: int, carry: int) -> None:
        self._analysis = analysis
        self.offset = analysis.offset
        self.end = analysis.offset + analysis.size
        self.first = first
        """Record ends before this block, over the whole file (a header counts)."""
        self.carry = carry
        """Quote parity at the block's first byte: 1 inside a quoted field."""
        self.count = analysis.counts[carry]
        self.carry_out = carry ^ analysis.flips
        self._ends: npt.NDArray[np.int64] | None = None

    @property
    def opens_quote(self) -> bool:
        """The block ends inside a quoted field that its own last quote opened."""
        return self._analysis.inside is not None and bool(self.carry_out)

    def first_bare_cr(self) -> int | None:
        """Absolute position of the block's first CR outside quotes that no LF follows
        within the block, if any."""
        bare, inside = self._analysis.bare_crs, self._analysis.inside
        if bare is None or (inside is None and self.carry):
            return None
        if inside is not None:
            bare = bare & (inside if self.carry else ~inside)
        words = np.flatnonzero(bare)
        if not words.size:
            return None
        word = int(bare[words[0]])
        return self.offset + int(words[0]) * 64 + (word & -word).bit_length() - 1

    def ends(self) -> npt.NDArray[np.int64]:
        """Absolute positions just past each record-ending newline of the block."""
        if self._ends is None:
            newlines, inside = self._analysis.newlines, self._analysis.inside
            if inside is None:
                marks = newlines if not self.carry else np.zeros_like(newlines)
            else:
                marks = newlines & (inside if self.carry else ~inside)
            # Unpacking only the words that hold an end keeps this a fraction of a pass.
            words = np.flatnonzero(marks != 0)
            bits = np.unpackbits(marks[words].view(np.uint8), bitorder="little")
            hits = np.flatnonzero(bits.view(np.bool_))
            self._ends = words[hits >> 6] * 64 + (hits & 63) + (self.offset + 1)
        return self._ends


def bits(flags: npt.NDArray[np.bool_]) -> Words:
    """One bit per byte, bit ``i`` of word ``w`` standing for byte ``64 * w + i``."""
    packed = np.packbits(flags, bitorder="little")
    if packed.size % 8:
        packed = np.concatenate([packed, np.zeros(8 - packed.size % 8, np.uint8)])
    return packed.view(np.uint64)


def popcount(words: Words) -> int:
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        return int(np.bitwise_count(words).sum())
    return int(np.count_nonzero(np.unpackbits(words.view(np.uint8))))
