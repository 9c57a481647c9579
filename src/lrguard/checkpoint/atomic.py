"""Atomic, verified checkpoint saving for custom training loops and guard integrations.

:func:`save_atomic` writes to a temporary file in the target directory, fsyncs it, renames it over the
target (atomic on POSIX), fsyncs the directory, then writes the sidecar manifest
``<file>.lrguard.json`` the same way. A crash at any point leaves either the previous file or the new
one, never a partial file under the target name. ``lrguard ckpt verify`` checks the manifest.

Crash safety of the pair: before the rename the manifest records the new file's size and hash as
``pending`` next to the committed ones, and it is finalised after the rename, so whatever moment a
writer dies at, the checkpoint on disk matches the committed or the pending entry.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from lrguard import constants as C
from lrguard.checkpoint.integrity import sha256_file

Writer = Callable[[IO[bytes]], object]


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_temp(path: Path, write: Writer) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return Path(tmp)


def _commit(tmp: Path, path: Path) -> None:
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _write_atomic(path: Path, write: Writer) -> None:
    _commit(_write_temp(path, write), path)


_UNKNOWN: dict[str, Any] = {"size": None, "sha256": None}


def _entry(e: Any) -> dict[str, Any] | None:
    return {"size": e.get("size"), "sha256": e.get("sha256")} if isinstance(e, dict) else None


def _live_entry(path: Path, side: Path) -> dict[str, Any]:
    """The manifest entry (size, sha256) that the checkpoint now on disk matches.

    After a finalised save that is the manifest's own entry (trusted, nothing is read). After an
    interrupted one the file on disk is either the committed or a pending entry, and which one is
    decided from the file itself (size first, the hash only when sizes agree), so that a chain of
    interrupted saves never leaves a manifest that names neither the file on disk nor the new one.
    """
    try:
        old = json.loads(side.read_text())
    except (OSError, ValueError):
        return dict(_UNKNOWN)
    if not isinstance(old, dict):
        return dict(_UNKNOWN)
    committed = _entry(old) or dict(_UNKNOWN)
    earlier: list[Any] = old["earlier"] if isinstance(old.get("earlier"), list) else []
    others = [e for e in (_entry(x) for x in [old.get("pending"), *earlier]) if e]
    if not others:
        return committed
    try:
        size = path.stat().st_size
    except OSError:
        return dict(_UNKNOWN)
    candidates = [e for e in [committed, *others] if e["size"] == size]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        return dict(_UNKNOWN)
    digest = sha256_file(path)
    return next((e for e in candidates if e["sha256"] == digest), dict(_UNKNOWN))


def _summary(path: Path) -> dict[str, Any]:
    try:
        from lrguard.checkpoint.archive import load
        from lrguard.checkpoint.structure import describe

        s = describe(load(path).root)
    except Exception as exc:  # the manifest still records size and hash
        return {"error": str(exc)[:200]}
    return {
        "framework": s.framework,
        "epoch": s.epoch,
        "stripped": s.stripped,
        "has": {k: v for k, v in s.has.items() if v},
        "tensors": s.by_dtype["tensors"],
        "params": s.model["params"],
    }


def save_atomic(
    obj_or_writer: Any,
    path: str | Path,
    *,
    save: Callable[[Any, IO[bytes]], None] | None = None,
    check: Callable[[Path], None] | None = None,
    meta: dict[str, Any] | None = None,
) -> Path:
    """Save a checkpoint atomically and write its sidecar manifest.

    Args:
        obj_or_writer: Either a callable taking a binary file object and writing the checkpoint into
            it (e.g. ``lambda f: torch.save(ckpt, f)``), or an object passed to ``save``.
        path: Target file.
        save: ``save(obj, fileobj)`` used when ``obj_or_writer`` is not callable (pass ``torch.save``);
            defaults to :func:`pickle.dump` — lrguard itself never imports torch.
        check: Called with the complete, fsynced temporary file before it replaces ``path``; an
            exception from it leaves ``path`` and its manifest untouched (the temporary file is removed).
        meta: More plain values recorded in the finalised manifest (it never overrides its own keys).

    Returns:
        The manifest path (``<path>`` + :data:`lrguard.constants.MANIFEST_SUFFIX`).
    """
    path = Path(path)
    if callable(obj_or_writer):
        write: Writer = obj_or_writer
    else:
        if save is None:  # lrguard never imports torch itself: pass save=torch.save for torch objects
            import pickle

            def save(o: Any, f: IO[bytes]) -> None:
                pickle.dump(o, f, protocol=4)

        saver = save

        def write(f: IO[bytes]) -> None:
            saver(obj_or_writer, f)

    side = path.with_name(path.name + C.MANIFEST_SUFFIX)
    tmp = _write_temp(path, write)
    if check is not None:
        try:
            check(tmp)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    new = {"size": tmp.stat().st_size, "sha256": sha256_file(tmp)}
    # 1) announce the new file as pending next to the committed one, 2) rename the checkpoint,
    # 3) finalise the manifest. Every crash point leaves a file that matches one manifest entry.
    committed = _live_entry(path, side)
    pending = json.dumps({"file": path.name, **committed, "pending": new}).encode()
    try:
        _write_atomic(side, lambda f: f.write(pending))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _commit(tmp, path)
    manifest = {
        **(meta or {}),
        "file": path.name,
        **new,
        "written": _dt.datetime.now(_dt.UTC).isoformat(),
        "contents": _summary(path),
        "writer": "lrguard.checkpoint.atomic.save_atomic",
    }
    data = json.dumps(manifest, indent=1).encode()
    _write_atomic(side, lambda f: f.write(data))
    return side
