"""The security verdict of any path: every pickle a loader could run, wherever the file hides it.

:func:`scan_path` reads, without executing anything:

* torch zips, legacy files and plain pickles through :func:`lrguard.checkpoint.archive.load` (every
  ``data.pkl`` candidate, other pickle entries, the legacy format's five pickles, stacked pickles);
* tar-format torch files (torch < 0.4), recognised by their header checksum, not by the ``ustar``
  marker (``tarfile`` and torch accept old v7 headers without it): every member's pickles;
* ``.npy`` files (and ``.npy`` members of zips): the pickle that follows the header of an object array;
* directories (HF Trainer checkpoints and others): every checkpoint-like file inside;
* safetensors files: no pickle, safe by construction.

The verdict rules are :mod:`lrguard.checkpoint.security`'s.
"""

from __future__ import annotations

import mmap
from pathlib import Path
from typing import Any

from lrguard.checkpoint.archive import ZIP_MAGIC, Loaded, is_tar_header, load
from lrguard.checkpoint.npy import NPY_MAGIC, npy_pickle_offset
from lrguard.checkpoint.pickle_walk import Limits, PickleReadError, PickleResult, read_pickle
from lrguard.checkpoint.safetensors import is_safetensors
from lrguard.checkpoint.security import (
    SAFE,
    SUSPICIOUS,
    Finding,
    SecurityReport,
    Stream,
    assess_streams,
)
from lrguard.errors import InputError

SCAN_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".pkl", ".pickle", ".npy", ".npz", ".joblib", ".safetensors", ".tar")
MAX_MEMBERS = 10_000
MAX_ATTEMPTS = 10_000  # pickle starts tried per tar member


def scan_path(path: str | Path, loaded: Loaded | None = None, limits: Limits = Limits()) -> SecurityReport:  # noqa: B008
    """Judge every pickle in ``path`` (file or directory).

    Args:
        path: The file or directory.
        loaded: An already loaded torch/pickle file (``archive.load(tolerant=True)``), to not read it twice.
        limits: Safety limits for each pickle walk.

    Returns:
        The verdict with its evidence.

    Raises:
        InputError: The path cannot be read, or holds nothing that could be a pickle.
    """
    path = Path(path)
    if path.is_dir():
        return _scan_dir(path, limits)
    if loaded is None:
        try:
            head = path.open("rb").read(512)
        except OSError as exc:
            raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
        if head.startswith(NPY_MAGIC):
            return _scan_npy(path, limits)
        if is_tar_header(head):
            return _scan_tar(path, limits)
        if not head.startswith(ZIP_MAGIC) and is_safetensors(path):
            return assess_streams([])
        loaded = load(path, limits, tolerant=True)
    return judge_loaded(loaded, limits)


def judge_loaded(loaded: Loaded, limits: Limits = Limits()) -> SecurityReport:  # noqa: B008
    """The verdict of a loaded file's streams, re-reading any stream whose frames readers disagree on."""
    streams = list(loaded.streams)
    extra = list(loaded.findings)
    if any(st.result is not None and st.result.straddles for st in streams):
        streams.extend(_file_views(loaded.path, streams, limits))
    return assess_streams(streams, extra)


def _file_views(path: Path, streams: list[Stream], limits: Limits) -> list[Stream]:
    """Re-read straddling streams the way a file-reading unpickler (``torch.load``) sees them."""
    out: list[Stream] = []
    data = _stream_bytes(path, streams)
    for st in streams:
        if st.result is None or not st.result.straddles or data is None:
            continue
        blob = data.get(st.label)
        if blob is None:
            continue
        from lrguard.checkpoint.frames import file_view  # hand-made files only

        view = file_view(blob, st.result.start)
        res, err = _walk(view, 0, limits)
        out.append(Stream(f"{st.label} (as a file reader sees it)", st.offset, res, err))
    return out


def _stream_bytes(path: Path, streams: list[Stream]) -> dict[str, bytes] | None:
    """Bytes each stream was read from (a plain file, or the zip entry of that label)."""
    raw = path.read_bytes()  # only for files whose frames readers disagree on: hand-made, small
    if not raw.startswith(ZIP_MAGIC):
        return {st.label: raw for st in streams}
    from lrguard.checkpoint.archive import _entry_bytes, _local_entry

    out: dict[str, bytes] = {}
    for st in streams:
        le = _local_entry(raw, st.offset, len(raw))
        if le is not None:
            data, _problem = _entry_bytes(raw, le[1], le[2], le[3], Limits())
            out[st.label] = bytes(data)
    return out


def _walk(data: Any, pos: int, limits: Limits) -> tuple[PickleResult | None, PickleReadError | None]:
    try:
        return read_pickle(data, pos, limits=limits), None
    except PickleReadError as exc:
        return exc.partial, exc


def _tar_members(buf: Any) -> list[tuple[str, int, int]]:
    """``(name, data offset, size)`` of each regular member (headers checked; stops at the end marker)."""
    out: list[tuple[str, int, int]] = []
    pos = 0
    n = len(buf)
    while pos + 512 <= n and len(out) < MAX_MEMBERS:
        block = bytes(buf[pos : pos + 512])
        if not is_tar_header(block):
            break
        name = block[:100].split(b"\0", 1)[0].decode("utf-8", "replace")
        try:
            size = int(block[124:136].replace(b"\0", b" ").strip() or b"0", 8)
        except ValueError:
            break
        kind = block[156:157]
        if kind in (b"0", b"\0", b"7"):
            out.append((name, pos + 512, min(size, n - pos - 512)))
        pos += 512 + (size + 511) // 512 * 512
    return out


def _pickles_in(buf: Any, start: int, end: int, label: str, limits: Limits) -> list[Stream]:
    """Every pickle that starts in ``buf[start:end]``: read one, then look for the next ``PROTO``."""
    out: list[Stream] = []
    data = bytes(buf[start:end])
    pos, attempts = 0, 0
    while pos < len(data) and attempts < MAX_ATTEMPTS:
        attempts += 1
        res, err = _walk(data, pos, limits)
        if res is not None and (err is None or res.globals or res.calls):
            out.append(Stream(f"{label} +{pos}", start + pos, res, err))
        if err is None and res is not None:
            pos = res.end
            continue
        nxt = data.find(b"\x80", pos + 1)
        if nxt < 0:
            break
        pos = nxt
    return out


def _scan_tar(path: Path, limits: Limits) -> SecurityReport:
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        streams: list[Stream] = []
        for name, off, size in _tar_members(mm):
            streams.extend(_pickles_in(mm, off, off + size, f"tar:{name}", limits))
    extra = [Finding(SUSPICIOUS, "container", "tar", 0, "", "", "tar-format torch checkpoint (torch < 0.4)")]
    return assess_streams(streams, extra if not streams else [])


def _scan_npy(path: Path, limits: Limits) -> SecurityReport:
    data = path.read_bytes()
    off = npy_pickle_offset(data)
    if off is None:
        return assess_streams([])
    return assess_streams(npy_streams(data, off, path.name, limits))


def npy_streams(data: bytes, off: int, label: str, limits: Limits) -> list[Stream]:
    """The pickle (and any stacked after it) of an object ``.npy`` blob."""
    res, err = _walk(data, off, limits)
    streams = [Stream(f"{label} (object array pickle)", off, res, err)]
    if err is None and res is not None and res.end < len(data):
        streams.extend(_pickles_in(data, res.end, len(data), f"{label} after the array", limits))
    return streams


def _scan_dir(path: Path, limits: Limits) -> SecurityReport:
    streams: list[Stream] = []
    extra: list[Finding] = []
    for f in sorted(path.rglob("*"))[:MAX_MEMBERS]:
        if not f.is_file() or f.suffix not in SCAN_SUFFIXES:
            continue
        try:
            rep = scan_path(f, limits=limits)
        except InputError as exc:
            extra.append(Finding(SAFE, "container", f.name, 0, "", "", f"not a pickle: {exc.problem}"))
            continue
        rel = str(f.relative_to(path))
        for fd in rep.findings:
            fd.stream = f"{rel}: {fd.stream}"
            extra.append(fd)
        for g in rep.globals:
            streams.append(_as_stream(rel, g.name))
    return assess_streams([s for s in streams if s.result is not None], extra)


def _as_stream(rel: str, name: str) -> Stream:
    from lrguard.checkpoint.pickle_walk import GlobalUse

    module, _, attr = name.rpartition(".")
    res = PickleResult(None, 0, 0, [GlobalUse(0, "GLOBAL", module, attr)])
    return Stream(rel, 0, res)
