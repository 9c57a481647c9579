"""Inert stand-ins for what a pickle would import or call.

The non-executing pickle reader (:mod:`lrguard.checkpoint.pickle_walk`) never imports a module or
calls anything named in the file. A ``GLOBAL`` becomes a :class:`GlobalRef`; ``REDUCE``/``NEWOBJ``/
``INST``/``OBJ`` on a global outside the small reconstruct allowlist become a :class:`Call` that records
the callable, its arguments and whatever ``BUILD``/``SETITEMS``/``APPENDS`` later applied to it.
Tensors become :class:`TensorRecord` and storages :class:`StorageRef`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class GlobalRef:
    """A module-level name the pickle referenced (never imported).

    Attributes:
        module: Module part, e.g. ``"models.yolo"``.
        name: Qualified name inside the module, e.g. ``"DetectionModel"``.
    """

    module: str
    name: str

    @property
    def dotted(self) -> str:
        """``module.name``."""
        return f"{self.module}.{self.name}"

    def __repr__(self) -> str:
        return f"<global {self.dotted}>"


@dataclass(eq=False, slots=True)
class Call:
    """The record of a call the pickle asked for and lrguard did not make.

    Attributes:
        func: What would have been called (usually a :class:`GlobalRef`; any object for hostile files).
        args: Positional arguments as read.
        kwargs: Keyword arguments (``NEWOBJ_EX`` only).
        kind: The opcode family that asked: ``"reduce"``, ``"newobj"``, ``"inst"`` or ``"obj"``.
        state: Argument of a later ``BUILD`` (an object's ``__dict__`` or ``__setstate__`` value).
        items: Key/value pairs a later ``SETITEM(S)`` stored into the object.
        appended: Values a later ``APPEND(S)``/``ADDITEMS`` added to the object.
    """

    func: Any
    args: tuple[Any, ...] = ()
    kwargs: dict[Any, Any] = field(default_factory=dict)
    kind: str = "reduce"
    state: Any = None
    items: list[tuple[Any, Any]] = field(default_factory=list)
    appended: list[Any] = field(default_factory=list)

    @property
    def type_name(self) -> str:
        """Dotted name of the callable (``"?"`` when it is not a plain global)."""
        return self.func.dotted if isinstance(self.func, GlobalRef) else "?"

    def attrs(self) -> dict[Any, Any]:
        """The object's attribute dictionary when ``BUILD`` gave one (else an empty dict).

        ``BUILD`` with a ``(state, slotstate)`` tuple is merged the way pickle would.
        """
        st = self.state
        if isinstance(st, tuple) and len(st) == 2 and (st[0] is None or isinstance(st[0], dict)):
            merged: dict[Any, Any] = {}
            for part in st:
                if isinstance(part, dict):
                    merged.update(part)
            return merged
        return st if isinstance(st, dict) else {}

    def __repr__(self) -> str:
        return f"<call {self.type_name}>"


@dataclass(slots=True, unsafe_hash=True)  # not frozen: frozen __init__ is ~5x slower
class StorageRef:
    """A tensor storage named by a persistent id (bytes live elsewhere in the archive).

    Attributes:
        key: Storage key (zip entry ``<prefix>/data/<key>``; legacy format: the storage id).
        dtype: Element type name, e.g. ``"float16"`` (``"uint8"`` for untyped storages).
        numel: Number of elements the storage holds.
        location: Device it was saved from (``"cpu"``, ``"cuda:0"``).
        itemsize: Bytes per element.
    """

    key: str
    dtype: str
    numel: int
    location: str
    itemsize: int

    @property
    def nbytes(self) -> int:
        """Storage size in bytes."""
        return self.numel * self.itemsize


@dataclass(slots=True, unsafe_hash=True)  # not frozen: built once per tensor, must be cheap
class TensorRecord:
    """A tensor described without reading its data.

    Attributes:
        dtype: Element type name, e.g. ``"float32"``.
        shape: Size per dimension.
        stride: Stride per dimension, in elements.
        storage_key: Key of its storage (see :class:`StorageRef`).
        storage_offset: Offset into the storage, in elements.
        itemsize: Bytes per element.
        storage_numel: Elements in the whole storage.
        location: Device it was saved from.
        requires_grad: Whether it was saved as a parameter requiring gradients.
        is_parameter: Whether it was an ``nn.Parameter``.
    """

    dtype: str
    shape: tuple[int, ...]
    stride: tuple[int, ...]
    storage_key: str
    storage_offset: int
    itemsize: int
    storage_numel: int
    location: str = "cpu"
    requires_grad: bool = False
    is_parameter: bool = False

    @property
    def numel(self) -> int:
        """Number of elements of the tensor."""
        n = 1
        for s in self.shape:
            n *= s
        return n

    @property
    def nbytes(self) -> int:
        """Bytes the tensor's own elements occupy."""
        return self.numel * self.itemsize

    @property
    def span_bytes(self) -> int:
        """Bytes of the storage the tensor needs, from offset to its last element (0 if empty)."""
        if self.numel == 0:
            return 0
        last = self.storage_offset + sum((s - 1) * st for s, st in zip(self.shape, self.stride, strict=False))
        return (last + 1) * self.itemsize

    def __repr__(self) -> str:
        return f"<tensor {self.dtype}{list(self.shape)}>"
