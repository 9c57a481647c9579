"""The data pass of ``lrguard ckpt verify``: every zip entry's local header, size and CRC-32, in one read.

:func:`begin` starts it in a background thread; it reads the file front to back in blocks of
:data:`BLOCK` bytes and computes each stored entry's CRC-32 over the bytes as they lie in the blocks
(ISA-L's when ``isal`` is installed, else zlib's; both release the GIL), while the caller walks the
pickle. This module imports only the zip directory reader, so the CLI can start the pass before it
imports the rest of lrguard.
"""

from __future__ import annotations

import os
import struct
import threading
import zipfile
from dataclasses import dataclass
from io import FileIO
from pathlib import Path

from lrguard.checkpoint.integrity_report import IntegrityReport, Progress
from lrguard.checkpoint.zipdir import zip_entries

try:  # ISA-L's CRC-32 is 2-3x faster than zlib's; optional (pip install "lrguard[fast]")
    from isal.isal_zlib import crc32 as _crc32
except ImportError:  # pragma: no cover - depends on the environment
    from zlib import crc32 as _crc32

_LOCAL = struct.Struct("<4s5H3I2H")  # local file header

BLOCK = 4 << 20  # bytes per sequential read (bigger blocks fall out of the CPU caches before their CRC)


@dataclass(slots=True)
class _Entry:
    name: str
    header: int  # offset of the local header
    size: int  # stored (= uncompressed) size
    crc: int
    stored: bool
    no_crc: bool = False  # the writer recorded no CRC (torch set_crc32_options(False)): sizes only


def _zip_plan(path: Path, size: int, report: IntegrityReport) -> tuple[list[_Entry], int]:
    """Entries of the central directory sorted by offset, and where the central directory starts."""
    try:
        infos, start_dir = zip_entries(path)
    except (zipfile.BadZipFile, OSError) as exc:
        report.fail(f"zip central directory unreadable ({exc}): the file is truncated or corrupt")
        return [], size
    stored = zipfile.ZIP_STORED
    entries = [
        _Entry(
            i.filename,
            i.header_offset,
            i.file_size,
            i.CRC,
            i.compress_type == stored and i.compress_size == i.file_size,
        )
        for i in infos
    ]
    entries.sort(key=lambda e: e.header)
    report.checked["entries"] = len(entries)
    if len(entries) > 1 and all(e.crc == 0 for e in entries):
        report.notes.append(
            "no CRC-32 recorded (saved with torch.serialization.set_crc32_options(False)): data bytes are "
            "checked for presence and size only"
        )
        for e in entries:
            e.no_crc = True
    return entries, start_dir


class _Window:
    """A sliding window over the file, refilled by sequential reads of :data:`BLOCK` bytes."""

    def __init__(self, fh: FileIO, size: int, block: int = BLOCK) -> None:
        self.fh = fh
        self.size = size
        self.block = block
        self.buf = bytearray(block)
        self.view = memoryview(self.buf)
        self.start = 0
        self.end = 0  # the window holds file bytes [start, end)

    def get(self, a: int, b: int) -> memoryview:
        """File bytes ``[a, b)`` (shorter at the end of the file); ``b - a`` must not exceed the block."""
        if a < self.start or b > self.end:
            b_fill = min(a + self.block, self.size)
            if a < self.end and a >= self.start:  # keep the overlap, read only what follows it
                keep = self.end - a
                self.view[:keep] = self.view[a - self.start : self.end - self.start]
            else:
                keep = 0
                self.fh.seek(a)
            got = keep
            while a + got < b_fill:
                n = self.fh.readinto(self.view[got : b_fill - a])
                if not n:
                    break
                got += n
            self.start, self.end = a, a + got
        return self.view[a - self.start : min(b, self.end) - self.start]

    def take(self, a: int, b: int) -> memoryview:
        """Up to ``b - a`` file bytes from ``a``: what the window holds, or a fresh block (empty at EOF)."""
        if not self.start <= a < self.end:
            self.fh.seek(a)
            got = self.fh.readinto(self.view) or 0
            self.start, self.end = a, a + got
        return self.view[a - self.start : min(b, self.end) - self.start]


def _data_pass(
    fh: FileIO,
    size: int,
    entries: list[_Entry],
    start_dir: int,
    progress: Progress | None,
    block: int = BLOCK,
) -> tuple[list[str], dict[str, tuple[int, int]]]:
    """One sequential pass over the file: local headers, sizes and CRC-32 of every entry, in file order.

    Returns:
        ``(problems, {entry name: (data offset or -1 for a compressed entry, size)})``.
    """
    problems: list[str] = []
    spans: dict[str, tuple[int, int]] = {}
    win = _Window(fh, size, block)
    unpack = _LOCAL.unpack_from
    local_size = _LOCAL.size
    crc32 = _crc32
    stored_method = zipfile.ZIP_STORED
    done = 0  # bytes reported to progress
    last = len(entries) - 1
    for k, e in enumerate(entries):
        end = entries[k + 1].header if k < last else start_dir
        head = win.get(e.header, e.header + local_size)
        if len(head) < local_size:
            problems.append(f"{e.name}: local header beyond end of file (truncated)")
            continue
        sig, _v, _flag, method, _t, _d, _crc, _cs, _us, nlen, xlen = unpack(head, 0)
        if sig != b"PK\x03\x04":
            problems.append(f"{e.name}: bad local header signature at offset {e.header}")
            continue
        at = e.header + local_size
        if bytes(win.get(at, at + nlen)).decode("utf-8", "replace") != e.name:
            problems.append(f"{e.name}: local header names another file")
        data = at + nlen + xlen
        if not e.stored or method != stored_method:
            spans[e.name] = (-1, e.size)
            continue
        stop = data + e.size
        if stop > end:
            problems.append(f"{e.name}: data runs past the end of the file or into the next entry (truncated)")
            continue
        spans[e.name] = (data, e.size)
        # the entry's bytes as they lie in the window and the blocks after it: each byte read once, never copied
        crc, pos = 0, data
        while pos < stop:
            chunk = win.take(pos, stop)
            if not len(chunk):
                break
            crc = crc32(chunk, crc)
            pos += len(chunk)
        if crc != e.crc and not e.no_crc:
            problems.append(f"{e.name}: CRC-32 mismatch (bytes changed after writing)")
        if progress and stop - done >= block:
            progress(stop - done)
            done = stop
    if progress and start_dir > done:
        progress(start_dir - done)
    return problems, spans


class DataPass:
    """The CRC/size pass over a zip checkpoint, running in a background thread.

    Started before the pickle is walked (:func:`begin`) so that both proceed together: the CRC-32
    routines release the GIL on large buffers. :meth:`result` waits for it.
    """

    def __init__(self, path: Path, size: int, progress: Progress | None, block: int = BLOCK) -> None:
        self.report = IntegrityReport()
        self.entries, self.start_dir = _zip_plan(path, size, self.report)
        self.problems: list[str] = []
        self.spans: dict[str, tuple[int, int]] = {}
        self._error: BaseException | None = None
        self._fh = FileIO(path, "rb")  # unbuffered: every read lands in the window directly
        if hasattr(os, "posix_fadvise"):  # one pass front to back: ask the kernel for big readahead
            os.posix_fadvise(self._fh.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
        self._thread = threading.Thread(target=self._run, args=(size, progress, block), daemon=True)
        self._thread.start()

    def _run(self, size: int, progress: Progress | None, block: int) -> None:
        try:
            self.problems, self.spans = _data_pass(self._fh, size, self.entries, self.start_dir, progress, block)
        except BaseException as exc:  # re-raised in the caller's thread by result()
            self._error = exc
        finally:
            self._fh.close()

    def result(self) -> DataPass:
        """Wait for the pass to finish (re-raising what it raised) and return it."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self


def begin(path: str | Path, progress: Progress | None = None, *, block: int = BLOCK) -> DataPass | None:
    """Start the data pass of ``path`` in the background when it is a zip file (``None`` otherwise).

    ``block`` is the size of each read (a local header and its name must fit: at least 64 KiB).
    Pass the result to :func:`verify` as ``pending`` once the pickle has been walked.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            if fh.read(4) != b"PK\x03\x04":
                return None
    except OSError:
        return None
    return DataPass(path, size, progress, block)
