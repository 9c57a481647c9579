"""A lean reader of a zip file's central directory (ZIP64 included).

``zipfile.ZipFile`` builds a full ``ZipInfo`` per entry, which dominates opening a torch checkpoint
with thousands of storages. :func:`read_directory` returns just what lrguard needs (name, local
header offset, sizes, CRC, method) and raises :class:`ZipDirError` on anything unusual, in which case
callers fall back to :mod:`zipfile` (:func:`zip_entries` does both).
"""

from __future__ import annotations

import os
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_EOCD = struct.Struct("<4s4H2LH")  # signature, disk, cd disk, entries on disk, entries, cd size, cd offset, comment
_EOCD64_LOC = struct.Struct("<4sLQL")  # signature, disk, eocd64 offset, disks
_EOCD64 = struct.Struct("<4sQ2H2L4Q")  # signature, size, made, need, disk, cd disk, n disk, n, cd size, cd offset
_CENTRAL = struct.Struct("<4s6H3L5H2L")
_MAX_TAIL = 65536 + 22


class ZipDirError(ValueError):
    """The central directory is not in the simple shape this reader handles."""


@dataclass(slots=True)
class ZipEntry:
    """One central-directory record.

    Attributes:
        filename: Entry name.
        header_offset: Offset of its local header in the file.
        compress_size: Stored size.
        file_size: Uncompressed size.
        CRC: CRC-32 recorded by the writer.
        compress_type: Compression method (0 = stored).
    """

    filename: str
    header_offset: int
    compress_size: int
    file_size: int
    CRC: int  # same name as zipfile.ZipInfo
    compress_type: int


def read_directory(path: str | Path) -> tuple[list[ZipEntry], int]:
    """Read the central directory of ``path`` (see :func:`_read`), normalising parse errors."""
    try:
        return _read(path)
    except (struct.error, IndexError, UnicodeDecodeError) as exc:
        raise ZipDirError(f"malformed central directory ({exc})") from None


def _read(path: str | Path) -> tuple[list[ZipEntry], int]:
    """Read the central directory of ``path``.

    Returns:
        ``(entries in directory order, offset where the central directory starts)``.

    Raises:
        ZipDirError: No end-of-central-directory record, multi-disk, or inconsistent records.
        OSError: The file cannot be read.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        tail_start = max(0, size - _MAX_TAIL)
        tail = os.pread(fd, size - tail_start, tail_start)
        pos = tail.rfind(b"PK\x05\x06")
        if pos < 0 or pos + _EOCD.size > len(tail):
            raise ZipDirError("no end-of-central-directory record")
        _sig, disk, cd_disk, _n_disk, n, cd_size, cd_offset, _clen = _EOCD.unpack_from(tail, pos)
        eocd_at = tail_start + pos
        if disk or cd_disk:
            raise ZipDirError("multi-disk archive")
        loc_at = eocd_at - _EOCD64_LOC.size
        loc = os.pread(fd, _EOCD64_LOC.size, loc_at) if loc_at >= 0 else b""
        if len(loc) == _EOCD64_LOC.size and loc[:4] == b"PK\x06\x07":  # ZIP64 (torch always writes one)
            _s, _d, eocd64_at, _disks = _EOCD64_LOC.unpack(loc)
            rec = os.pread(fd, _EOCD64.size, eocd64_at)
            if len(rec) != _EOCD64.size or rec[:4] != b"PK\x06\x06":
                raise ZipDirError("ZIP64 end record missing")
            fields = _EOCD64.unpack(rec)
            n, cd_size, cd_offset = fields[7], fields[8], fields[9]
            concat = eocd64_at - cd_size - cd_offset
        elif n == 0xFFFF or cd_size == 0xFFFFFFFF or cd_offset == 0xFFFFFFFF:
            raise ZipDirError("ZIP64 locator missing")
        else:
            concat = eocd_at - cd_size - cd_offset  # bytes prepended to the archive (zipfile does the same)
        if concat < 0:
            raise ZipDirError("central directory offset beyond its end record")
        start = cd_offset + concat
        if start < 0 or start + cd_size > size:
            raise ZipDirError("central directory outside the file")
        cd = os.pread(fd, cd_size, start)
    finally:
        os.close(fd)
    if len(cd) != cd_size:
        raise ZipDirError("short central directory")
    entries: list[ZipEntry] = []
    p = 0
    unpack = _CENTRAL.unpack_from
    for _ in range(n):
        if p + 46 > cd_size:
            raise ZipDirError("central directory shorter than its entry count")
        (
            sig,
            _made,
            _need,
            flags,
            method,
            _t,
            _d,
            crc,
            csize,
            usize,
            nlen,
            xlen,
            clen,
            _disk,
            _ia,
            _ea,
            offset,
        ) = unpack(cd, p)
        if sig != b"PK\x01\x02":
            raise ZipDirError("bad central directory entry signature")
        raw = cd[p + 46 : p + 46 + nlen]
        name = raw.decode("utf-8" if flags & 0x800 else "cp437")
        if usize == 0xFFFFFFFF or csize == 0xFFFFFFFF or offset == 0xFFFFFFFF:
            usize, csize, offset = _zip64_extra(cd[p + 46 + nlen : p + 46 + nlen + xlen], usize, csize, offset)
        entries.append(ZipEntry(name, offset + concat, csize, usize, crc, method))
        p += 46 + nlen + xlen + clen
    return entries, start


def _zip64_extra(extra: bytes, usize: int, csize: int, offset: int) -> tuple[int, int, int]:
    i = 0
    while i + 4 <= len(extra):
        tag, ln = struct.unpack_from("<HH", extra, i)
        if tag == 0x0001:
            vals = list(struct.unpack_from(f"<{ln // 8}Q", extra, i + 4))
            if usize == 0xFFFFFFFF:
                usize = vals.pop(0)
            if csize == 0xFFFFFFFF:
                csize = vals.pop(0)
            if offset == 0xFFFFFFFF:
                offset = vals.pop(0)
            return usize, csize, offset
        i += 4 + ln
    raise ZipDirError("ZIP64 sizes without a ZIP64 extra field")


_LAST_DIRECTORY: list[Any] = [None, None]  # [(path, size, mtime_ns, inode), result] of the last read


def zip_entries(path: Path) -> tuple[list[Any], int]:
    """Central directory entries of a zip (lean reader, :mod:`zipfile` as fallback) and its start.

    The last file's directory is kept (keyed by path, size, modification time and inode), so that
    reading the pickle and checking the CRCs of one file parse it once. Callers must not modify it.

    Raises:
        zipfile.BadZipFile: Neither reader understands the file.
    """
    st = os.stat(path)
    key = (str(path), st.st_size, st.st_mtime_ns, st.st_ino)
    if _LAST_DIRECTORY[0] == key:
        return _LAST_DIRECTORY[1]  # type: ignore[no-any-return]
    result: tuple[list[Any], int]
    try:
        result = read_directory(path)
    except ZipDirError:
        with zipfile.ZipFile(path) as zf:
            result = zf.infolist(), int(getattr(zf, "start_dir", 0))
    _LAST_DIRECTORY[:] = [key, result]
    return result
