"""Integrity of a checkpoint file: zip CRCs and sizes, pickle, storages, optional non-finite scan.

:func:`verify` never executes the pickle and reads the file once, sequentially, through ``mmap``:
every zip entry's bytes are checked against the CRC-32 and size of the central directory (the local
header must agree too), the main pickle must end in STOP, every storage a tensor references must be
present with enough bytes, and — when asked — float storages are scanned for NaN/Inf with numpy.
A sidecar manifest written by :func:`lrguard.checkpoint.atomic.save_atomic` is checked when present.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import struct
import zipfile
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lrguard import constants as C
from lrguard.checkpoint.archive import Loaded, load
from lrguard.checkpoint.placeholders import TensorRecord
from lrguard.checkpoint.tensors import clean_name, iter_tensors
from lrguard.errors import InputError

CHUNK = 8 << 20
FLOAT_DTYPES = {"float16": np.float16, "float32": np.float32, "float64": np.float64}
_LOCAL = struct.Struct("<4s5H3I2H")  # local file header


@dataclass
class IntegrityReport:
    """Whether a checkpoint file is intact.

    Attributes:
        ok: No problem found.
        problems: What is wrong, one sentence each (truncation, CRC mismatch, missing storage, ...).
        notes: Harmless observations.
        checked: What was checked, with counts (``entries``, ``storages``, ``bytes``, ``scanned``).
        nonfinite: Tensor name -> count of NaN/Inf values (when scanned).
        manifest: Result of the sidecar manifest check (``None`` when there is no sidecar).
    """

    ok: bool = True
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)
    nonfinite: dict[str, int] = field(default_factory=dict)
    manifest: dict[str, Any] | None = None

    def fail(self, problem: str) -> None:
        """Record a problem."""
        self.ok = False
        self.problems.append(problem)

    def to_json(self) -> dict[str, Any]:
        """Plain representation for ``--json``."""
        return {
            "ok": self.ok,
            "problems": self.problems,
            "notes": self.notes,
            "checked": self.checked,
            "nonfinite": self.nonfinite,
            "manifest": self.manifest,
        }


Progress = Callable[[int], None]


def _zip_entries(path: Path, mm: Any, size: int, report: IntegrityReport) -> dict[str, tuple[int, int, int]]:
    """Check every zip entry's headers; return name -> (data offset, size, CRC) for stored entries."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except zipfile.BadZipFile as exc:
        report.fail(f"zip central directory unreadable ({exc}): the file is truncated or corrupt")
        return {}
    spans: dict[str, tuple[int, int, int]] = {}
    for info in infos:
        off = info.header_offset
        if off + _LOCAL.size > size:
            report.fail(f"{info.filename}: local header beyond end of file (truncated)")
            continue
        sig, _v, _flag, method, _t, _d, _crc, _cs, _us, nlen, xlen = _LOCAL.unpack_from(mm, off)
        if sig != b"PK\x03\x04":
            report.fail(f"{info.filename}: bad local header signature at offset {off}")
            continue
        name = bytes(mm[off + 30 : off + 30 + nlen]).decode("utf-8", "replace")
        if name != info.filename:
            report.fail(f"{info.filename}: local header names {name!r}")
        start = off + 30 + nlen + xlen
        if start + info.compress_size > size:
            report.fail(f"{info.filename}: data runs past end of file (truncated)")
            continue
        if method != zipfile.ZIP_STORED or info.compress_type != zipfile.ZIP_STORED:
            report.notes.append(f"{info.filename}: compressed entry (not written by torch.save)")
            try:
                with zipfile.ZipFile(path) as zf:
                    zf.read(info.filename)  # zipfile checks the CRC
            except (zipfile.BadZipFile, zlib.error, OSError) as exc:
                report.fail(f"{info.filename}: {exc}")
            continue
        if info.compress_size != info.file_size:
            report.fail(f"{info.filename}: stored entry with compressed size != size")
            continue
        spans[info.filename] = (start, info.file_size, info.CRC)
    report.checked["entries"] = len(infos)
    return spans


def _crc(mm: Any, start: int, length: int, progress: Progress | None) -> int:
    crc = 0
    view = memoryview(mm)
    try:
        pos, end = start, start + length
        while pos < end:
            step = min(CHUNK, end - pos)
            crc = zlib.crc32(view[pos : pos + step], crc)
            pos += step
            if progress:
                progress(step)
    finally:
        view.release()
    return crc


def _nonfinite_count(mm: Any, start: int, nbytes: int, dtype: str) -> int:
    count = 0
    view = memoryview(mm)
    try:
        if dtype == "bfloat16":
            n = nbytes // 2
            for i in range(0, n, CHUNK // 2):
                k = min(CHUNK // 2, n - i)
                a = np.frombuffer(view, dtype="<u2", count=k, offset=start + 2 * i)
                count += int(np.count_nonzero((a & 0x7F80) == 0x7F80))
            return count
        np_dtype = np.dtype(FLOAT_DTYPES[dtype]).newbyteorder("<")
        item = np_dtype.itemsize
        n = nbytes // item
        step = CHUNK // item
        for i in range(0, n, step):
            k = min(step, n - i)
            a = np.frombuffer(view, dtype=np_dtype, count=k, offset=start + item * i)
            count += k - int(np.count_nonzero(np.isfinite(a)))
    finally:
        view.release()
    return count


def verify(
    path: str | Path,
    *,
    loaded: Loaded | None = None,
    scan_nonfinite: bool = False,
    progress: Progress | None = None,
    threads: int = 2,
) -> IntegrityReport:
    """Check that a checkpoint file is intact, without executing it.

    Args:
        path: The checkpoint.
        loaded: Its already-walked pickle (read again when ``None``).
        scan_nonfinite: Also count NaN/Inf in float storages.
        progress: Called with the number of bytes checked, as they are checked.
        threads: Worker threads for CRC checks (zlib releases the GIL).

    Returns:
        The report; ``ok`` is False when anything is wrong. An unreadable main pickle is reported as a
        problem rather than raised.
    """
    path = Path(path)
    report = IntegrityReport()
    try:
        size = path.stat().st_size
    except OSError as exc:
        report.fail(f"cannot read: {exc.strerror or exc}")
        return report
    if size == 0:
        report.fail("empty file")
        return report
    if loaded is None:
        try:
            loaded = load(path)
        except InputError as exc:
            report.fail(exc.problem)
            loaded = None
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        if hasattr(mm, "madvise"):
            mm.madvise(mmap.MADV_SEQUENTIAL)
        data_spans: dict[str, tuple[int, int]] = {}
        if bytes(mm[:4]) == b"PK\x03\x04":
            spans = _zip_entries(path, mm, size, report)
            order = sorted(spans.items(), key=lambda kv: kv[1][0])
            with ThreadPoolExecutor(max_workers=max(threads, 1)) as pool:
                crcs = list(pool.map(lambda kv: _crc(mm, kv[1][0], kv[1][1], progress), order))
            for (name, span), got in zip(order, crcs, strict=True):
                if got != span[2]:
                    report.fail(f"{name}: CRC-32 mismatch (bytes changed after writing)")
            report.checked["bytes"] = sum(sp[1] for sp in spans.values())
            if loaded is not None and loaded.prefix is not None:
                data_dir = f"{loaded.prefix}/data/" if loaded.prefix else "data/"
                data_spans = {n[len(data_dir) :]: sp[:2] for n, sp in spans.items() if n.startswith(data_dir)}
        elif loaded is not None and loaded.format == "torch-legacy":
            data_spans = {
                k: (loaded.storage_offsets[k], v)
                for k, v in (loaded.storage_bytes or {}).items()
                if k in loaded.storage_offsets
            }
            if progress:
                progress(size)
        elif progress:
            progress(size)
        if loaded is None:
            return report
        report.notes.extend(loaded.notes)
        _check_storages(loaded, data_spans, report)
        if scan_nonfinite:
            _scan(loaded, mm, data_spans, report)
    report.manifest = check_manifest(path, size)
    if report.manifest is not None and not report.manifest["ok"]:
        report.fail(f"sidecar manifest: {report.manifest['problem']}")
    return report


def _check_storages(loaded: Loaded, spans: dict[str, tuple[int, int]], report: IntegrityReport) -> None:
    if loaded.storage_bytes is None:
        return
    missing, short = [], []
    for key, ref in loaded.storages.items():
        have = loaded.storage_bytes.get(key)
        if have is None:
            missing.append(key)
        elif have < ref.nbytes:
            short.append(f"{key} ({have} of {ref.nbytes} bytes)")
    if missing:
        report.fail(f"{len(missing)} storage(s) referenced by tensors are missing: {', '.join(missing[:5])}")
    if short:
        report.fail(f"{len(short)} storage(s) are shorter than declared: {', '.join(short[:5])}")
    over = []
    for name, t in iter_tensors(loaded.root):
        ref = loaded.storages.get(t.storage_key)
        if ref is not None and t.span_bytes > ref.nbytes:
            over.append(clean_name(name))
    if over:
        report.fail(f"{len(over)} tensor(s) extend past their storage: {', '.join(over[:5])}")
    report.checked["storages"] = len(loaded.storages)


def _scan(loaded: Loaded, mm: Any, spans: dict[str, tuple[int, int]], report: IntegrityReport) -> None:
    bad_storage: dict[str, int] = {}
    scanned = 0
    for key, ref in loaded.storages.items():
        if ref.dtype not in FLOAT_DTYPES and ref.dtype != "bfloat16":
            continue
        span = spans.get(key)
        if span is None:
            continue
        nbytes = min(span[1], ref.nbytes)
        n = _nonfinite_count(mm, span[0], nbytes, ref.dtype)
        scanned += nbytes
        if n:
            bad_storage[key] = n
    report.checked["scanned_bytes"] = scanned
    if bad_storage:
        names: dict[str, int] = {}
        seen: set[str] = set()
        for name, t in iter_tensors(loaded.root):
            if t.storage_key in bad_storage and t.storage_key not in seen:
                seen.add(t.storage_key)
                names[clean_name(name)] = bad_storage[t.storage_key]
        report.nonfinite = names
        report.fail(f"{sum(bad_storage.values())} NaN/Inf value(s) in {len(bad_storage)} float storage(s)")


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, streamed."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def check_manifest(path: Path, size: int | None = None) -> dict[str, Any] | None:
    """Check the sidecar manifest ``<file>.lrguard.json`` if there is one.

    Returns:
        ``None`` without a sidecar, else ``{"ok", "problem", "path"}``.
    """
    side = path.with_name(path.name + C.MANIFEST_SUFFIX)
    if not side.exists():
        return None
    try:
        man = json.loads(side.read_text())
    except (OSError, ValueError) as exc:
        return {"ok": False, "problem": f"unreadable manifest ({exc})", "path": side.name}
    size = path.stat().st_size if size is None else size
    pending = man.get("pending") if isinstance(man.get("pending"), dict) else {}
    earlier = (
        [e for e in man.get("earlier", []) if isinstance(e, dict)]
        if isinstance(man.get("earlier"), list)
        else []
    )
    entries = [("committed", man), ("pending", pending)] + [("pending", e) for e in earlier]
    candidates = [(k, e) for k, e in entries if e.get("size") == size]
    if not candidates:
        return {"ok": False, "problem": f"size {size} != manifest {man.get('size')}", "path": side.name}
    digest = sha256_file(path)
    for kind, entry in candidates:
        if entry.get("sha256") == digest:
            note = None if kind == "committed" else "a save was interrupted before its manifest was finalised"
            return {"ok": True, "problem": None, "path": side.name, "note": note}
    return {"ok": False, "problem": "sha256 differs from the manifest", "path": side.name}


def tensors_of(loaded: Loaded) -> list[tuple[str, TensorRecord]]:
    """``(clean name, tensor)`` of every tensor in the checkpoint."""
    return [(clean_name(n), t) for n, t in iter_tensors(loaded.root)]
