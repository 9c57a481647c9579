"""The allowlist of pickled calls that lrguard rebuilds as plain data, with its own code.

Each rebuilder receives the :class:`~lrguard.checkpoint.placeholders.GlobalRef` the file named, the
arguments as read, and returns a plain value — or ``NotImplemented`` when the arguments are not of the
expected shape, in which case the walker keeps a :class:`~lrguard.checkpoint.placeholders.Call`.
Nothing named in the file is imported or called: ``collections.OrderedDict`` becomes a ``dict``,
``torch._utils._rebuild_tensor_v2`` a :class:`~lrguard.checkpoint.placeholders.TensorRecord`,
``numpy`` scalars Python numbers and numeric ``numpy`` arrays ``numpy.ndarray`` built from the raw bytes,
``pathlib`` paths strings, ``argparse.Namespace`` a ``dict``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, Any

from lrguard.checkpoint.placeholders import Call, GlobalRef, StorageRef, TensorRecord

if TYPE_CHECKING:
    import numpy as np

Rebuilder = Callable[[GlobalRef, tuple[Any, ...], dict[Any, Any], str], Any]

# torch storage class name -> (dtype name, bytes per element)
STORAGE_DTYPES: dict[str, tuple[str, int]] = {
    "FloatStorage": ("float32", 4),
    "DoubleStorage": ("float64", 8),
    "HalfStorage": ("float16", 2),
    "BFloat16Storage": ("bfloat16", 2),
    "LongStorage": ("int64", 8),
    "IntStorage": ("int32", 4),
    "ShortStorage": ("int16", 2),
    "CharStorage": ("int8", 1),
    "ByteStorage": ("uint8", 1),
    "BoolStorage": ("bool", 1),
    "ComplexFloatStorage": ("complex64", 8),
    "ComplexDoubleStorage": ("complex128", 16),
    "QInt8Storage": ("qint8", 1),
    "QUInt8Storage": ("quint8", 1),
    "QInt32Storage": ("qint32", 4),
    "QUInt4x2Storage": ("quint4x2", 1),
    "QUInt2x4Storage": ("quint2x4", 1),
    "UntypedStorage": ("uint8", 1),
    "TypedStorage": ("uint8", 1),
    "UInt16Storage": ("uint16", 2),
    "UInt32Storage": ("uint32", 4),
    "UInt64Storage": ("uint64", 8),
}

# torch dtype global name (torch.float32 pickles as GLOBAL 'torch float32') -> (dtype name, itemsize)
TORCH_DTYPES: dict[str, tuple[str, int]] = {
    "float32": ("float32", 4),
    "float": ("float32", 4),
    "float64": ("float64", 8),
    "double": ("float64", 8),
    "float16": ("float16", 2),
    "half": ("float16", 2),
    "bfloat16": ("bfloat16", 2),
    "int64": ("int64", 8),
    "long": ("int64", 8),
    "int32": ("int32", 4),
    "int": ("int32", 4),
    "int16": ("int16", 2),
    "short": ("int16", 2),
    "int8": ("int8", 1),
    "uint8": ("uint8", 1),
    "bool": ("bool", 1),
    "complex64": ("complex64", 8),
    "complex128": ("complex128", 16),
    "uint16": ("uint16", 2),
    "uint32": ("uint32", 4),
    "uint64": ("uint64", 8),
    "float8_e4m3fn": ("float8_e4m3fn", 1),
    "float8_e5m2": ("float8_e5m2", 1),
    "float8_e4m3fnuz": ("float8_e4m3fnuz", 1),
    "float8_e5m2fnuz": ("float8_e5m2fnuz", 1),
}


def storage_dtype(storage_type: Any) -> tuple[str, int]:
    """Map a storage type reference (``GlobalRef('torch', 'HalfStorage')``) to (dtype, itemsize)."""
    if isinstance(storage_type, GlobalRef):
        return STORAGE_DTYPES.get(storage_type.name, ("unknown", 1))
    return ("unknown", 1)


class NumpyDType:
    """A ``numpy.dtype`` as pickled: type code plus byte order from its ``BUILD`` state.

    Attributes:
        code: The constructor argument, e.g. ``"f8"``.
        byteorder: ``"<"``, ``">"``, ``"|"`` or ``"="`` (from the state tuple).
    """

    __slots__ = ("byteorder", "code")

    def __init__(self, code: str) -> None:
        self.code = code
        self.byteorder = "="

    def to_numpy(self) -> np.dtype[Any] | None:
        """The equivalent numpy dtype for plain numeric codes; ``None`` otherwise (object, structured)."""
        if not re.fullmatch(r"[biufc?]\d{0,2}", self.code) or self.code.startswith("O"):
            return None
        import numpy as np  # only files that hold numpy values pay for the import

        order = self.byteorder if self.byteorder in "<>" else "="
        try:
            dt = np.dtype(self.code)
        except TypeError:
            return None
        return dt.newbyteorder(order) if dt.itemsize > 1 else dt  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"<numpy dtype {self.byteorder}{self.code}>"


class PendingArray:
    """A ``numpy.core.multiarray._reconstruct`` result waiting for its ``BUILD`` state."""

    __slots__ = ("call", "memo_keys")

    def __init__(self, call: Call) -> None:
        self.call = call
        self.memo_keys: list[int] = []

    def __repr__(self) -> str:
        return "<numpy ndarray (unbuilt)>"


def _ordered_dict(ref: GlobalRef, args: tuple[Any, ...], kwargs: dict[Any, Any], kind: str) -> Any:
    if not args:
        return {}
    if len(args) == 1 and isinstance(args[0], list | tuple):
        out = {}
        for pair in args[0]:
            if not (isinstance(pair, list | tuple) and len(pair) == 2):
                return NotImplemented
            out[pair[0]] = pair[1]
        return out
    return NotImplemented


def _defaultdict(ref: GlobalRef, args: tuple[Any, ...], kwargs: dict[Any, Any], kind: str) -> Any:
    ok = len(args) <= 1 and (not args or args[0] is None or isinstance(args[0], GlobalRef))
    return {} if ok else NotImplemented


def _namespace(ref: GlobalRef, args: tuple[Any, ...], kwargs: dict[Any, Any], kind: str) -> Any:
    return {} if not args else NotImplemented


# Bases copyreg._reconstructor may use without running code from the file: ``base.__new__(cls, state)``
# and ``base.__init__(obj, state)`` of these builtins only build the value.
RECONSTRUCT_BASES = frozenset(
    {"object", "dict", "list", "set", "frozenset", "tuple", "int", "float", "str", "bytes", "bytearray", "complex"}
)


def _reconstructor(ref: GlobalRef, args: tuple[Any, ...], kwargs: dict[Any, Any], kind: str) -> Any:
    # copyreg._reconstructor(cls, base, state): protocol 0/1 instances of plain classes. Any other base
    # (or a non-global class) is left as a call: the security verdict judges it.
    if len(args) != 3 or type(args[0]) is not GlobalRef:
        return NotImplemented
    base = args[1]
    if type(base) is not GlobalRef or base.module != "builtins" or base.name not in RECONSTRUCT_BASES:
        return NotImplemented
    if base.name != "object" and args[2] is not None and type(args[2]) not in (int, float, str, bytes, tuple, list):
        return NotImplemented
    inner = REBUILDERS.get((args[0].module, args[0].name))
    if inner in (_namespace, _ordered_dict) and args[2] is None:
        return {}
    return Call(args[0], (), {}, "reconstructor")


def _newobj(ref: GlobalRef, args: tuple[Any, ...], kwargs: dict[Any, Any], kind: str) -> Any:
    # copyreg.__newobj__(cls, *args) is NEWOBJ; copyreg.__newobj_ex__(cls, args, kwargs) is NEWOBJ_EX.
    if not args or type(args[0]) is not GlobalRef:
        return NotImplemented
    if ref.name == "__newobj_ex__":
        if len(args) != 3 or type(args[1]) is not tuple or type(args[2]) is not dict:
            return NotImplemented
        return Call(args[0], args[1] + tuple(args[2].values()), {}, "newobj")
    return Call(args[0], args[1:], {}, "newobj")


def _set(ref: GlobalRef, args: tuple[Any, ...], kwargs: dict[Any, Any], kind: str) -> Any:
    if not args:
        return set() if ref.name == "set" else frozenset()
    if len(args) == 1 and isinstance(args[0], list | tuple | set | frozenset):
        return set(args[0]) if ref.name == "set" else frozenset(args[0])
    return NotImplemented


def _complex(ref: GlobalRef, args: tuple[Any, ...], kwargs: dict[Any, Any], kind: str) -> Any:
    if len(args) <= 2 and all(isinstance(a, int | float) and not isinstance(a, bool) for a in args):
        return complex(*args)
    return NotImplemented


def _slice(ref: GlobalRef, args: tuple[Any, ...], kwargs: dict[Any, Any], kind: str) -> Any:
    if 1 <= len(args) <= 3 and all(a is None or isinstance(a, int) for a in args):
        return slice(*args)
    return NotImplemented


def _bytes(ref: GlobalRef, args: tuple[Any, ...], kwargs: dict[Any, Any], kind: str) -> Any:
    make = bytes if ref.name == "bytes" else bytearray
    if not args:
        return make()
    if len(args) == 1 and isinstance(args[0], bytes | bytearray | list):
        try:
            return make(args[0])
        except (TypeError, ValueError):
            return NotImplemented
    if len(args) == 2 and isinstance(args[0], str) and args[1] in ("latin-1", "latin1"):
        return make(args[0].encode("latin-1"))
    return NotImplemented


def _codecs_encode(ref: GlobalRef, args: tuple[Any, ...], kwargs: dict[Any, Any], kind: str) -> Any:
    if len(args) == 2 and isinstance(args[0], str) and args[1] in ("latin1", "latin-1"):
        try:
            return args[0].encode("latin-1")
        except UnicodeEncodeError:
            return NotImplemented
    return NotImplemented


def _path(ref: GlobalRef, args: tuple[Any, ...], kwargs: dict[Any, Any], kind: str) -> Any:
    if all(isinstance(a, str) for a in args):
        pure = PureWindowsPath if "Windows" in ref.name else PurePosixPath
        return str(pure(*args))
    return NotImplemented


def _np_dtype(ref: GlobalRef, args: tuple[Any, ...], kwargs: dict[Any, Any], kind: str) -> Any:
    if args and isinstance(args[0], str):
        return NumpyDType(args[0])
    return NotImplemented


def _np_reconstruct(ref: GlobalRef, args: tuple[Any, ...], kwargs: dict[Any, Any], kind: str) -> Any:
    return PendingArray(Call(ref, args, {}, kind))


def _np_scalar(ref: GlobalRef, args: tuple[Any, ...], kwargs: dict[Any, Any], kind: str) -> Any:
    if len(args) == 2 and isinstance(args[0], NumpyDType) and isinstance(args[1], bytes | bytearray):
        dt = args[0].to_numpy()
        if dt is not None and dt.itemsize == len(args[1]):
            import numpy as np

            return np.frombuffer(bytes(args[1]), dtype=dt)[0].item()
    return NotImplemented


def _np_frombuffer(ref: GlobalRef, args: tuple[Any, ...], kwargs: dict[Any, Any], kind: str) -> Any:
    # numpy protocol-5 arrays: _frombuffer(buffer, dtype, shape, order)
    if len(args) == 4 and isinstance(args[1], NumpyDType) and isinstance(args[0], bytes | bytearray):
        arr = _array_from_state(None, (1, args[2], args[1], args[3] == "F", args[0]))
        return arr
    return NotImplemented


def _tensor_v2(ref: GlobalRef, args: tuple[Any, ...], kwargs: dict[Any, Any], kind: str) -> Any:
    # _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata=None)
    # _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype, ...)
    if len(args) < 4:
        return NotImplemented
    storage, offset, size, stride = args[0], args[1], args[2], args[3]
    if (
        type(storage) is not StorageRef
        or type(offset) is not int
        or type(size) is not tuple
        or type(stride) is not tuple
        or len(size) != len(stride)
        or offset < 0
    ):
        return NotImplemented
    for x in size + stride:
        if type(x) is not int or x < 0:
            return NotImplemented
    dtype, itemsize = storage.dtype, storage.itemsize
    if ref.name == "_rebuild_tensor_v3" and len(args) > 6 and isinstance(args[6], GlobalRef):
        dtype, itemsize = TORCH_DTYPES.get(args[6].name, (args[6].name, 1))
    requires_grad = len(args) > 4 and args[4] is True
    numel = storage.numel * storage.itemsize // itemsize if itemsize != storage.itemsize else storage.numel
    return TensorRecord(dtype, size, stride, storage.key, offset, itemsize, numel, storage.location, requires_grad)


def _parameter(ref: GlobalRef, args: tuple[Any, ...], kwargs: dict[Any, Any], kind: str) -> Any:
    # _rebuild_parameter(data, requires_grad, backward_hooks[, state])
    if args and isinstance(args[0], TensorRecord):
        t = args[0]
        rg = bool(args[1]) if len(args) > 1 and isinstance(args[1], bool) else t.requires_grad
        return TensorRecord(
            t.dtype,
            t.shape,
            t.stride,
            t.storage_key,
            t.storage_offset,
            t.itemsize,
            t.storage_numel,
            t.location,
            rg,
            True,
        )
    return NotImplemented


def _from_type_v2(ref: GlobalRef, args: tuple[Any, ...], kwargs: dict[Any, Any], kind: str) -> Any:
    # torch._tensor._rebuild_from_type_v2(func, new_type, args, state): calls func(*args), then
    # as_subclass(new_type) and the state. Rebuilt only when func is one of torch's tensor rebuilders
    # (anything else would be a call of whatever the file names) and new_type is a plain global.
    if len(args) != 4 or type(args[0]) is not GlobalRef or type(args[1]) is not GlobalRef or type(args[2]) is not tuple:
        return NotImplemented
    func = args[0]
    inner = REBUILDERS.get((func.module, func.name))
    if inner not in (_tensor_v2, _parameter):
        return NotImplemented
    return inner(func, args[2], {}, kind)


# Enum classes whose members trainers pickle as ``Cls(value)`` (an Enum lookup, no code of the file's
# choosing): HF ``training_args.bin`` holds one per strategy / scheduler / optimizer option.
TRAINER_ENUMS = frozenset(
    {
        ("transformers.trainer_utils", "IntervalStrategy"),
        ("transformers.trainer_utils", "SaveStrategy"),
        ("transformers.trainer_utils", "HubStrategy"),
        ("transformers.trainer_utils", "SchedulerType"),
        ("transformers.trainer_utils", "FSDPOption"),
        ("transformers.trainer_utils", "EvaluationStrategy"),
        ("transformers.trainer_utils", "ShardedDDPOption"),
        ("transformers.training_args", "OptimizerNames"),
        ("transformers.training_args", "ParallelMode"),
        ("transformers.debug_utils", "DebugOption"),
        ("accelerate.utils.dataclasses", "DistributedType"),
        ("accelerate.utils.dataclasses", "DynamoBackend"),
        ("accelerate.utils.dataclasses", "PrecisionType"),
    }
)


def _enum_member(ref: GlobalRef, args: tuple[Any, ...], kwargs: dict[Any, Any], kind: str) -> Any:
    """``Cls(value)`` of a known Enum with one plain value: the member, read as its value."""
    if kind == "reduce" and not kwargs and len(args) == 1 and type(args[0]) in (str, int, float, bool):
        return args[0]
    return NotImplemented


REBUILDERS: dict[tuple[str, str], Rebuilder] = {
    ("collections", "OrderedDict"): _ordered_dict,
    ("collections", "defaultdict"): _defaultdict,
    ("argparse", "Namespace"): _namespace,
    ("copyreg", "_reconstructor"): _reconstructor,
    ("copyreg", "__newobj__"): _newobj,
    ("copyreg", "__newobj_ex__"): _newobj,
    ("builtins", "set"): _set,
    ("builtins", "frozenset"): _set,
    ("builtins", "complex"): _complex,
    ("builtins", "slice"): _slice,
    ("builtins", "bytes"): _bytes,
    ("builtins", "bytearray"): _bytes,
    ("_codecs", "encode"): _codecs_encode,
    ("torch._utils", "_rebuild_tensor_v2"): _tensor_v2,
    ("torch._utils", "_rebuild_tensor_v3"): _tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): _from_type_v2,
}
for _enum in TRAINER_ENUMS:
    REBUILDERS[_enum] = _enum_member
for _mod in ("pathlib", "pathlib._local"):
    for _cls in ("PosixPath", "WindowsPath", "PurePosixPath", "PureWindowsPath", "Path"):
        REBUILDERS[(_mod, _cls)] = _path
for _mod in ("numpy", "numpy.core.multiarray", "numpy._core.multiarray"):
    REBUILDERS[(_mod, "dtype")] = _np_dtype
for _mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
    REBUILDERS[(_mod, "_reconstruct")] = _np_reconstruct
    REBUILDERS[(_mod, "scalar")] = _np_scalar
for _mod in ("numpy.core.numeric", "numpy._core.numeric"):
    REBUILDERS[(_mod, "_frombuffer")] = _np_frombuffer


def _array_from_state(pending: PendingArray | None, state: Any) -> Any:
    # ndarray.__setstate__((version, shape, dtype, is_fortran, rawdata))
    if not (isinstance(state, tuple) and len(state) == 5):
        return NotImplemented
    _version, shape, dtype, fortran, raw = state
    if not (isinstance(shape, tuple) and all(isinstance(s, int) and s >= 0 for s in shape)):
        return NotImplemented
    if not isinstance(dtype, NumpyDType) or not isinstance(raw, bytes | bytearray):
        return NotImplemented
    dt = dtype.to_numpy()
    if dt is None:
        return NotImplemented
    count = 1
    for s in shape:
        count *= s
    if count * dt.itemsize != len(raw):
        return NotImplemented
    import numpy as np

    arr = np.frombuffer(bytes(raw), dtype=dt).reshape(shape, order="F" if fortran else "C")
    return arr.copy()


def finish_build(inst: Any, state: Any) -> Any:
    """Apply a ``BUILD`` state to ``inst`` the way lrguard models it; return the resulting object.

    Placeholders record the state; dicts (``argparse.Namespace``) are updated; a pending numpy array
    becomes an ``ndarray`` (a new object the walker swaps into the stack and memo); a numpy dtype takes
    its byte order. Anything else ignores the state.
    """
    if isinstance(inst, Call):
        if inst.state is None:
            inst.state = state
        elif isinstance(inst.state, dict) and isinstance(state, dict):
            inst.state.update(state)
        else:
            inst.state = state
        return inst
    if isinstance(inst, dict):
        parts = state if isinstance(state, tuple) else (state,)
        for part in parts:
            if isinstance(part, dict):
                inst.update(part)
        return inst
    if isinstance(inst, PendingArray):
        arr = _array_from_state(inst, state)
        if arr is NotImplemented:
            inst.call.state = state
            return inst.call
        return arr
    if isinstance(inst, NumpyDType):
        if isinstance(state, tuple) and len(state) > 1 and isinstance(state[1], str):
            inst.byteorder = state[1]
        return inst
    return inst
