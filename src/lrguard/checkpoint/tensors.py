"""Find the tensors inside a walked checkpoint, with bounded work.

Model objects are :class:`~lrguard.checkpoint.placeholders.Call` placeholders whose ``BUILD`` state
holds ``_parameters``/``_buffers``/``_modules``; state dicts are plain dicts. :func:`iter_tensors`
visits containers and placeholders once each (the memo makes pickles DAGs, sometimes cyclic).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lrguard.checkpoint.placeholders import Call, StorageRef, TensorRecord


def iter_tensors(obj: Any, max_nodes: int = 5_000_000) -> Iterator[tuple[str, TensorRecord]]:
    """Yield ``(dotted path, tensor)`` for every tensor reachable from ``obj`` (each object once).

    Args:
        obj: A walked value.
        max_nodes: Most containers/placeholders visited.
    """
    seen: set[int] = set()
    todo: list[tuple[str, Any]] = [("", obj)]
    visited = 0
    while todo:
        path, cur = todo.pop()
        if isinstance(cur, TensorRecord):
            yield path, cur
            continue
        if not isinstance(cur, dict | list | tuple | Call):
            continue
        if id(cur) in seen:
            continue
        seen.add(id(cur))
        visited += 1
        if visited > max_nodes:
            return
        if isinstance(cur, dict):
            children = [(f"{path}.{k}" if path else str(k), v) for k, v in cur.items()]
        elif isinstance(cur, list | tuple):
            children = [(f"{path}.{i}" if path else str(i), v) for i, v in enumerate(cur)]
        else:
            children = [(path, cur.state), *((path, a) for a in cur.args)]
            children += [(f"{path}.{k}", v) for k, v in cur.items]
            children += [(path, v) for v in cur.appended]
        todo.extend(reversed(children))


def clean_name(path: str) -> str:
    """Drop pickling internals (``_parameters``, ``_buffers``, ``_modules``) from a tensor path."""
    return ".".join(p for p in path.split(".") if p not in ("_parameters", "_buffers", "_modules"))


def summarize(obj: Any) -> dict[str, Any]:
    """Count tensors, elements and bytes by dtype under ``obj`` (shared storages counted once).

    Returns:
        ``{"tensors": n, "params": elements, "bytes": storage bytes, "by_dtype": {dtype: {"tensors",
        "params", "bytes"}}}``.
    """
    by_dtype: dict[str, dict[str, int]] = {}
    storages: dict[str, int] = {}
    n = params = 0
    seen: set[int] = set()
    for _, t in iter_tensors(obj):
        if id(t) in seen:
            continue
        seen.add(id(t))
        n += 1
        params += t.numel
        d = by_dtype.setdefault(t.dtype, {"tensors": 0, "params": 0, "bytes": 0})
        d["tensors"] += 1
        d["params"] += t.numel
        if t.storage_key not in storages:
            storages[t.storage_key] = t.storage_numel * t.itemsize
            d["bytes"] += storages[t.storage_key]
    return {"tensors": n, "params": params, "bytes": sum(storages.values()), "by_dtype": by_dtype}


def storage_summary(storages: dict[str, StorageRef]) -> dict[str, Any]:
    """Storages, elements and bytes by dtype of a whole file.

    Returns:
        The same keys as :func:`summarize`; ``tensors`` counts storages.
    """
    by_dtype: dict[str, dict[str, int]] = {}
    for ref in storages.values():
        d = by_dtype.setdefault(ref.dtype, {"tensors": 0, "params": 0, "bytes": 0})
        d["tensors"] += 1
        d["params"] += ref.numel
        d["bytes"] += ref.nbytes
    return {
        "tensors": len(storages),
        "params": sum(d["params"] for d in by_dtype.values()),
        "bytes": sum(d["bytes"] for d in by_dtype.values()),
        "by_dtype": by_dtype,
    }
