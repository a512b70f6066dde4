"""A generic reader and writer for the Thrift compact protocol, as Parquet footers use it.

Values are decoded into a tree keyed by field id, each value tagged with its wire type,
so that a footer can be edited in a few fields and re-encoded without a schema: fields
we do not know (newer format versions, statistics, geospatial types) pass through
untouched. Encoding is canonical (ascending field ids, short field headers where the
delta allows), which is what Thrift's own C++ and Java writers produce, so
``encode(decode(x)) == x`` for the footers they write.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

__all__ = [
    "BINARY",
    "BOOL",
    "BYTE",
    "DOUBLE",
    "I16",
    "I32",
    "I64",
    "LIST",
    "MAP",
    "SET",
    "STRUCT",
    "List",
    "Map",
    "Struct",
    "ThriftError",
    "decode",
    "encode",
]

# Compact-protocol wire types. A field's boolean is carried in its header (1 true,
# 2 false); BOOL stands for both in the tree.
BOOL, BYTE, I16, I32, I64, DOUBLE = 1, 3, 4, 5, 6, 7
BINARY, LIST, SET, MAP, STRUCT = 8, 9, 10, 11, 12
_BOOL_FALSE = 2
_INTS = (BYTE, I16, I32, I64)
_DEPTH = 64


class ThriftError(ValueError):
    """The bytes are not a valid compact-protocol struct (or end before it does)."""


@dataclass
class List:
    """A list or set: its element wire type and items."""

    etype: int
    items: list[object] = field(default_factory=list)
    kind: int = LIST


@dataclass
class Map:
    """A map: key and value wire types and its (key, value) pairs in wire order."""

    ktype: int
    vtype: int
    items: list[tuple[object, object]] = field(default_factory=list)


@dataclass
class Struct:
    """A struct: field id -> (wire type, value)."""

    fields: dict[int, tuple[int, object]] = field(default_factory=dict)

    def get(self, fid: int) -> object:
        """The value of field ``fid``, or None when absent."""
        entry = self.fields.get(fid)
        return None if entry is None else entry[1]

    def get_int(self, fid: int, default: int = 0) -> int:
        value = self.get(fid)
        return value if isinstance(value, int) and not isinstance(value, bool) else default

    def get_struct(self, fid: int) -> Struct | None:
        value = self.get(fid)
        return value if isinstance(value, Struct) else None

    def get_list(self, fid: int) -> List | None:
        value = self.get(fid)
        return value if isinstance(value, List) else None

    def set(self, fid: int, wtype: int, value: object) -> None:
        """Set field ``fid``, keeping fields in ascending id order as writers emit them."""
        self.fields[fid] = (wtype, value)
        self.fields = dict(sorted(self.fields.items()))

    def drop(self, *fids: int) -> None:
        for fid in fids:
            self.fields.pop(fid, None)


class _Reader:
    def __init__(self, data: bytes | memoryview, pos: int) -> None:
        self.data = memoryview(data)
        self.pos = pos

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise ThriftError("unexpected end of data")
        self.pos += 1
        return self.data[self.pos - 1]

    def varint(self) -> int:
        result = shift = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 70:
                raise ThriftError("varint too long")

    def zigzag(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ThriftError("unexpected end of data")
        self.pos += n
        return bytes(self.data[self.pos - n : self.pos])

    def value(self, wtype: int, depth: int) -> object:
        if depth > _DEPTH:
            raise ThriftError("nesting too deep")
        if wtype in (BOOL, _BOOL_FALSE):  # only inside containers: one byte each
            return self.byte() == BOOL
        if wtype == BYTE:
            b = self.byte()
            return b - 256 if b > 127 else b
        if wtype in (I16, I32, I64):
            return self.zigzag()
        if wtype == DOUBLE:
            return float(struct.unpack("<d", self.take(8))[0])
        if wtype == BINARY:
            return self.take(self.varint())
        if wtype in (LIST, SET):
            head = self.byte()
            size = head >> 4 if head >> 4 != 15 else self.varint()
            etype = head & 0x0F
            return List(etype, [self.value(etype, depth + 1) for _ in range(size)], wtype)
        if wtype == MAP:
            size = self.varint()
            if size == 0:
                return Map(0, 0)
            types = self.byte()
            kt, vt = types >> 4, types & 0x0F
            pairs = [(self.value(kt, depth + 1), self.value(vt, depth + 1)) for _ in range(size)]
            return Map(kt, vt, pairs)
        if wtype == STRUCT:
            return self.struct(depth + 1)
        raise ThriftError(f"unknown wire type {wtype}")

    def struct(self, depth: int = 0) -> Struct:
        out = Struct()
        last = 0
        while True:
            head = self.byte()
            if head == 0:
                return out
            wtype, delta = head & 0x0F, head >> 4
            fid = last + delta if delta else self.zigzag()
            if wtype in (BOOL, _BOOL_FALSE):
                out.fields[fid] = (BOOL, wtype == BOOL)
            else:
                out.fields[fid] = (wtype, self.value(wtype, depth))
            last = fid


def decode(data: bytes | memoryview, pos: int = 0) -> tuple[Struct, int]:
    """The struct encoded at ``data[pos:]`` and the position just after it."""
    reader = _Reader(data, pos)
    try:
        return reader.struct(), reader.pos
    except RecursionError:
        raise ThriftError("nesting too deep") from None


def _varint(out: bytearray, n: int) -> None:
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _zigzag(out: bytearray, n: int) -> None:
    _varint(out, (n << 1) ^ (n >> 63) if n < 0 else n << 1)


def _value(out: bytearray, wtype: int, value: object) -> None:
    if wtype in (BOOL, _BOOL_FALSE):
        out.append(BOOL if value else _BOOL_FALSE)
    elif wtype == BYTE and isinstance(value, int):
        out.append(value & 0xFF)
    elif wtype in _INTS and isinstance(value, int):
        _zigzag(out, value)
    elif wtype == DOUBLE and isinstance(value, float):
        out += struct.pack("<d", value)
    elif wtype == BINARY and isinstance(value, bytes):
        _varint(out, len(value))
        out += value
    elif wtype in (LIST, SET) and isinstance(value, List):
        size = len(value.items)
        if size < 15:
            out.append(size << 4 | value.etype)
        else:
            out.append(0xF0 | value.etype)
            _varint(out, size)
        for item in value.items:
            _value(out, value.etype, item)
    elif wtype == MAP and isinstance(value, Map):
        _varint(out, len(value.items))
        if value.items:
            out.append(value.ktype << 4 | value.vtype)
        for key, item in value.items:
            _value(out, value.ktype, key)
            _value(out, value.vtype, item)
    elif wtype == STRUCT and isinstance(value, Struct):
        _struct(out, value)
    else:
        raise ThriftError(f"cannot encode {type(value).__name__} as wire type {wtype}")


def _struct(out: bytearray, value: Struct) -> None:
    last = 0
    for fid, (wtype, item) in value.fields.items():
        head = (BOOL if item else _BOOL_FALSE) if wtype == BOOL else wtype
        if 0 < fid - last <= 15:
            out.append((fid - last) << 4 | head)
        else:
            out.append(head)
            _zigzag(out, fid)
        if wtype != BOOL:
            _value(out, wtype, item)
        last = fid
    out.append(0)


def encode(value: Struct) -> bytes:
    """``value`` in the compact protocol."""
    out = bytearray()
    _struct(out, value)
    return bytes(out)
