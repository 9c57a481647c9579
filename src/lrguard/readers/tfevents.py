"""TensorBoard event files, read losslessly: every point of every scalar tag, plus per-file evidence.

Decoded by hand (no protobuf, no tensorboard, no torch): the TFRecord framing
(:mod:`lrguard.readers.tfrecord`) and the ``Event`` message: ``wall_time`` (1, double), ``step``
(2, int64), ``file_version`` (3), ``summary`` (5) whose ``Value`` entries carry ``tag`` (1) and
either ``simple_value`` (2, float; what ``SummaryWriter.add_scalar`` writes) or ``tensor`` (8, a
``TensorProto``: dtype, shape, ``float_val``/``double_val``/``int_val``/... or ``tensor_content``;
what ``new_style=True`` and TF2's ``tf.summary.scalar`` write), and ``metadata`` (9) naming the plugin.

Unlike TensorBoard's ``EventAccumulator`` nothing is sampled and nothing is purged: a step that goes
back (a resumed or restarted process writing into the same file) keeps its points and is reported
as evidence (:class:`StepBack`). A tensor value counts as a scalar when it holds exactly one number
and its tag's plugin is ``scalars`` (or no plugin is named for that tag anywhere in the file).

Speed: records that look alike are decoded together. After the framing walk, the fields every
scalar event starts with (``wall_time``, ``step``) are decoded for all records at once with numpy;
the remaining bytes of each record are grouped by template (same bytes except the value), one
record per template is decoded in Python, and the values of the others are read with one numpy
view per template. Anything else goes through the general per-record decoder.
"""

from __future__ import annotations

import fnmatch
import math
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lrguard import constants as C
from lrguard.errors import InputError, LrguardError
from lrguard.readers.protowire import FIXED32, FIXED64, LENGTH, VARINT, WireError, iter_fields, read_varint, to_int64
from lrguard.readers.tfrecord import (
    HEADER,
    Framing,
    check_crcs,
    crc_backend,
    crc_unavailable,
    frame_records,
    gather,
    read_padded,
)

__all__ = [
    "EventFileInfo",
    "EventFileSteps",
    "ScalarLog",
    "ScalarSeries",
    "StepBack",
    "find_event_files",
    "read_event_steps",
    "read_scalars",
]

# TensorFlow DataType enum -> (numpy dtype of tensor_content / packed fixed-width values).
_CONTENT_DTYPES: dict[int, str] = {
    1: "<f4",  # DT_FLOAT
    2: "<f8",  # DT_DOUBLE
    3: "<i4",  # DT_INT32
    4: "u1",  # DT_UINT8
    5: "<i2",  # DT_INT16
    6: "i1",  # DT_INT8
    9: "<i8",  # DT_INT64
    10: "u1",  # DT_BOOL
    17: "<u2",  # DT_UINT16
    19: "<f2",  # DT_HALF
    22: "<u4",  # DT_UINT32
    23: "<u8",  # DT_UINT64
}
_BFLOAT16 = 14
Bytes = bytes | memoryview
_FLOAT32 = struct.Struct("<f")
_FLOAT64 = struct.Struct("<d")


@dataclass(frozen=True)
class StepBack:
    """A tag's step went back inside one file: a second process (resume, restart) wrote into it.

    Attributes:
        tag: The tag.
        offset: Byte offset of the record that went back.
        previous_step: The tag's step in the record before it in this file.
        step: The smaller step.
    """

    tag: str
    offset: int
    previous_step: int
    step: int


@dataclass(frozen=True)
class EventFileInfo:
    """What one event file held and what it says about the training process that wrote it.

    Attributes:
        path: The file.
        order: Its position among the files read (by first ``wall_time``, then path).
        size: Bytes read.
        records: Complete records.
        points: Scalar points taken from it.
        first_wall_time: ``wall_time`` of its first event, if any.
        file_version: The ``file_version`` event's text (``"brain.Event:2"``), if any.
        steps_back: Every place a tag's step went back.
        truncated_at: Offset of an incomplete last record (the writer was still writing), else ``None``.
        crc_checked: Whether both CRCs of every record were verified.
    """

    path: Path
    order: int
    size: int
    records: int
    points: int
    first_wall_time: float | None
    file_version: str | None
    steps_back: tuple[StepBack, ...]
    truncated_at: int | None
    crc_checked: bool


@dataclass(frozen=True)
class ScalarSeries:
    """Every point of one scalar tag, in file order (files in :attr:`EventFileInfo.order`).

    Attributes:
        tag: The tag.
        step: ``int64`` steps (exact).
        wall_time: ``float64`` seconds since the epoch (exact).
        value: ``float64`` values (float32 values widened exactly; integers above 2**53 rounded).
        file: ``int32`` index into :attr:`ScalarLog.files` of each point's file.
    """

    tag: str
    step: np.ndarray
    wall_time: np.ndarray
    value: np.ndarray
    file: np.ndarray

    def __len__(self) -> int:
        return int(self.step.shape[0])


@dataclass(frozen=True)
class ScalarLog:
    """The scalars of one or more event files.

    Attributes:
        files: The files, in reading order.
        scalars: Tag -> its points, tags in order of first appearance.
        crc_checked: Whether every record's CRCs were verified.
        notes: Plain-language remarks (truncated files, steps going back, CRCs not checked).
    """

    files: tuple[EventFileInfo, ...]
    scalars: dict[str, ScalarSeries]
    crc_checked: bool
    notes: tuple[str, ...] = field(default=())

    @property
    def points(self) -> int:
        """Total number of points."""
        return sum(len(s) for s in self.scalars.values())


@dataclass
class _Points:
    """Points of one file in arrays per decoding path, merged into record order at the end."""

    record: list[np.ndarray] = field(default_factory=list)  # record index of each point
    sub: list[np.ndarray] = field(default_factory=list)  # value index inside the record
    tag: list[np.ndarray] = field(default_factory=list)  # tag id
    step: list[np.ndarray] = field(default_factory=list)
    wall: list[np.ndarray] = field(default_factory=list)
    value: list[np.ndarray] = field(default_factory=list)
    scalar_ok: list[np.ndarray] = field(default_factory=list)  # simple_value (always a scalar) or tensor


@dataclass
class _Value:
    tag: str
    value: float | None  # None: not a one-number value
    simple: bool
    plugin: str | None
    span: tuple[int, str] | None  # (absolute offset, numpy dtype) of the fixed-width value bytes


@dataclass
class _Event:
    wall_time: float
    step: int
    file_version: str | None
    values: list[_Value]
    other_after_summary: bool


def _text(buf: Bytes, a: int, b: int) -> str:
    return bytes(buf[a:b]).decode("utf-8", "replace")


def _plugin_name(buf: Bytes, a: int, b: int) -> str | None:
    for f, w, x, y in iter_fields(buf, a, b):
        if f == 1 and w == LENGTH:  # plugin_data
            for f2, w2, x2, y2 in iter_fields(buf, x, y):
                if f2 == 1 and w2 == LENGTH:
                    return _text(buf, x2, y2)
    return None


def _packed(buf: Bytes, w: int, a: int, b: int, fmt: str) -> tuple[list[float], int | None]:
    """Values of a repeated fixed-width field (packed or not) and the offset of its first value."""
    size = struct.calcsize(fmt)
    if w == LENGTH:
        if (b - a) % size:
            raise WireError("packed field with a partial value")
        return [v[0] for v in struct.iter_unpack(fmt, buf[a:b])], a
    if (w == FIXED32 and size == 4) or (w == FIXED64 and size == 8):
        return [struct.unpack_from(fmt, buf, a)[0]], a
    raise WireError("repeated field with the wrong wire type")


def _varints(buf: Bytes, w: int, a: int, b: int) -> list[int]:
    if w == VARINT:
        return [a]
    if w != LENGTH:
        raise WireError("repeated varint field with the wrong wire type")
    out = []
    pos = a
    while pos < b:
        v, pos = read_varint(buf, pos, b)
        out.append(v)
    return out


def _tensor(buf: Bytes, a: int, b: int) -> tuple[float | None, tuple[int, str] | None]:
    """The one number a ``TensorProto`` holds (``None`` when it is not one number) and its byte span."""
    dtype = 0
    elements = 1
    content: tuple[int, int] | None = None
    numbers: list[float] = []
    span: tuple[int, str] | None = None
    counted = 0
    for f, w, x, y in iter_fields(buf, a, b):
        if f == 1 and w == VARINT:
            dtype = x
        elif f == 2 and w == LENGTH:  # tensor_shape
            for f2, w2, x2, y2 in iter_fields(buf, x, y):
                if f2 == 2 and w2 == LENGTH:  # dim
                    size = 1
                    for f3, w3, x3, _ in iter_fields(buf, x2, y2):
                        if f3 == 1 and w3 == VARINT:
                            size = to_int64(x3)
                    elements *= size
                elif f2 == 3 and w2 == VARINT and x2:
                    elements = -1  # unknown rank
        elif f == 4 and w == LENGTH:
            content = (x, y)
        elif f in (5, 6):  # float_val, double_val
            vals, first = _packed(buf, w, x, y, "<f" if f == 5 else "<d")
            if counted == 0 and len(vals) == 1 and first is not None:
                span = (first, "<f4" if f == 5 else "<f8")
            counted += len(vals)
            numbers.extend(vals)
        elif f in (7, 10, 11, 13, 16, 17):  # int_val, int64_val, bool_val, half_val, uint32_val, uint64_val
            ints = _varints(buf, w, x, y)
            if f == 7:
                ints = [to_int64(v) for v in ints]  # int32 is sign-extended to 64 bits
            elif f == 10:
                ints = [to_int64(v) for v in ints]
            if f == 13:
                halves = np.array(ints, np.uint64).astype(np.uint16)
                conv = halves.view(np.float16) if dtype != _BFLOAT16 else (halves.astype(np.uint32) << 16).view("<f4")
                numbers.extend(float(v) for v in conv)
            else:
                numbers.extend(float(v) for v in ints)
            counted += len(ints)
            span = None
        elif f in (8, 9, 12):  # strings, complex numbers: not a scalar
            counted += 2
    if elements != 1:
        return None, None
    if content is not None:
        code = _CONTENT_DTYPES.get(dtype)
        if code is None or content[1] - content[0] != np.dtype(code).itemsize:
            return None, None
        value = float(np.frombuffer(buf, code, 1, content[0])[0])
        return value, (content[0], code) if code in ("<f4", "<f8", "<i4", "<i8") else None
    if dtype not in _CONTENT_DTYPES and dtype != _BFLOAT16:
        return None, None
    if len(numbers) != 1 or counted != 1:
        return None, None
    return numbers[0], span


def _summary_value(buf: Bytes, a: int, b: int) -> _Value:
    tag = ""
    value: float | None = None
    simple = False
    plugin: str | None = None
    span: tuple[int, str] | None = None
    for f, w, x, y in iter_fields(buf, a, b):
        if f == 1 and w == LENGTH:
            tag = _text(buf, x, y)
        elif f == 7 and w == LENGTH and not tag:
            tag = _text(buf, x, y)  # node_name, the TF1 fallback for an empty tag
        elif f == 2 and w == FIXED32:
            value, simple, span = _FLOAT32.unpack_from(buf, x)[0], True, (x, "<f4")
        elif f == 8 and w == LENGTH:
            value, span = _tensor(buf, x, y)
            simple = False
        elif f == 9 and w == LENGTH:
            plugin = _plugin_name(buf, x, y)
        elif f in (3, 4, 5, 6):  # histograms, images, audio: not a scalar
            value, simple, span = None, False, None
    return _Value(tag, value, simple, plugin, span)


def _parse_event(buf: Bytes, a: int, b: int) -> _Event:
    """Decode one ``Event`` (all of it that matters here) from ``buf[a:b]``."""
    wall = 0.0
    step = 0
    version: str | None = None
    values: list[_Value] = []
    after = False
    for f, w, x, y in iter_fields(buf, a, b):
        if f == 1 and w == FIXED64:
            wall = _FLOAT64.unpack_from(buf, x)[0]
            after = after or bool(values)
        elif f == 2 and w == VARINT:
            step = to_int64(x)
            after = after or bool(values)
        elif f == 3 and w == LENGTH:
            version = _text(buf, x, y)
        elif f == 5 and w == LENGTH:
            after = after or bool(values)
            for f2, w2, x2, y2 in iter_fields(buf, x, y):
                if f2 == 1 and w2 == LENGTH:
                    values.append(_summary_value(buf, x2, y2))
        elif values:
            after = True
    return _Event(wall, step, version, values, after)


def _corrupt(path: Path, offset: int, exc: Exception) -> InputError:
    return InputError(path, f"record at byte {offset} is not a TensorBoard Event ({exc}): corrupt event file")


def _decode_file(
    data: Bytes, buf: np.ndarray, framing: Framing, path: Path, tag_ids: dict[str, int], plugins: dict[str, str]
) -> tuple[_Points, float | None, str | None]:
    """Decode every scalar point of one file (the vectorised paths and the general one)."""
    n_rec = framing.starts.shape[0]
    pts = _Points()
    first_wall: float | None = None
    version: str | None = None
    if n_rec == 0:
        return pts, first_wall, version
    p = framing.starts + HEADER
    end = p + framing.lengths
    # Prefix every scalar event starts with: 0x09 wall_time(8) [0x10 step varint] 0x2a summary...
    fast = (buf[p] == 0x09) & (framing.lengths >= 9)
    wall = gather(buf, p + 1, 8).view("<f8")[:, 0].copy()
    q = p + 9
    has_step = fast & (q < end) & (buf[q] == 0x10)
    step, vlen, valid_varint = _varints_at(data, buf, q + 1, has_step)
    r = np.where(has_step, q + 1 + vlen, q)
    fast &= ~has_step | valid_varint
    fast &= (r < end) & (buf[np.minimum(r, len(data))] == 0x2A)
    step = np.where(has_step, step, 0)
    first_wall = None
    general = ~fast
    tail_len = end - r
    fast_idx = np.flatnonzero(fast)
    lens = tail_len[fast_idx]
    distinct = np.unique(lens[:: max(1, lens.size // 4096)]) if lens.size else lens
    groups: list[np.ndarray] = []
    if distinct.size <= 16:  # the usual case: a few tag lengths, one pass over the lengths each
        unseen = np.ones(lens.size, bool)
        for width in distinct.tolist():
            same = lens == width
            groups.append(fast_idx[same])
            unseen &= ~same
        rest, rest_lens = fast_idx[unseen], lens[unseen]
    else:
        rest, rest_lens = fast_idx, lens
    if rest.size:
        order = np.argsort(rest_lens, kind="stable")
        groups.extend(np.split(rest[order], np.flatnonzero(np.diff(rest_lens[order])) + 1))
    for group in groups:
        if group.size:
            _decode_group(data, buf, group, r, int(tail_len[group[0]]), wall, step, pts, general, tag_ids, plugins)
    for i in np.flatnonzero(general).tolist():
        a, b = int(p[i]), int(end[i])
        try:
            ev = _parse_event(data, a, b)
        except WireError as exc:
            raise _corrupt(path, int(framing.starts[i]), exc) from None
        if ev.file_version is not None and version is None:
            version = ev.file_version
        _add_event_points(ev, i, pts, tag_ids, plugins)
    first_wall = _first_wall(data, framing, wall, fast)
    return pts, first_wall, version


def _varints_at(
    data: Bytes, buf: np.ndarray, at: np.ndarray, where: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode the varint at each offset at once: ``(int64 values, byte lengths, valid)`` (``where`` only)."""
    g = gather(buf, at, 4).astype(np.int64)
    c = g >= 0x80
    d = g & 0x7F
    vlen = np.where(~c[:, 0], 1, np.where(~c[:, 1], 2, np.where(~c[:, 2], 3, np.where(~c[:, 3], 4, 0))))
    value = d[:, 0] | np.where(vlen > 1, d[:, 1] << 7, 0) | np.where(vlen > 2, d[:, 2] << 14, 0)
    value |= np.where(vlen > 3, d[:, 3] << 21, 0)
    valid = np.ones(at.shape[0], bool)
    long = np.flatnonzero(where & (vlen == 0))  # five bytes or more: one varint at a time
    if long.size:
        raw = value.view(np.uint64)
        for i in long.tolist():
            try:
                v, end = read_varint(data, int(at[i]), min(int(at[i]) + 10, len(data)))
            except WireError:
                valid[i] = False
                continue
            raw[i], vlen[i] = v, end - int(at[i])
    return value, vlen, valid


def _first_wall(data: Bytes, framing: Framing, wall: np.ndarray, fast: np.ndarray) -> float | None:
    if fast[0]:
        return float(wall[0])
    a = int(framing.starts[0]) + HEADER
    try:
        return _parse_event(data, a, a + int(framing.lengths[0])).wall_time
    except WireError:
        return None


def _add_event_points(ev: _Event, i: int, pts: _Points, tag_ids: dict[str, int], plugins: dict[str, str]) -> None:
    kept = [(k, v) for k, v in enumerate(ev.values) if v.value is not None]
    for v in ev.values:
        if v.plugin is not None:
            plugins.setdefault(v.tag, v.plugin)
    if not kept:
        return
    m = len(kept)
    pts.record.append(np.full(m, i, np.int64))
    pts.sub.append(np.array([k for k, _ in kept], np.int64))
    pts.tag.append(np.array([tag_ids.setdefault(v.tag, len(tag_ids)) for _, v in kept], np.int64))
    pts.step.append(np.full(m, ev.step, np.int64))
    pts.wall.append(np.full(m, ev.wall_time, np.float64))
    pts.value.append(np.array([v.value for _, v in kept], np.float64))
    pts.scalar_ok.append(np.array([v.simple for _, v in kept], bool))


def _decode_group(
    data: Bytes,
    buf: np.ndarray,
    group: np.ndarray,
    r: np.ndarray,
    width: int,
    wall: np.ndarray,
    step: np.ndarray,
    pts: _Points,
    general: np.ndarray,
    tag_ids: dict[str, int],
    plugins: dict[str, str],
) -> None:
    """Records whose summary tails have the same length: match them against templates."""
    if width > 4096 or group.size < 4:
        general[group] = True
        return
    nwords = -(-width // 8)
    starts = r[group]
    words = gather(buf, starts, nwords * 8).view("<u8")  # bytes past the tail are masked out below
    left = np.ones(group.size, bool)
    layout: tuple[int, int] | None = None
    keys = mask = np.zeros(0, np.uint64)
    misses = 0
    while True:
        i0 = int(np.argmax(left))
        if not left[i0]:
            return
        a = int(starts[i0])
        template = _template(data, a, a + width)
        if template is None:
            general[group[i0]] = True
            left[i0] = False
            misses += 1
            if misses > 8:
                general[group[left]] = True
                return
            continue
        _, (off, code), tag, plugin, simple = template
        if plugin is not None:
            plugins.setdefault(tag, plugin)
        rel = off - a
        w = np.dtype(code).itemsize
        if layout != (rel, w):  # hash every row with this template's value bytes masked out
            layout = (rel, w)
            keep = np.zeros(nwords * 8, np.uint8)
            keep[:width] = 0xFF
            keep[rel : rel + w] = 0
            mask = keep.view("<u8")
            keys = np.zeros(group.size, np.uint64)
            for j in range(nwords):
                keys = (keys ^ (words[:, j] & mask[j])) * np.uint64(0x9E3779B97F4A7C15 | 1)
        cand = np.flatnonzero(left & (keys == keys[i0]))
        exact = (((words[cand] ^ words[i0]) & mask) == 0).all(axis=1)  # a hash collision stays left
        hit = cand[exact]
        left[hit] = False
        idx = group[hit]
        vals = gather(buf, starts[hit] + rel, w).view(code)[:, 0].astype(np.float64)
        pts.record.append(idx)
        pts.sub.append(np.zeros(idx.size, np.int64))
        pts.tag.append(np.full(idx.size, tag_ids.setdefault(tag, len(tag_ids)), np.int64))
        pts.step.append(step[idx])
        pts.wall.append(wall[idx])
        pts.value.append(vals)
        pts.scalar_ok.append(np.full(idx.size, simple, bool))


def _template(data: Bytes, a: int, b: int) -> tuple[float, tuple[int, str], str, str | None, bool] | None:
    """Decode a summary tail ``data[a:b]`` if it is one field-5 summary with one fixed-width number."""
    try:
        fields = list(iter_fields(data, a, b))
        if len(fields) != 1 or fields[0][0] != 5 or fields[0][1] != LENGTH:
            return None
        _, _, x, y = fields[0]
        inner = list(iter_fields(data, x, y))
        if len(inner) != 1 or inner[0][0] != 1 or inner[0][1] != LENGTH:
            return None
        v = _summary_value(data, inner[0][2], inner[0][3])
    except WireError:
        return None
    if v.value is None or v.span is None:
        return None
    return v.value, v.span, v.tag, v.plugin, v.simple


def find_event_files(root: Path) -> list[Path]:
    """Event files at ``root`` (a file) or anywhere below it (a directory), sorted by path."""
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob(f"*{C.TFEVENTS_PREFIX[:-1]}*") if p.is_file() and "tfevents" in p.name)


def read_scalars(
    paths: Path | str | Iterable[Path | str],
    *,
    verify_crc: bool = False,
    tags: Sequence[str] | None = None,
) -> ScalarLog:
    """Read every scalar point of one or more event files (directories: every event file below).

    Args:
        paths: Event files and/or directories.
        verify_crc: Check both CRCs of every record (needs a native CRC-32C package; without one the
            log says CRCs were not checked).
        tags: Keep only tags matching one of these shell patterns (``fnmatch``); ``None`` keeps all.

    Returns:
        Every point, files ordered by first ``wall_time`` then path, tags by first appearance.

    Raises:
        InputError: A file that is not an event file (no complete record, or a record that is not an
            ``Event``), a CRC mismatch with ``verify_crc``, naming the file and byte offset.
        LrguardError: A path that does not exist or holds no event file.
    """
    items = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    files: list[Path] = []
    for item in items:
        if not item.exists():
            raise LrguardError(item, "no such file or directory")
        found = find_event_files(item)
        if not found:
            raise LrguardError(item, "no TensorBoard event file (events.out.tfevents.*) here")
        files.extend(f for f in found if f not in files)
    check = verify_crc and crc_backend() is not None
    tag_ids: dict[str, int] = {}
    plugins: dict[str, str] = {}
    per_file = []
    for f in files:
        data, buf = read_padded(f)
        framing = frame_records(data, f, buf)
        if framing.starts.size == 0 and framing.truncated_at is not None and len(data) >= 64:
            raise InputError(f, "not a TensorBoard event file: no complete record")
        if check:
            check_crcs(data, framing, f)
        pts, first_wall, version = _decode_file(data, buf, framing, f, tag_ids, plugins)
        per_file.append((f, data, framing, pts, first_wall, version))
    per_file.sort(key=lambda t: (math.inf if t[4] is None else t[4], str(t[0])))
    names = list(tag_ids)
    scalar_tag = np.array([plugins.get(t, "scalars") == "scalars" for t in names] or [False], bool)
    wanted = np.array([tags is None or any(fnmatch.fnmatchcase(t, pat) for pat in tags) for t in names] or [False])
    infos: list[EventFileInfo] = []
    cols: list[tuple[np.ndarray, ...]] = []
    notes: list[str] = []
    for order, (f, data, framing, pts, first_wall, version) in enumerate(per_file):
        if pts.record:
            rec = np.concatenate(pts.record)
            sub = np.concatenate(pts.sub)
            tag = np.concatenate(pts.tag)
            stp = np.concatenate(pts.step)
            wal = np.concatenate(pts.wall)
            val = np.concatenate(pts.value)
            simple = np.concatenate(pts.scalar_ok)
            keep = (simple | scalar_tag[tag]) & wanted[tag]
            rec, sub = rec[keep], sub[keep]
            sort = np.argsort(rec, kind="stable") if not sub.any() else np.lexsort((sub, rec))
            rec, sub = rec[sort], sub[sort]
            tag, stp, wal, val = (x[keep][sort] for x in (tag, stp, wal, val))
        else:
            rec = tag = stp = np.zeros(0, np.int64)
            wal = val = np.zeros(0, np.float64)
        back = _steps_back(tag, stp, framing.starts[rec] if rec.size else rec, names)
        info = EventFileInfo(
            path=f,
            order=order,
            size=len(data),
            records=int(framing.starts.size),
            points=int(tag.size),
            first_wall_time=first_wall,
            file_version=version,
            steps_back=back,
            truncated_at=framing.truncated_at,
            crc_checked=check,
        )
        infos.append(info)
        cols.append((tag, stp, wal, val, np.full(tag.size, order, np.int32)))
        if framing.truncated_at is not None:
            notes.append(f"{f}: incomplete last record at byte {framing.truncated_at} (still being written?) ignored")
        if back:
            notes.append(
                f"{f}: step went back {len(back)} time(s) (first: {back[0].tag} {back[0].previous_step} -> {back[0].step})"
            )
    if verify_crc and not check:
        notes.append(str(crc_unavailable()))
    scalars = _series(cols, names)
    return ScalarLog(files=tuple(infos), scalars=scalars, crc_checked=check, notes=tuple(notes))


def _steps_back(tag: np.ndarray, step: np.ndarray, offsets: np.ndarray, names: list[str]) -> tuple[StepBack, ...]:
    if tag.size < 2:
        return ()
    order = _by_tag(tag)
    t, s, o = tag[order], step[order], offsets[order]
    back = np.flatnonzero((t[1:] == t[:-1]) & (s[1:] < s[:-1])) + 1
    if not back.size:
        return ()
    found = sorted((int(o[i]), names[int(t[i])], int(s[i - 1]), int(s[i])) for i in back.tolist())
    return tuple(StepBack(tag=name, offset=off, previous_step=prev, step=cur) for off, name, prev, cur in found)


def _by_tag(tag: np.ndarray) -> np.ndarray:
    """Stable order by tag id (numpy radix-sorts 16-bit keys)."""
    small = tag.astype(np.int16) if tag.size and int(tag.max()) < 1 << 15 else tag
    return np.argsort(small, kind="stable")


def _series(cols: list[tuple[np.ndarray, ...]], names: list[str]) -> dict[str, ScalarSeries]:
    tag = np.concatenate([c[0] for c in cols]) if cols else np.zeros(0, np.int64)
    if not tag.size:
        return {}
    stp, wal, val, fil = (np.concatenate([c[k] for c in cols]) for k in (1, 2, 3, 4))
    order = _by_tag(tag)
    tag, stp, wal, val, fil = (x[order] for x in (tag, stp, wal, val, fil))
    bounds = np.concatenate([[0], np.flatnonzero(np.diff(tag)) + 1, [tag.size]]).astype(np.int64)
    first = order[bounds[:-1]]  # the sort is stable: each tag's first point comes first
    out: dict[str, ScalarSeries] = {}
    for k in np.argsort(first).tolist():  # tags by first appearance
        a, b = int(bounds[k]), int(bounds[k + 1])
        name = names[int(tag[a])]
        out[name] = ScalarSeries(name, stp[a:b], wal[a:b], val[a:b], fil[a:b])
    return out


@dataclass(frozen=True)
class EventFileSteps:
    """Steps found in one event file (session evidence for :mod:`lrguard.readers.run`).

    Attributes:
        path: The file.
        first_wall_time: ``wall_time`` of its first event (seconds since the epoch), if any.
        steps: Sorted distinct ``step`` values of events that carry a summary.
    """

    path: Path
    first_wall_time: float | None
    steps: tuple[int, ...]


def read_event_steps(path: Path) -> EventFileSteps:
    """Read the steps logged in one event file; tolerant: stops at the first bad or incomplete record.

    Every event with a summary counts (images, histograms too), unlike :func:`read_scalars`.
    """
    data = path.read_bytes()
    try:
        framing = frame_records(data, path)
    except InputError:
        framing = _tolerant_framing(data)
    steps: set[int] = set()
    first_wall: float | None = None
    for s, n in zip(framing.starts.tolist(), framing.lengths.tolist(), strict=True):
        a = s + HEADER
        try:
            has_summary = False
            wall: float | None = None
            step = 0
            for f, w, x, _ in iter_fields(data, a, a + n):
                if f == 1 and w == FIXED64:
                    wall = _FLOAT64.unpack_from(data, x)[0]
                elif f == 2 and w == VARINT:
                    step = to_int64(x)
                elif f == 5 and w == LENGTH:
                    has_summary = True
        except WireError:
            break
        if first_wall is None and wall is not None:
            first_wall = wall
        if has_summary:
            steps.add(step)  # proto3 omits a zero step
    return EventFileSteps(path=path, first_wall_time=first_wall, steps=tuple(sorted(steps)))


def _tolerant_framing(data: Bytes) -> Framing:
    starts: list[int] = []
    lengths: list[int] = []
    pos = 0
    while pos + HEADER <= len(data):
        (length,) = struct.unpack_from("<Q", data, pos)
        if length > 64 * 1024 * 1024 or pos + 16 + length > len(data):
            break
        starts.append(pos)
        lengths.append(length)
        pos += 16 + length
    return Framing(np.array(starts, np.int64), np.array(lengths, np.int64), None)
