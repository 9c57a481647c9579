"""Protocol-buffer wire format: varints and field iteration, decoded by hand (no protobuf package).

Only what the TensorBoard event reader needs: a message is a sequence of ``(key, value)`` pairs,
``key = field_number << 3 | wire_type``; wire type 0 is a varint, 1 eight little-endian bytes, 2 a
varint length then that many bytes, 5 four little-endian bytes. Groups (3, 4) are obsolete and
rejected. Every malformed input raises :class:`WireError` (a ``ValueError``), never anything else.
"""

from __future__ import annotations

from collections.abc import Iterator

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5


class WireError(ValueError):
    """Bytes that are not a well-formed protocol-buffer message."""


def read_varint(buf: bytes | memoryview, pos: int, end: int) -> tuple[int, int]:
    """Decode the unsigned varint at ``buf[pos:end]``.

    Returns:
        ``(value, position after it)``; ``value`` is below ``2**64``.

    Raises:
        WireError: The varint runs past ``end`` or is longer than ten bytes.
    """
    result = shift = 0
    while True:
        if pos >= end:
            raise WireError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            if result >= 1 << 64:
                raise WireError("varint above 64 bits")
            return result, pos
        shift += 7
        if shift >= 70:
            raise WireError("varint longer than ten bytes")


def to_int64(value: int) -> int:
    """Reinterpret an unsigned 64-bit varint as the two's-complement ``int64`` protobuf encodes."""
    return value - (1 << 64) if value >= 1 << 63 else value


def iter_fields(buf: bytes | memoryview, pos: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """Walk the fields of the message ``buf[pos:end]``.

    Yields:
        ``(field_number, wire_type, a, b)``: for a varint ``a`` is its value and ``b`` the position
        after it; for the other wire types ``buf[a:b]`` are the field's bytes (for ``LENGTH`` without
        the length prefix).

    Raises:
        WireError: A key or value runs past ``end``, an unknown wire type, or field number 0.
    """
    while pos < end:
        key, pos = read_varint(buf, pos, end)
        field, wire = key >> 3, key & 7
        if field == 0:
            raise WireError("field number 0")
        if wire == VARINT:
            value, pos = read_varint(buf, pos, end)
            yield field, wire, value, pos
            continue
        if wire == FIXED64:
            size = 8
        elif wire == FIXED32:
            size = 4
        elif wire == LENGTH:
            size, pos = read_varint(buf, pos, end)
        else:
            raise WireError(f"unsupported wire type {wire}")
        if pos + size > end:
            raise WireError("field runs past the end of its message")
        yield field, wire, pos, pos + size
        pos += size


def encode_varint(value: int) -> bytes:
    """Encode a non-negative integer below ``2**64`` (negative ``int64`` values: add ``2**64`` first)."""
    if not 0 <= value < 1 << 64:
        raise ValueError(f"varint out of range: {value}")
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)
