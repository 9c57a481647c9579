"""TensorBoard event files (readers.tfevents), written by a minimal encoder in this test."""

from __future__ import annotations

import struct
from pathlib import Path

from lrguard.readers.tfevents import read_event_steps


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def encode_event(wall_time: float, step: int | None, summary: bool = True, file_version: str | None = None) -> bytes:
    """Serialize a tensorflow ``Event``: wall_time=1 (double), step=2 (int64), file_version=3, summary=5."""
    msg = _varint((1 << 3) | 1) + struct.pack("<d", wall_time)
    if step is not None:
        msg += _varint((2 << 3) | 0) + _varint(step)
    if file_version is not None:
        raw = file_version.encode()
        msg += _varint((3 << 3) | 2) + _varint(len(raw)) + raw
    if summary:
        # Summary { value { tag: "x/lr0" simple_value: 0.01 } } -- contents are not decoded by the reader.
        value = _varint((1 << 3) | 2) + _varint(5) + b"x/lr0" + _varint((2 << 3) | 5) + struct.pack("<f", 0.01)
        summ = _varint((1 << 3) | 2) + _varint(len(value)) + value
        msg += _varint((5 << 3) | 2) + _varint(len(summ)) + summ
    return msg


def record(payload: bytes) -> bytes:
    """TFRecord framing: uint64 length, uint32 length crc, data, uint32 data crc (CRCs not checked)."""
    return struct.pack("<Q", len(payload)) + b"\0\0\0\0" + payload + b"\0\0\0\0"


def write_events(path: Path, steps: list[int], t0: float = 1.7e9, tail: bytes = b"") -> Path:
    data = record(encode_event(t0, None, summary=False, file_version="brain.Event:2"))
    for k, s in enumerate(steps):
        data += record(encode_event(t0 + k, s))
        data += record(encode_event(t0 + k, s))  # several scalars per step
    path.write_bytes(data + tail)
    return path


def test_steps_and_first_wall_time(tmp_path):
    f = write_events(tmp_path / "events.out.tfevents.1.host", [0, 1, 2, 300, 2**40])
    got = read_event_steps(f)
    assert got.steps == (0, 1, 2, 300, 2**40)
    assert got.first_wall_time == 1.7e9


def test_events_without_summary_do_not_count(tmp_path):
    f = tmp_path / "events.out.tfevents.2.host"
    f.write_bytes(record(encode_event(1.0, 7, summary=False)) + record(encode_event(2.0, 8)))
    assert read_event_steps(f).steps == (8,)


def test_truncated_tail_tolerated(tmp_path):
    full = record(encode_event(5.0, 10))
    f = write_events(tmp_path / "events.out.tfevents.3.host", [3, 4], tail=full[: len(full) - 7])
    assert read_event_steps(f).steps == (3, 4)
    f.write_bytes(f.read_bytes()[:5])  # shorter than one header
    assert read_event_steps(f).steps == ()


def test_garbage_payload_stops_reading(tmp_path):
    f = write_events(tmp_path / "events.out.tfevents.4.host", [1], tail=record(b"\xff\xff\xff"))
    assert read_event_steps(f).steps == (1,)


def test_absurd_length_stops_reading(tmp_path):
    f = write_events(tmp_path / "events.out.tfevents.5.host", [1], tail=struct.pack("<Q", 2**62) + b"\0" * 20)
    assert read_event_steps(f).steps == (1,)


def test_empty_file(tmp_path):
    f = tmp_path / "events.out.tfevents.6.host"
    f.write_bytes(b"")
    got = read_event_steps(f)
    assert got.steps == () and got.first_wall_time is None
