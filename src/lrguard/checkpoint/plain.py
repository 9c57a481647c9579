"""Turn a walked pickle value into JSON-friendly plain data, with bounded work.

Pickles can share objects (a DAG through the memo) and even contain cycles, so a naive recursive
conversion can take exponential time or never end. :func:`to_plain` caps depth and the number of nodes
it visits and replaces what it cannot or should not expand by a short description string.
"""

from __future__ import annotations

import math
import sys
from typing import Any

from lrguard.checkpoint.placeholders import Call, GlobalRef, StorageRef, TensorRecord

#: ``collections.Counter``, pickled as a call with the counts mapping: converted to that mapping.
COUNTER = "collections.Counter"


class _Budget:
    __slots__ = ("left",)

    def __init__(self, left: int) -> None:
        self.left = left


def describe(obj: Any) -> str:
    """A short one-line description of a non-plain object (placeholder, tensor, array)."""
    if isinstance(obj, TensorRecord):
        return f"tensor {obj.dtype}{list(obj.shape)}"
    if isinstance(obj, Call):
        return f"<{obj.type_name} object>"
    if isinstance(obj, GlobalRef):
        return f"<global {obj.dotted}>"
    if isinstance(obj, StorageRef):
        return f"storage {obj.dtype}[{obj.numel}]"
    np = sys.modules.get("numpy")  # a numpy value exists only if rebuild imported numpy to make it
    if np is not None and isinstance(obj, np.ndarray):
        return f"ndarray {obj.dtype}{list(obj.shape)}"
    return f"<{type(obj).__name__}>"


def to_plain(obj: Any, *, max_depth: int = 32, max_nodes: int = 200_000, max_array: int = 10_000) -> Any:
    """Convert ``obj`` to ``None``/bool/int/float/str/list/dict values.

    Tuples and sets become lists, bytes a short description, numpy arrays lists (up to
    ``max_array`` elements; a 1-element array becomes its number), non-finite floats stay floats.
    Placeholders become descriptions, except a ``collections.Counter``, which becomes its
    mapping. Beyond ``max_depth`` or ``max_nodes`` values are replaced by
    ``"..."``.

    Args:
        obj: A value from :func:`lrguard.checkpoint.pickle_walk.read_pickle`.
        max_depth: Deepest nesting expanded.
        max_nodes: Most values visited in total.
        max_array: Largest numpy array expanded into a list.

    Returns:
        The plain value.
    """
    budget = _Budget(max_nodes)
    return _plain(obj, max_depth, budget, max_array, set())


def _plain(obj: Any, depth: int, budget: _Budget, max_array: int, active: set[int]) -> Any:
    budget.left -= 1
    if budget.left < 0 or depth < 0:
        return "..."
    if obj is None or isinstance(obj, bool | int | str):
        return obj
    if isinstance(obj, float):
        return obj
    if isinstance(obj, bytes | bytearray):
        return f"<{len(obj)} bytes>"
    if isinstance(obj, complex):
        return str(obj)
    np = sys.modules.get("numpy")  # numpy values exist only if rebuild imported numpy to make them
    if np is not None and isinstance(obj, np.ndarray):
        if obj.size == 1 and obj.dtype.kind in "biuf":
            return obj.reshape(-1)[0].item()
        if obj.size <= max_array and obj.dtype.kind in "biuf":
            return obj.tolist()
        return describe(obj)
    if np is not None and isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Call) and obj.type_name == COUNTER and len(obj.args) == 1 and isinstance(obj.args[0], dict):
        obj = obj.args[0]  # Counter({m: n}) is that mapping (MultiStepLR's milestones)
    ident = id(obj)
    if ident in active:
        return "<cycle>"
    if isinstance(obj, dict):
        active.add(ident)
        out = {}
        for k, v in obj.items():
            key = k if isinstance(k, str) else str(_plain(k, depth - 1, budget, max_array, active))
            out[key] = _plain(v, depth - 1, budget, max_array, active)
            if budget.left < 0:
                break
        active.discard(ident)
        return out
    if isinstance(obj, list | tuple | set | frozenset):
        active.add(ident)
        out_l = []
        for v in obj:
            out_l.append(_plain(v, depth - 1, budget, max_array, active))
            if budget.left < 0:
                break
        active.discard(ident)
        return out_l
    return describe(obj)


def finite_or_none(x: Any) -> float | None:
    """``float(x)`` when ``x`` is a finite real number, else ``None``."""
    if isinstance(x, bool):
        return None
    if not isinstance(x, int | float):
        np = sys.modules.get("numpy")
        if np is None or not isinstance(x, np.floating | np.integer):
            return None
    f = float(x)
    return f if math.isfinite(f) else None
