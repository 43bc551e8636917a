"""A tiny read-only FlatBuffers reader: enough to walk a .tflite model and its tflite-support metadata.

No dependencies beyond the standard library. A ``Table`` is a view of one table inside a byte buffer;
fields are read by their slot number (the order they are declared in the schema, union fields taking two
slots: ``X_type`` then ``X``). Every offset is bounds-checked so a truncated or foreign file raises
``FlatBufferError`` instead of returning garbage or crashing.
"""

from __future__ import annotations

import struct


class FlatBufferError(ValueError):
    """The bytes are not a well-formed FlatBuffer (truncated, or an offset points outside the buffer)."""


class Table:
    __slots__ = ("buf", "pos", "_vt", "_vt_len")

    def __init__(self, buf: bytes | memoryview, pos: int):
        self.buf = buf
        self.pos = pos
        _check(buf, pos, 4)
        vt = pos - struct.unpack_from("<i", buf, pos)[0]
        _check(buf, vt, 4)
        self._vt = vt
        self._vt_len = struct.unpack_from("<H", buf, vt)[0]
        _check(buf, vt, self._vt_len)

    @classmethod
    def root(cls, buf: bytes | memoryview, offset: int = 0) -> "Table":
        _check(buf, offset, 8)
        return cls(buf, offset + struct.unpack_from("<I", buf, offset)[0])

    def _field(self, slot: int) -> int:
        """Absolute position of field ``slot``, or 0 when the field is absent."""
        entry = 4 + 2 * slot
        if entry + 2 > self._vt_len:
            return 0
        rel = struct.unpack_from("<H", self.buf, self._vt + entry)[0]
        return self.pos + rel if rel else 0

    def has(self, slot: int) -> bool:
        return self._field(slot) != 0

    def scalar(self, slot: int, fmt: str, default=0):
        p = self._field(slot)
        if not p:
            return default
        _check(self.buf, p, struct.calcsize(fmt))
        return struct.unpack_from("<" + fmt, self.buf, p)[0]

    def _deref(self, slot: int) -> int:
        p = self._field(slot)
        if not p:
            return 0
        _check(self.buf, p, 4)
        return p + struct.unpack_from("<I", self.buf, p)[0]

    def table(self, slot: int) -> "Table | None":
        p = self._deref(slot)
        return Table(self.buf, p) if p else None

    def string(self, slot: int, default: str | None = None) -> str | None:
        p = self._deref(slot)
        if not p:
            return default
        return _read_bytes(self.buf, p).decode("utf-8", errors="replace")

    def bytes_vector(self, slot: int) -> bytes:
        p = self._deref(slot)
        return _read_bytes(self.buf, p) if p else b""

    def _vector(self, slot: int) -> tuple[int, int]:
        """(start of elements, count) of a vector field; (0, 0) when absent."""
        p = self._deref(slot)
        if not p:
            return 0, 0
        _check(self.buf, p, 4)
        return p + 4, struct.unpack_from("<I", self.buf, p)[0]

    def scalars(self, slot: int, fmt: str) -> list:
        start, n = self._vector(slot)
        if not n:
            return []
        size = struct.calcsize(fmt)
        _check(self.buf, start, size * n)
        return list(struct.unpack_from(f"<{n}{fmt}", self.buf, start))

    def tables(self, slot: int) -> list["Table"]:
        start, n = self._vector(slot)
        _check(self.buf, start, 4 * n)
        out = []
        for i in range(n):
            p = start + 4 * i
            out.append(Table(self.buf, p + struct.unpack_from("<I", self.buf, p)[0]))
        return out

    def strings(self, slot: int) -> list[str]:
        start, n = self._vector(slot)
        _check(self.buf, start, 4 * n)
        out = []
        for i in range(n):
            p = start + 4 * i
            out.append(_read_bytes(self.buf, p + struct.unpack_from("<I", self.buf, p)[0]).decode("utf-8", "replace"))
        return out


def file_identifier(buf: bytes | memoryview) -> bytes:
    """The 4-byte identifier stored after the root offset ("TFL3" for TFLite, "M001" for its metadata)."""
    _check(buf, 0, 8)
    return bytes(buf[4:8])


def _read_bytes(buf, p: int) -> bytes:
    _check(buf, p, 4)
    n = struct.unpack_from("<I", buf, p)[0]
    _check(buf, p + 4, n)
    return bytes(buf[p + 4 : p + 4 + n])


def _check(buf, pos: int, size: int) -> None:
    if pos < 0 or pos + size > len(buf):
        raise FlatBufferError(f"offset {pos}+{size} lies outside the {len(buf)}-byte buffer")
