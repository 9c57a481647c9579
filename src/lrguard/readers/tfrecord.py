"""TFRecord framing (the container of TensorBoard event files) and its masked CRC-32C checks.

A file is a sequence of records, each ``uint64 length | uint32 masked_crc32c(length bytes) | data |
uint32 masked_crc32c(data)``, little-endian. :func:`frame_records` finds every record start without
a Python step per record where it can: writers emit records whose sizes repeat with a short period
(one size per tag), so the walk predicts the next few thousand starts from that period and checks
all predicted length fields at once with numpy; a prediction is accepted only up to its first
mismatch, and each accepted start was read from the header before it, so the result is exactly
what a sequential walk finds. Irregular stretches are walked one record at a time.

CRCs are checked only on request and only with a native CRC-32C package (``crc32c`` or
``google-crc32c``, ``pip install "lrguard[fast]"``); without one :func:`crc_backend` is ``None`` and
callers report that CRCs were not checked.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lrguard.errors import InputError

HEADER = 12  # uint64 length + uint32 masked CRC of the length
OVERHEAD = 16  # header + uint32 masked CRC of the data
MAX_RECORD = 256 * 1024 * 1024  # a longer length field is corruption, not a record
_MASK_DELTA = 0xA282EAD8


_NO_CRC = "CRCs not checked: no native CRC-32C package installed (pip install 'lrguard[fast]' adds crc32c)"
_crc_cache: list[tuple[Callable[[bytes | memoryview], int] | None, str | None]] = []


def _load_crc() -> tuple[Callable[[bytes | memoryview], int] | None, str | None]:
    """The native CRC-32C function and its package name, imported on first use only.

    The packages are imported lazily because ``crc32c`` pulls in ``importlib.metadata`` (tens of
    milliseconds) and most reads never check CRCs.
    """
    if _crc_cache:
        return _crc_cache[0]
    found: tuple[Callable[[bytes | memoryview], int] | None, str | None] = (None, None)
    try:
        import crc32c as _c

        found = (_c.crc32c, "crc32c")
    except ImportError:
        try:
            import google_crc32c as _g

            if getattr(_g, "implementation", "c") == "c":
                found = (_g.value, "google-crc32c")
        except ImportError:
            pass
    _crc_cache.append(found)
    return found


def crc_backend() -> str | None:
    """The native CRC-32C package in use (``crc32c`` or ``google-crc32c``), ``None`` without one."""
    return _load_crc()[1]


def crc_unavailable() -> str | None:
    """Why CRCs cannot be checked (``None`` when a native package is available)."""
    return None if crc_backend() else _NO_CRC


def __getattr__(name: str) -> object:
    """``CRC_BACKEND`` and ``CRC_UNAVAILABLE``, resolved on first access (the import is lazy)."""
    if name == "CRC_BACKEND":
        return crc_backend()
    if name == "CRC_UNAVAILABLE":
        return crc_unavailable()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def masked_crc32c(data: bytes | memoryview) -> int:
    """TFRecord's masked CRC-32C of ``data``.

    Raises:
        RuntimeError: No native CRC-32C package is installed (check :func:`crc_backend` first).
    """
    crc = _load_crc()[0]
    if crc is None:
        raise RuntimeError(_NO_CRC)
    return mask_crc(crc(data))


def mask_crc(crc: int) -> int:
    """Mask a raw CRC-32C the way TFRecord stores it: rotate right by 15, add a constant."""
    crc &= 0xFFFFFFFF
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


@dataclass(frozen=True)
class Framing:
    """Where the records of one file are.

    Attributes:
        starts: Offset of each complete record's header (``int64``, increasing).
        lengths: Its data length (``int64``); the data is at ``starts + 12``.
        truncated_at: Offset of an incomplete last record (a file still being written), else ``None``.
    """

    starts: np.ndarray
    lengths: np.ndarray
    truncated_at: int | None


def padded_bytes(data: bytes | memoryview, pad: int = 64) -> np.ndarray:
    """``data`` as a ``uint8`` array with ``pad`` zero bytes after it (fixed-width gathers never overrun)."""
    buf = np.zeros(len(data) + pad, np.uint8)
    buf[: len(data)] = np.frombuffer(data, np.uint8)
    return buf


def read_padded(path: Path, pad: int = 64) -> tuple[memoryview, np.ndarray]:
    """Read a file into a zero-padded ``uint8`` array in one system call.

    Returns:
        ``(data, buf)``: ``data`` the file's bytes (a view of ``buf`` without the padding), ``buf``
        for :func:`gather`. A file still growing is read up to its size when opened.
    """
    with path.open("rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        buf = np.zeros(size + pad, np.uint8)
        view = memoryview(buf.data)  # type: ignore[arg-type]  # numpy arrays are buffers
        got = fh.readinto(view[:size]) or 0
    return view[:got], buf


def gather(buf: np.ndarray, offsets: np.ndarray, width: int) -> np.ndarray:
    """Rows ``buf[o : o + width]`` for each offset, as a contiguous ``(len(offsets), width)`` array."""
    windows = np.lib.stride_tricks.sliding_window_view(buf, width)
    return windows[offsets]


def _walk(
    data: bytes | memoryview, pos: int, limit: int, starts: list[int], lengths: list[int], path: Path
) -> tuple[int, bool]:
    """Walk up to ``limit`` records one by one; return ``(position, truncated)``."""
    n = len(data)
    unpack = struct.Struct("<Q").unpack_from
    for _ in range(limit):
        if pos >= n:
            return pos, False
        if pos + HEADER > n:
            return pos, True
        (length,) = unpack(data, pos)
        if length > MAX_RECORD:
            what = "not a TensorBoard event file" if pos == 0 else "corrupt event file"
            raise InputError(path, f"{what}: record at byte {pos} claims {length} bytes")
        if pos + OVERHEAD + length > n:
            return pos, True
        starts.append(pos)
        lengths.append(length)
        pos += OVERHEAD + length
    return pos, False


def _period(sizes: list[int]) -> int | None:
    """Smallest ``p`` with the last ``p`` sizes equal to the ``p`` before them."""
    for p in range(1, len(sizes) // 2 + 1):
        if sizes[-p:] == sizes[-2 * p : -p]:
            return p
    return None


def frame_records(data: bytes | memoryview, path: Path, buf: np.ndarray | None = None) -> Framing:
    """Find every complete record of an event file's bytes.

    Args:
        data: The whole file.
        path: The file, for error messages.
        buf: ``padded_bytes(data)`` when the caller has it already.

    Returns:
        The records; a last record cut short (or a header shorter than 12 bytes) is reported as
        ``truncated_at`` instead of failing.

    Raises:
        InputError: A length field above 256 MiB (garbage or corruption), naming the file and offset.
    """
    if buf is None:
        buf = padded_bytes(data)
    n = len(data)
    chunks_s: list[np.ndarray] = []
    chunks_l: list[np.ndarray] = []
    recent: list[int] = []
    pos = 0
    truncated = False
    while pos < n:
        s_list: list[int] = []
        l_list: list[int] = []
        pos, truncated = _walk(data, pos, 64, s_list, l_list, path)
        if s_list:
            chunks_s.append(np.array(s_list, np.int64))
            chunks_l.append(np.array(l_list, np.int64))
            recent = (recent + [x + OVERHEAD for x in l_list])[-64:]
        if truncated or pos >= n:
            break
        want = 256
        while (p := _period(recent)) is not None:
            pattern = np.array(recent[-p:], np.int64)
            k = min(want, (n - pos) // int(pattern.min()) + 1)
            sizes = np.tile(pattern, -(-k // p))[:k]
            ends = pos + np.cumsum(sizes)
            fits = int(np.searchsorted(ends, n, side="right"))  # records that end inside the file
            if fits == 0:
                break
            sizes, ends = sizes[:fits], ends[:fits]
            starts = ends - sizes
            found = gather(buf, starts, 8).view("<u8")[:, 0].astype(np.int64) + OVERHEAD
            bad = np.flatnonzero(found != sizes)
            good = int(bad[0]) if bad.size else fits
            if good == 0:
                break
            chunks_s.append(starts[:good])
            chunks_l.append(sizes[:good] - OVERHEAD)
            pos = int(ends[good - 1])
            recent = (recent + sizes[max(0, good - 64) : good].tolist())[-64:]
            if good < fits or fits < k:
                break
            want = min(want * 4, 1 << 20)
    if not chunks_s:
        empty = np.zeros(0, np.int64)
        return Framing(empty, empty, pos if truncated else None)
    return Framing(np.concatenate(chunks_s), np.concatenate(chunks_l), pos if truncated else None)


def check_crcs(data: bytes | memoryview, framing: Framing, path: Path) -> None:
    """Check both masked CRCs of every record.

    Raises:
        InputError: The first record whose length or data CRC does not match, naming file and offset.
        RuntimeError: No native CRC-32C package (check :func:`crc_backend` first).
    """
    crc = _load_crc()[0]
    if crc is None:
        raise RuntimeError(_NO_CRC)
    view = memoryview(data)
    starts = framing.starts.tolist()
    lengths = framing.lengths.tolist()
    head = np.array([crc(view[s : s + 8]) for s in starts], np.uint64)
    body = np.array([crc(view[s + HEADER : s + HEADER + n]) for s, n in zip(starts, lengths, strict=True)], np.uint64)
    buf = np.frombuffer(data, np.uint8)
    for name, raw, where in (
        ("length", head, framing.starts + 8),
        ("data", body, framing.starts + HEADER + framing.lengths),
    ):
        stored = gather(buf, where, 4).view("<u4")[:, 0] if len(where) else np.zeros(0, np.uint32)
        masked = (((raw >> np.uint64(15)) | (raw << np.uint64(17))) + np.uint64(_MASK_DELTA)) & np.uint64(0xFFFFFFFF)
        bad = np.flatnonzero(masked != stored.astype(np.uint64))
        if bad.size:
            at = int(framing.starts[bad[0]])
            raise InputError(path, f"record at byte {at}: {name} CRC mismatch (corrupt event file)")
