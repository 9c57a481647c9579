"""Open a PyTorch checkpoint file and read its main pickle without executing it.

Three layouts are recognised:

* ``torch-zip`` (``torch.save`` since 1.6): a zip with ``<prefix>/data.pkl`` and one entry per storage,
  ``<prefix>/data/<key>``;
* ``torch-legacy`` (``_use_new_zipfile_serialization=False`` / pre-1.6): magic, protocol and sys-info
  pickles, the main pickle, a pickle with the storage keys, then every storage as an 8-byte element
  count followed by its bytes;
* ``pickle``: any other single pickle stream (``pickle.dump``, ``.pkl`` files).

Only the main pickle is read; storages are located (zip entry sizes, legacy offsets) but not read.
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
from lrguard.checkpoint.pickle_walk import Limits, PickleReadError, PickleResult, read_pickle
from lrguard.checkpoint.placeholders import StorageRef
from lrguard.checkpoint.rebuild import storage_dtype
from lrguard.checkpoint.zipdir import ZipDirError, read_directory
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


class _StorageLoader:
    """lrguard's own ``persistent_load``: turns ``('storage', type, key, location, numel, ...)`` into refs."""

    def __init__(self) -> None:
        self.storages: dict[str, StorageRef] = {}

    def __call__(self, pid: Any) -> Any:
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


def find_data_pkl(names: list[str]) -> str | None:
    """Return the ``<prefix>/data.pkl`` entry of a torch zip (shortest prefix), or ``None``."""
    cands = [n for n in names if n == DATA_PKL or n.endswith("/" + DATA_PKL)]
    return min(cands, key=len) if cands else None


def _read_stored(path: Path, info: Any) -> bytes:
    """Bytes of a stored zip entry, read through its local header without zipfile's CRC check.

    Integrity (CRCs) is :mod:`lrguard.checkpoint.integrity`'s job; reading must also work for files
    written with CRC-32 computation turned off.
    """
    with path.open("rb") as fh:
        fh.seek(info.header_offset)
        header = fh.read(30)
        if len(header) < 30 or header[:4] != ZIP_MAGIC:
            raise InputError(path, f"{info.filename}: bad local zip header (truncated or corrupt)")
        nlen, xlen = struct.unpack_from("<HH", header, 26)
        fh.seek(info.header_offset + 30 + nlen + xlen)
        data = fh.read(info.file_size)
    if len(data) != info.file_size:
        raise InputError(path, f"{info.filename}: truncated ({len(data)} of {info.file_size} bytes)")
    return data


def load(path: str | Path, limits: Limits = Limits()) -> Loaded:  # noqa: B008 - immutable
    """Open ``path`` and read its main pickle without executing it.

    Args:
        path: A ``.pt``/``.pth``/``.ckpt``/``.bin`` file or any pickle.
        limits: Safety limits for the pickle walk.

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
        return _load_zip(path, size, limits)
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        return _load_stream(path, mm, size, limits)


def zip_entries(path: Path) -> tuple[list[Any], int]:
    """Central directory entries of a zip (lean reader, :mod:`zipfile` as fallback) and its start.

    Raises:
        zipfile.BadZipFile: Neither reader understands the file.
    """
    try:
        return read_directory(path)
    except ZipDirError:
        with zipfile.ZipFile(path) as zf:
            return zf.infolist(), int(getattr(zf, "start_dir", 0))


def _load_zip(path: Path, size: int, limits: Limits) -> Loaded:
    try:
        infos, _start = zip_entries(path)
        names = [i.filename for i in infos]
        entry = find_data_pkl(names)
        if entry is None:
            raise InputError(path, "zip archive without data.pkl (not a torch checkpoint)")
        info = next(i for i in infos if i.filename == entry)
        if info.file_size > limits.max_pickle_bytes:
            raise InputError(path, f"{entry} declares {info.file_size} bytes, over the {limits.max_pickle_bytes} limit")
        if info.compress_type == zipfile.ZIP_STORED:
            data = _read_stored(path, info)  # raw: torch may write CRC 0 (set_crc32_options(False))
        else:
            with zipfile.ZipFile(path) as zf, zf.open(entry) as fh:
                data = fh.read(limits.max_pickle_bytes + 1)
            if len(data) > limits.max_pickle_bytes:
                raise InputError(path, f"{entry} inflates past the {limits.max_pickle_bytes}-byte limit")
    except zipfile.BadZipFile as exc:
        raise InputError(path, f"truncated or corrupt zip ({exc})") from None
    except (OSError, EOFError, zipfile.LargeZipFile, zlib.error) as exc:
        raise InputError(path, f"cannot read zip entry: {exc}") from None
    prefix = entry[: -len(DATA_PKL)].rstrip("/")
    loader = _StorageLoader()
    try:
        result = read_pickle(data, persistent_load=loader, limits=limits)
    except PickleReadError as exc:
        raise InputError(path, f"{entry}: {exc}") from None
    data_dir = f"{prefix}/data/" if prefix else "data/"
    sizes = {i.filename[len(data_dir) :]: i.file_size for i in infos if i.filename.startswith(data_dir)}
    offsets = {}
    for info in infos:
        if info.filename.startswith(data_dir) and info.compress_type == zipfile.ZIP_STORED:
            offsets[info.filename[len(data_dir) :]] = info.header_offset  # local header; data after it
    loaded = Loaded(path, "torch-zip", result.value, result, loader.storages, sizes, offsets, prefix, size)
    if result.end != len(data):
        loaded.notes.append(f"{len(data) - result.end} bytes after the STOP opcode of {entry}")
    return loaded


def _load_stream(path: Path, buf: Any, size: int, limits: Limits) -> Loaded:
    if size > 262 and bytes(buf[257:262]) == b"ustar":
        raise InputError(path, "tar-format torch checkpoint (torch < 0.4) is not supported")
    try:
        first = read_pickle(buf, 0, limits=limits)
    except PickleReadError as exc:
        raise InputError(path, f"not a checkpoint or pickle: {exc}") from None
    if first.value != LEGACY_MAGIC or first.globals:
        return Loaded(
            path,
            "pickle",
            first.value,
            first,
            file_size=size,
            notes=[] if first.end == size else [f"{size - first.end} bytes after the pickle"],
        )
    loader = _StorageLoader()
    try:
        proto = read_pickle(buf, first.end, limits=limits)
        info = read_pickle(buf, proto.end, limits=limits)
        main = read_pickle(buf, info.end, persistent_load=loader, limits=limits)
        keys = read_pickle(buf, main.end, limits=limits)
    except PickleReadError as exc:
        raise InputError(path, f"legacy torch checkpoint: {exc}") from None
    loaded = Loaded(path, "torch-legacy", main.value, main, loader.storages, {}, {}, None, size)
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
        loaded.notes.append(f"{size - pos} bytes after the last storage")
    return loaded
