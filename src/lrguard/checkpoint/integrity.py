"""Integrity of a checkpoint file: zip CRCs and sizes, pickle, storages, optional non-finite scan.

:func:`verify` never executes the pickle and reads the file once, front to back in large blocks, in a
background thread while the pickle is walked (CRC-32 by ISA-L when ``isal`` is installed, else zlib):
every zip entry's bytes are checked against the CRC-32 and size of the central directory (the local
header must agree too), the main pickle must end in STOP, every storage a tensor references must be
present with enough bytes, and — when asked — float storages are scanned for NaN/Inf with numpy.
A sidecar manifest written by :func:`lrguard.checkpoint.atomic.save_atomic` is checked when present.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import Any

from lrguard import constants as C
from lrguard.checkpoint.archive import Loaded, load
from lrguard.checkpoint.datapass import DataPass, begin
from lrguard.checkpoint.integrity_report import IntegrityReport, Progress
from lrguard.checkpoint.placeholders import TensorRecord
from lrguard.checkpoint.tensors import clean_name, iter_tensors
from lrguard.errors import InputError

__all__ = ["DataPass", "IntegrityReport", "Progress", "begin", "check_manifest", "sha256_file", "tensors_of", "verify"]

CHUNK = 8 << 20
FLOAT_DTYPES = {"float16": "f2", "float32": "f4", "float64": "f8"}  # numpy codes; numpy loads only to scan


def _nonfinite_count(mm: Any, start: int, nbytes: int, dtype: str) -> int:
    import numpy as np  # only the NaN/Inf scan needs it: keep `ckpt show` off the import

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
    pending: DataPass | None = None,
) -> IntegrityReport:
    """Check that a checkpoint file is intact, without executing it.

    Args:
        path: The checkpoint.
        loaded: Its already-walked pickle (read again when ``None``).
        scan_nonfinite: Also count NaN/Inf in float storages.
        progress: Called with the number of bytes checked, as they are checked.
        pending: The data pass already started on this file by :func:`begin` (started here otherwise);
            it reads the file once, sequentially, in a background thread while the pickle is walked.

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
    if pending is not None:
        is_zip = True
    else:
        with path.open("rb") as fh:
            is_zip = fh.read(4) == b"PK\x03\x04"
    data_spans: dict[str, tuple[int, int]] = {}
    zip_spans: dict[str, tuple[int, int]] = {}
    if is_zip:
        run = pending if pending is not None else DataPass(path, size, progress)
        loaded = _load_for_verify(path, loaded, report)  # walks the pickle while the CRCs run
        if loaded is not None:
            _check_storages(loaded, report)  # also while the CRCs run
        run.result()
        entries = run.entries
        report.problems[:0] = run.report.problems  # the central directory's problems come first
        report.ok = report.ok and run.report.ok
        for prob in run.problems:
            report.fail(prob)
        report.notes[:0] = run.report.notes
        report.checked = {**run.report.checked, **report.checked}
        zip_spans.update(run.spans)
        for e in entries:
            if e.name in zip_spans and zip_spans[e.name][0] < 0:
                _check_compressed(path, e.name, report)
        report.checked["bytes"] = sum(sp[1] for sp in zip_spans.values())
        if loaded is not None and loaded.prefix is not None:
            data_dir = f"{loaded.prefix}/data/" if loaded.prefix else "data/"
            data_spans = {n[len(data_dir) :]: sp for n, sp in zip_spans.items() if n.startswith(data_dir)}
    else:
        loaded = _load_for_verify(path, loaded, report)
        if loaded is not None and loaded.format == "torch-legacy":
            data_spans = {
                k: (loaded.storage_offsets[k], v)
                for k, v in (loaded.storage_bytes or {}).items()
                if k in loaded.storage_offsets
            }
        if progress:
            progress(size)
    if loaded is None:
        return report
    report.notes.extend(loaded.notes)
    if not is_zip:
        _check_storages(loaded, report)
    if scan_nonfinite:
        import mmap

        with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            _scan(loaded, mm, data_spans, report)
    report.manifest = check_manifest(path, size)
    if report.manifest is not None and not report.manifest["ok"]:
        report.fail(f"sidecar manifest: {report.manifest['problem']}")
    return report


def _load_for_verify(path: Path, loaded: Loaded | None, report: IntegrityReport) -> Loaded | None:
    if loaded is not None:
        return loaded
    try:
        return load(path)
    except InputError as exc:
        report.fail(exc.problem)
        return None


def _check_compressed(path: Path, name: str, report: IntegrityReport) -> None:
    report.notes.append(f"{name}: compressed entry (not written by torch.save)")
    try:
        with zipfile.ZipFile(path) as zf:
            zf.read(name)  # zipfile checks the CRC of compressed entries
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
        report.fail(f"{name}: {exc}")


def _check_storages(loaded: Loaded, report: IntegrityReport) -> None:
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
        held = loaded.storages.get(t.storage_key)
        if held is not None and t.span_bytes > held.nbytes:
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
    import hashlib  # only a sidecar manifest needs it

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
    import json

    try:
        man = json.loads(side.read_text())
    except (OSError, ValueError) as exc:
        return {"ok": False, "problem": f"unreadable manifest ({exc})", "path": side.name}
    size = path.stat().st_size if size is None else size
    pending = man.get("pending") if isinstance(man.get("pending"), dict) else {}
    earlier = [e for e in man.get("earlier", []) if isinstance(e, dict)] if isinstance(man.get("earlier"), list) else []
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
