"""Open a PyTorch checkpoint file and read its main pickle without executing it.

Three layouts are recognised:

* ``torch-zip`` (``torch.save`` since 1.6): a zip with ``<prefix>/data.pkl`` and one entry per storage,
  ``<prefix>/data/<key>``;
* ``torch-legacy`` (``_use_new_zipfile_serialization=False`` / pre-1.6): magic, protocol and sys-info
  pickles, the main pickle, a pickle with the storage keys, then every storage as an 8-byte element
  count followed by its bytes;
* ``pickle``: any other single pickle stream (``pickle.dump``, ``.pkl`` files).

Storages are located (zip entry sizes, legacy offsets) but not read. Every pickle a loader could run
is read and kept in :attr:`Loaded.streams` for the security verdict: each ``data.pkl`` candidate of a
zip (duplicate entries, archives concatenated or hidden before the one the central directory
describes) and its other pickle entries, the five pickles of the legacy format, and pickles stacked
after the last one a loader expects.
"""

from __future__ import annotations

import mmap
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lrguard import constants as C
from lrguard.checkpoint.npy import NPY_MAGIC, npy_pickle_offset
from lrguard.checkpoint.pickle_walk import Limits, PickleReadError, PickleResult, read_pickle
from lrguard.checkpoint.placeholders import StorageRef
from lrguard.checkpoint.rebuild import storage_dtype
from lrguard.checkpoint.security import SUSPICIOUS, Finding, Stream
from lrguard.checkpoint.zipdir import zip_entries
from lrguard.errors import InputError

ZIP_MAGIC = b"PK\x03\x04"
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
DATA_PKL = C.TORCH_DATA_PKL


@dataclass
class Loaded:
    """A checkpoint's main pickle, read without executing anything.

    Attributes:
        path: The file.
        format: ``"torch-zip"``, ``"torch-legacy"`` or ``"pickle"``.
        root: The top-level object.
        pickle: The pickle walk result (globals and calls with offsets).
        storages: Storage key -> :class:`StorageRef` for every storage the pickle references.
        storage_bytes: Storage key -> bytes present in the file (``None`` for a plain pickle).
        storage_offsets: Storage key -> file offset: of the zip entry's local header (``torch-zip``) or
            of the storage bytes themselves (``torch-legacy``).
        prefix: Zip archive prefix (``"archive"``), ``None`` otherwise.
        file_size: Size of the file in bytes.
        notes: Anything odd noticed while opening (extra bytes, unknown entries).
        streams: Every pickle read, for the security verdict.
        findings: Container-level security findings (an entry not judged to its end, ...).
        error: Why the main pickle could not be read (``load(..., tolerant=True)`` only); ``root`` is
            ``None`` then.
    """

    path: Path
    format: str
    root: Any
    pickle: PickleResult
    storages: dict[str, StorageRef] = field(default_factory=dict)
    storage_bytes: dict[str, int] | None = None
    storage_offsets: dict[str, int] = field(default_factory=dict)
    prefix: str | None = None
    file_size: int = 0
    notes: list[str] = field(default_factory=list)
    streams: list[Stream] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    error: str | None = None


MAX_STACKED = 64  # pickles read after the last one a loader expects (each one is judged)
MAX_CANDIDATES = 256  # zip entries judged as pickles


class _StorageLoader:
    """lrguard's own ``persistent_load``: turns ``('storage', type, key, location, numel, ...)`` into refs."""

    def __init__(self) -> None:
        self.storages: dict[str, StorageRef] = {}

    def __call__(self, pid: Any) -> Any:
        if type(pid) is tuple and len(pid) >= 2 and pid[0] == "module":
            return pid[1]  # legacy torch.save(model): the class itself (torch returns it after a source check)
        if type(pid) is not tuple or len(pid) < 5 or pid[0] != "storage":
            return pid  # unknown persistent id: keep it as read
        key = pid[2] if type(pid[2]) is str else str(pid[2])
        ref = self.storages.get(key)
        if ref is None:
            _, storage_type, key, location, numel = pid[:5]
            key = str(key)
            dtype, itemsize = storage_dtype(storage_type)
            ref = StorageRef(key, dtype, int(numel) if isinstance(numel, int) else 0, str(location), itemsize)
            self.storages[key] = ref
        return ref


def is_tar_header(block: bytes) -> bool:
    """Whether ``block`` (the first 512 bytes) is a tar header: its checksum matches (v7, ustar, GNU, pax)."""
    if len(block) < 512 or block[:1] == b"\0":
        return False
    field = block[148:156]
    try:
        stored = int(field.replace(b"\0", b" ").strip() or b"-1", 8)
    except ValueError:
        return False
    unsigned = sum(block[:148]) + 8 * 32 + sum(block[156:512])
    signed = sum(b - 256 if b > 127 else b for b in block[:148] + block[156:512]) + 8 * 32
    return stored in (unsigned, signed)


def find_data_pkl(names: list[str]) -> str | None:
    """Return the ``<prefix>/data.pkl`` entry of a torch zip (shortest prefix), or ``None``."""
    cands = [n for n in names if n == DATA_PKL or n.endswith("/" + DATA_PKL)]
    return min(cands, key=len) if cands else None


def load(path: str | Path, limits: Limits = Limits(), *, tolerant: bool = False) -> Loaded:  # noqa: B008
    """Open ``path`` and read its pickles without executing them.

    Args:
        path: A ``.pt``/``.pth``/``.ckpt``/``.bin`` file or any pickle.
        limits: Safety limits for the pickle walk.
        tolerant: Return a :class:`Loaded` with ``error`` set (and what was read before the failure in
            ``streams``) when the main pickle is malformed but at least one opcode was read, instead of
            raising; for the security verdict, which must judge what ran before the bad opcode.

    Returns:
        The parsed checkpoint.

    Raises:
        InputError: The file is missing, empty, truncated, not a checkpoint, or its pickle is malformed.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    if size == 0:
        raise InputError(path, "empty file")
    if head.startswith(ZIP_MAGIC):
        return _load_zip(path, size, limits, tolerant)
    with path.open("rb") as fh:
        if is_tar_header(fh.read(512)):
            raise InputError(path, "tar-format torch checkpoint (torch < 0.4) is not supported")
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        return _load_stream(path, mm, size, limits, tolerant)


def _local_entry(buf: Any, at: int, limit: int) -> tuple[str, int, int, int, int] | None:
    """Parse the local header at ``at``: ``(name, method, data offset, compressed size, flags)``."""
    if at < 0 or at + 30 > len(buf) or bytes(buf[at : at + 4]) != ZIP_MAGIC:
        return None
    flags, method = struct.unpack_from("<HH", buf, at + 6)
    csize = struct.unpack_from("<I", buf, at + 18)[0]
    nlen, xlen = struct.unpack_from("<HH", buf, at + 26)
    name = bytes(buf[at + 30 : at + 30 + nlen]).decode("utf-8", "replace")
    start = at + 30 + nlen + xlen
    if csize == 0xFFFFFFFF or (flags & 8 and csize == 0):
        csize = limit - start  # size in a ZIP64 extra or a data descriptor: up to the end of the region
    return name, method, start, max(min(csize, limit - start), 0), flags


def _entry_bytes(buf: Any, method: int, start: int, csize: int, limits: Limits) -> tuple[Any, str | None]:
    """The bytes of one zip entry, inflated with a cap; ``(data, problem)``.

    Stored entries are read as they are. Deflated ones are inflated incrementally and cut
    off at ``limits.max_inflate``: a zip bomb costs that much memory and time, never more.
    """
    if method == zipfile.ZIP_STORED:
        return buf[start : start + csize], None
    if method != zipfile.ZIP_DEFLATED:
        return b"", f"compression method {method} not read"
    inflater = zlib.decompressobj(-15)
    out = bytearray()
    pos, end = start, start + csize
    cap = limits.max_inflate
    try:
        while pos < end and len(out) <= cap:
            chunk = bytes(buf[pos : min(pos + (1 << 20), end)])
            pos += len(chunk)
            out += inflater.decompress(chunk, cap + 1 - len(out))
            while inflater.unconsumed_tail and len(out) <= cap:
                out += inflater.decompress(inflater.unconsumed_tail, cap + 1 - len(out))
            if inflater.eof:
                break
    except zlib.error as exc:
        return bytes(out), f"corrupt deflate data ({exc})"
    if len(out) > cap:
        return bytes(out[:cap]), f"inflates past {cap >> 20} MiB ({csize:,} bytes compressed): judged up to there only"
    return bytes(out), None


def _is_pickle_entry(name: str, data_dir: str) -> bool:
    if name.startswith(data_dir) or "/.data/" in name or name.startswith(".data/"):
        return False  # raw storages and torch's version records: never unpickled
    return name.endswith((".pkl", ".pickle", ".npy")) or "/" not in name.rstrip("/") or name.count("/") == 1


def _load_zip(path: Path, size: int, limits: Limits, tolerant: bool) -> Loaded:
    try:
        infos, cd_start = zip_entries(path)
    except zipfile.BadZipFile as exc:
        raise InputError(path, f"truncated or corrupt zip ({exc})") from None
    except (OSError, EOFError, zipfile.LargeZipFile) as exc:
        raise InputError(path, f"cannot read zip: {exc}") from None
    names = [i.filename for i in infos]
    entry = find_data_pkl(names)
    prefix = entry[: -len(DATA_PKL)].rstrip("/") if entry else (names[0].split("/")[0] if names else "")
    data_dir = f"{prefix}/data/" if prefix else "data/"
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        # every (offset of a local header) a reader could take as a pickle entry
        cands: dict[int, str] = {}
        csizes = {i.header_offset: i.compress_size for i in infos}  # the central directory's sizes win
        for info in infos:
            if info.filename == entry or info.filename.endswith("/" + DATA_PKL) or info.filename == DATA_PKL:
                cands[info.header_offset] = info.filename
            elif _is_pickle_entry(info.filename, data_dir):
                cands.setdefault(info.header_offset, info.filename)
        first = min((i.header_offset for i in infos), default=cd_start)
        hidden = _scan_local_headers(mm, 0, first) if first > 0 else []  # concatenated / prepended archives
        for off in hidden:
            cands.setdefault(off, "")
        hidden_note = f"{len(hidden)} zip entries before the archive the central directory describes" if hidden else ""
        main_result: PickleResult | None = None
        main_error: PickleReadError | None = None
        main_len = 0
        loader = _StorageLoader()
        streams: list[Stream] = []
        findings: list[Finding] = []
        for off in sorted(cands)[:MAX_CANDIDATES]:
            le = _local_entry(mm, off, cd_start if off >= first else first)
            if le is None:
                continue
            name, method, start, csize, _flags = le
            if off in csizes:
                csize = min(csizes[off], max(size - start, 0))
            if not cands[off] and not (name.endswith((".pkl", ".pickle", ".npy")) or name == DATA_PKL):
                continue
            data, problem = _entry_bytes(mm, method, start, csize, limits)
            label = name + (f" (at {off})" if off < first or names.count(name) > 1 else "")
            if problem:
                findings.append(Finding(SUSPICIOUS, "container", label, off, "", name, problem))
                if name == entry and not tolerant:
                    raise InputError(path, f"{name}: {problem}")
            if bytes(data[:6]) == NPY_MAGIC:  # an .npz member: its object-array pickle, if any
                npy_at = npy_pickle_offset(bytes(data))
                if npy_at is not None:
                    res, err = _walk(data, npy_at, _StorageLoader(), limits)
                    streams.append(Stream(f"{label} (object array pickle)", off, res, err))
                continue
            if len(data) == 0 or bytes(data[:1]) not in _PICKLE_FIRST:
                continue
            is_main = name == entry and main_result is None and main_error is None and off >= first
            res, err = _walk(data, 0, loader if is_main else _StorageLoader(), limits)
            streams.append(Stream(label, off, res, err))
            if res is not None and err is None:
                streams.extend(_stacked(data, res.end, label, limits))
            if is_main:
                main_result, main_error, main_len = res, err, len(data)
            del data
    if entry is None:
        if not streams and not findings:
            raise InputError(path, "zip archive without data.pkl or any pickle (not a torch checkpoint)")
        main_error = main_error or PickleReadError("zip archive without data.pkl", 0)
    if main_result is None or main_error is not None:
        problem = f"{entry or 'zip'}: {main_error}" if main_error else f"{entry}: not found at its local header"
        if not tolerant:
            raise InputError(path, problem)
        partial = main_error.partial if main_error else None
        blank = partial or PickleResult(None, 0, 0)
        loaded = Loaded(path, "torch-zip", None, blank, loader.storages, {}, {}, prefix, size, [], streams, findings)
        loaded.error = problem
        return loaded
    sizes = {i.filename[len(data_dir) :]: i.file_size for i in infos if i.filename.startswith(data_dir)}
    offsets = {}
    for info in infos:
        if info.filename.startswith(data_dir) and info.compress_type == zipfile.ZIP_STORED:
            offsets[info.filename[len(data_dir) :]] = info.header_offset  # local header; data after it
    loaded = Loaded(path, "torch-zip", main_result.value, main_result, loader.storages, sizes, offsets, prefix, size)
    loaded.streams, loaded.findings = streams, findings
    if hidden_note:
        loaded.notes.append(hidden_note)
    if names.count(entry) > 1:  # type: ignore[arg-type]
        loaded.notes.append(f"{names.count(entry)} entries named {entry}: readers disagree on which is loaded")  # type: ignore[arg-type]
    if main_result.end != main_len:
        loaded.notes.append(f"{main_len - main_result.end} bytes after the STOP opcode of {entry}")
    return loaded


# First bytes of a pickle: PROTO, or the opcodes protocol 0/1 pickles commonly start with.
_PICKLE_FIRST = frozenset(bytes([b]) for b in b"\x80(cK]}NIJVXS\x8c")


def _scan_local_headers(buf: Any, start: int, end: int, most: int = MAX_CANDIDATES) -> list[int]:
    """Offsets of local zip headers in ``buf[start:end]`` (bounded by ``most``)."""
    found: list[int] = []
    pos = start
    while len(found) < most:
        at = buf.find(ZIP_MAGIC, pos, end)
        if at < 0:
            break
        found.append(at)
        pos = at + 4
    return found


def _walk(data: Any, pos: int, loader: Any, limits: Limits) -> tuple[PickleResult | None, PickleReadError | None]:
    try:
        return read_pickle(data, pos, persistent_load=loader, limits=limits), None
    except PickleReadError as exc:
        return exc.partial, exc


def _stacked(data: Any, pos: int, label: str, limits: Limits) -> list[Stream]:
    """Pickles stacked after ``pos`` (a loader calling ``pickle.load`` again would run each one)."""
    out: list[Stream] = []
    n = len(data)
    while pos < n and len(out) < MAX_STACKED:
        if bytes(data[pos : pos + 1]) not in _PICKLE_FIRST:
            break
        res, err = _walk(data, pos, _StorageLoader(), limits)
        if res is None or (err is not None and res.opcodes <= 1):
            break  # not a pickle: plain trailing bytes
        out.append(Stream(f"{label}: stacked pickle #{len(out) + 1}", pos, res, err))
        if err is not None:
            break
        pos = res.end
    return out


LEGACY_PARTS = ("magic number", "protocol version", "sys info", "main", "storage keys")


def _load_stream(path: Path, buf: Any, size: int, limits: Limits, tolerant: bool) -> Loaded:
    first, err = _walk(buf, 0, _StorageLoader(), limits)
    if err is not None:
        if not tolerant or first is None or first.opcodes <= 1:
            raise InputError(path, f"not a checkpoint or pickle: {err}")
        loaded = Loaded(path, "pickle", None, first, file_size=size, streams=[Stream("pickle", 0, first, err)])
        loaded.error = f"pickle: {err}"
        return loaded
    assert first is not None
    if type(first.value) is not int or first.value != LEGACY_MAGIC or first.globals:
        loaded = Loaded(path, "pickle", first.value, first, file_size=size, streams=[Stream("pickle", 0, first)])
        loaded.streams.extend(_stacked(buf, first.end, "pickle", limits))
        end = loaded.streams[-1].result.end if loaded.streams[-1].result else first.end  # type: ignore[union-attr]
        if end != size:
            loaded.notes.append(f"{size - end} bytes after the pickle")
        if len(loaded.streams) > 1:
            loaded.notes.append(f"{len(loaded.streams) - 1} more pickle(s) stacked after the first")
        return loaded
    loader = _StorageLoader()
    streams = [Stream("legacy magic number", 0, first)]
    results = [first]
    pos = first.end
    for part in LEGACY_PARTS[1:]:
        res, err = _walk(buf, pos, loader if part == "main" else _StorageLoader(), limits)
        streams.append(Stream(f"legacy {part}", pos, res, err))
        if err is not None:
            problem = f"legacy torch checkpoint, {part} pickle: {err}"
            if not tolerant:
                raise InputError(path, problem)
            main = results[3] if len(results) > 3 else (res or first)
            loaded = Loaded(path, "torch-legacy", None, main, loader.storages, {}, {}, None, size, [], streams)
            loaded.error = problem
            return loaded
        assert res is not None
        results.append(res)
        pos = res.end
    main, keys = results[3], results[4]
    loaded = Loaded(path, "torch-legacy", main.value, main, loader.storages, {}, {}, None, size, [], streams)
    if not isinstance(keys.value, list):
        loaded.notes.append("legacy storage key list is not a list")
        return loaded
    pos = keys.end
    for key in keys.value:
        key = str(key)
        ref = loader.storages.get(key)
        itemsize = ref.itemsize if ref else 1
        if pos + 8 > size:
            loaded.storage_bytes[key] = 0  # type: ignore[index]
            continue
        (numel,) = struct.unpack_from("<q", buf, pos)
        avail = max(min(numel * itemsize, size - pos - 8), 0)
        loaded.storage_bytes[key] = avail  # type: ignore[index]
        loaded.storage_offsets[key] = pos + 8
        pos += 8 + max(numel, 0) * itemsize
    if pos < size:
        stacked = _stacked(buf, pos, "legacy", limits)
        loaded.streams.extend(stacked)
        loaded.notes.append(
            f"{size - pos} bytes after the last storage" + (f" ({len(stacked)} pickle(s))" if stacked else "")
        )
    return loaded
