"""Minimal reader for TensorBoard event files: which epochs (steps) each training process logged.

YOLOv5 opens a new ``events.out.tfevents.<time>.<host>...`` file in the run directory every time
``train.py`` starts, including ``--resume``; the steps each file holds therefore mark where a
session began even when results.csv shows no seam. Only the TFRecord framing and the two varint
fields of the ``Event`` message that we need (``wall_time``, ``step``) are decoded; CRCs are not
checked and a truncated tail is ignored.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

MAX_RECORD = 64 * 1024 * 1024


@dataclass(frozen=True)
class EventFileSteps:
    """Steps found in one event file.

    Attributes:
        path: The file.
        first_wall_time: ``wall_time`` of its first event (seconds since the epoch), if any.
        steps: Sorted distinct ``step`` values of events that carry a summary.
    """

    path: Path
    first_wall_time: float | None
    steps: tuple[int, ...]


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _parse_event(buf: bytes) -> tuple[float | None, int | None, bool]:
    """Return ``(wall_time, step, has_summary)`` of one serialized ``Event``."""
    pos = 0
    wall: float | None = None
    step: int | None = None
    summary = False
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            val, pos = _varint(buf, pos)
            if field == 2:
                step = val
        elif wire == 1:
            if field == 1:
                wall = struct.unpack_from("<d", buf, pos)[0]
            pos += 8
        elif wire == 2:
            ln, pos = _varint(buf, pos)
            if field == 5:
                summary = True
            pos += ln
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
    return wall, step, summary


def read_event_steps(path: Path) -> EventFileSteps:
    """Read the steps logged in one event file (tolerates truncation and garbage at the end)."""
    data = path.read_bytes()
    pos = 0
    steps: set[int] = set()
    first_wall: float | None = None
    while pos + 12 <= len(data):
        (length,) = struct.unpack_from("<Q", data, pos)
        if length > MAX_RECORD or pos + 12 + length + 4 > len(data):
            break
        payload = data[pos + 12 : pos + 12 + length]
        pos += 12 + length + 4
        try:
            wall, step, summary = _parse_event(payload)
        except (ValueError, struct.error):
            break
        if first_wall is None and wall is not None:
            first_wall = wall
        if summary:
            steps.add(0 if step is None else step)  # proto3 omits a zero step
    return EventFileSteps(path=path, first_wall_time=first_wall, steps=tuple(sorted(steps)))
