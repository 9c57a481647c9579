"""A minimal, independent TensorBoard event-file writer for the reader's tests.

It encodes ``Event`` protos by hand (wall_time, step, summary.value{tag, simple_value | tensor,
metadata.plugin_data.plugin_name}) with correct masked CRC-32C framing, so the tests control every
byte without tensorboard or torch. CRC-32C is the native package's when installed, else computed here in pure Python.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from pathlib import Path

_POLY = 0x82F63B78
_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ _POLY if _c & 1 else _c >> 1
    _TABLE.append(_c)


def crc32c_py(data: bytes) -> int:
    """CRC-32C in pure Python: the reference the native package is checked against."""
    crc = 0xFFFFFFFF
    for b in data:
        crc = _TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


try:  # the bench writes a million records: use the native package when it is there
    from crc32c import crc32c
except ImportError:
    crc32c = crc32c_py


def masked(data: bytes) -> int:
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(num: int, wire: int) -> bytes:
    return varint((num << 3) | wire)


def _ld(num: int, payload: bytes) -> bytes:
    return _field(num, 2) + varint(len(payload)) + payload


def scalar_value(tag: str, value: float, style: str = "simple") -> bytes:
    """One ``Summary.Value``: ``simple`` (add_scalar), ``tensor_float`` or ``tensor_double`` (new style)."""
    body = _ld(1, tag.encode())
    if style == "simple":
        body += _field(2, 5) + struct.pack("<f", value)
    else:
        dtype, key, fmt = (1, 5, "<f") if style == "tensor_float" else (2, 6, "<d")
        tensor = _field(1, 0) + varint(dtype) + _ld(2, b"") + _ld(key, struct.pack(fmt, value))
        plugin = _ld(1, _ld(1, b"scalars"))  # SummaryMetadata.plugin_data.plugin_name
        body += _ld(9, plugin) + _ld(8, tensor)
    return body


def event(wall_time: float, step: int, values: Iterable[bytes] = (), file_version: str | None = None) -> bytes:
    msg = _field(1, 1) + struct.pack("<d", wall_time) + _field(2, 0) + varint(step)
    if file_version is not None:
        msg += _ld(3, file_version.encode())
    vals = b"".join(_ld(1, v) for v in values)
    if vals:
        msg += _ld(5, vals)
    return msg


def record(payload: bytes) -> bytes:
    head = struct.pack("<Q", len(payload))
    return head + struct.pack("<I", masked(head)) + payload + struct.pack("<I", masked(payload))


def write_scalar_file(path: Path, points: Iterable[tuple[str, int, float, float, str]]) -> Path:
    """Write (tag, step, wall_time, value, style) points, one event each, after a file_version event."""
    points = list(points)
    start = points[0][2] if points else 1.7e9  # the writer's first event is stamped when it opens
    data = bytearray(record(event(start, 0, file_version="brain.Event:2")))
    for tag, step, wall, value, style in points:
        data += record(event(wall, step, [scalar_value(tag, value, style)]))
    path.write_bytes(bytes(data))
    return path
