"""A pickle reader that never imports or calls anything named in the file.

:func:`read_pickle` interprets the pickle opcodes of protocols 0–5 itself. Plain values (``None``,
bools, ints, floats, str, bytes, bytearray, tuples, lists, dicts, sets, frozensets) come out intact.
Every ``GLOBAL``/``STACK_GLOBAL``/``INST``/``EXT*`` name becomes a
:class:`~lrguard.checkpoint.placeholders.GlobalRef`, and calls (``REDUCE``, ``NEWOBJ(_EX)``, ``INST``,
``OBJ``) become :class:`~lrguard.checkpoint.placeholders.Call` records — except for a small allowlist
that is rebuilt as plain data by lrguard's own code (:mod:`lrguard.checkpoint.rebuild`). Every global
and every call is logged with its opcode offset for the security verdict.

Work is linear in the input: each opcode consumes at least one byte, lengths are checked against the
bytes that remain, the memo and the mark stack are bounded, and huge text integers are refused. Any
malformed or truncated stream raises :class:`PickleReadError` naming the offset.
"""

from __future__ import annotations

import codecs
import mmap
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from struct import Struct
from typing import Any

from lrguard.checkpoint.placeholders import Call, GlobalRef
from lrguard.checkpoint.rebuild import REBUILDERS, PendingArray, finish_build

_U16 = Struct("<H").unpack_from
_I32 = Struct("<i").unpack_from
_U32 = Struct("<I").unpack_from
_U64 = Struct("<Q").unpack_from
_F64 = Struct(">d").unpack_from

# Python 2 module names that Python 3's unpickler maps (fix_imports) and that matter to lrguard.
_PY2_MODULES = {
    "__builtin__": "builtins",
    "copy_reg": "copyreg",
    "exceptions": "builtins",
    "commands": "subprocess",
    "cPickle": "pickle",
    "thread": "_thread",
    "cStringIO": "io",
    "StringIO": "io",
    "urllib2": "urllib.request",
    "UserDict": "collections",
    "UserList": "collections",
}
# Python 2 names that Python 3's unpickler renames (fix_imports), after the module mapping.
_PY2_NAMES = {
    ("builtins", "xrange"): "range",
    ("builtins", "unicode"): "str",
    ("builtins", "long"): "int",
    ("builtins", "basestring"): "str",
    ("builtins", "unichr"): "chr",
    ("builtins", "raw_input"): "input",
    ("builtins", "StandardError"): "Exception",
}
_NO_FRAME = 1 << 62
# Attributes that APPEND(S)/ADDITEMS look up on the object itself (an instance attribute wins).
_METHOD_KEYS = frozenset({"append", "extend", "add"})


def _build_risk(state: Any) -> str | None:
    """The attribute a BUILD state installs that a real unpickler would later call, if any."""
    parts = state if type(state) is tuple else (state,)
    for part in parts:
        if type(part) is dict:
            for key, value in part.items():
                if type(key) is not str:
                    continue
                if key[:2] == "__" and key[-2:] == "__":
                    return key
                if key in _METHOD_KEYS and type(value) in (GlobalRef, Call):
                    return key
    return None


class PickleReadError(ValueError):
    """The pickle stream is malformed, truncated or exceeds a safety limit.

    Attributes:
        offset: Byte offset of the opcode that failed.
        problem: What is wrong, in plain words.
        limit: True when lrguard stopped at one of its own safety limits (a real unpickler would go on),
            False when the stream itself is malformed (a real unpickler stops there too).
        partial: What was read before the failure (globals, calls, builds): a payload placed before a
            malformed opcode runs in a real unpickler, so the security verdict uses it.
    """

    def __init__(self, problem: str, offset: int, *, limit: bool = False) -> None:
        self.offset = offset
        self.problem = problem
        self.limit = limit
        self.partial: PickleResult | None = None
        super().__init__(f"{problem} (pickle offset {offset})")


@dataclass(frozen=True)
class Limits:
    """Safety limits for one pickle stream.

    Attributes:
        max_memo: Most memo entries.
        max_marks: Deepest MARK nesting.
        max_stack: Most objects on the stack at once.
        max_int_digits: Longest text integer (``INT``/``LONG``) and ``LONG4`` byte length.
        max_pickle_bytes: Largest stored (uncompressed) ``data.pkl`` read from a zip.
        max_inflate: Most bytes inflated from a compressed pickle entry (a zip bomb is cut off there;
            real ``data.pkl`` files are tiny next to their storages and torch never compresses them).
    """

    max_memo: int = 5_000_000
    max_marks: int = 10_000
    max_stack: int = 5_000_000
    max_int_digits: int = 4300
    max_pickle_bytes: int = 2 << 30
    max_inflate: int = 64 << 20


@dataclass(frozen=True, slots=True)
class GlobalUse:
    """One reference to a module-level name.

    Attributes:
        offset: Byte offset of the opcode.
        opcode: ``GLOBAL``, ``STACK_GLOBAL``, ``INST`` or ``EXT``.
        module: Module name as written (Python 2 names mapped to Python 3).
        name: Qualified name.
    """

    offset: int
    opcode: str
    module: str
    name: str

    @property
    def dotted(self) -> str:
        """``module.name``."""
        return f"{self.module}.{self.name}"


@dataclass(frozen=True, slots=True)
class CallSite:
    """One call the pickle asked for (made only for allowlisted rebuilders).

    Attributes:
        offset: Byte offset of the opcode.
        opcode: ``REDUCE``, ``NEWOBJ``, ``NEWOBJ_EX``, ``INST`` or ``OBJ``.
        target: Dotted name of the callable, or ``"<call result>"``/``"<non-global>"`` when the
            callable is not a plain global (a chain such as ``getattr(...)(...)``).
        rebuilt: Whether lrguard rebuilt the value as plain data.
        nargs: Number of arguments the file passes (positional plus keyword).
        construct: The opcode only creates an instance (``NEWOBJ``/``NEWOBJ_EX``, or
            ``copyreg._reconstructor``/``__newobj__`` rebuilt as such): ``cls.__new__`` runs, not a call.
    """

    offset: int
    opcode: str
    target: str
    rebuilt: bool
    nargs: int = 0
    construct: bool = False


@dataclass(frozen=True, slots=True)
class BuildSite:
    """A ``BUILD`` that can make a real unpickler call something the file chose.

    Attributes:
        offset: Byte offset of the opcode.
        kind: ``"on-global"`` (BUILD applied to a class or function object itself: it sets attributes
            of that global), ``"dunder"`` (the state installs a ``__dunder__`` attribute such as
            ``__setstate__``, which a later ``BUILD`` would call) or ``"method"`` (the state installs
            ``append``/``extend``/``add``, which a later ``APPEND(S)``/``ADDITEMS`` would call).
        detail: The global's name or the attribute installed.
    """

    offset: int
    kind: str
    detail: str


@dataclass
class PickleResult:
    """What one pickle stream holds.

    Attributes:
        value: The top-level object.
        end: Offset just past the STOP opcode.
        protocol: Protocol announced by ``PROTO`` (0 when absent).
        globals: Every global reference, in stream order.
        calls: Every call site, in stream order.
        opcodes: Number of opcodes read.
        builds: ``BUILD`` opcodes that can call something (see :class:`BuildSite`).
        straddles: Frame ends that an opcode argument runs across: a reader of a file object sees
            different opcodes there than a reader of bytes (see :mod:`lrguard.checkpoint.frames`).
        start: Offset of the first opcode.
    """

    value: Any
    end: int
    protocol: int
    globals: list[GlobalUse] = field(default_factory=list)
    calls: list[CallSite] = field(default_factory=list)
    opcodes: int = 0
    builds: list[BuildSite] = field(default_factory=list)
    straddles: list[int] = field(default_factory=list)
    start: int = 0


def _target_name(func: Any) -> str:
    if isinstance(func, GlobalRef):
        return func.dotted
    return "<call result>" if isinstance(func, Call) else "<non-global>"


def read_pickle(
    data: bytes | bytearray | memoryview | mmap.mmap,
    pos: int = 0,
    *,
    persistent_load: Callable[[Any], Any] | None = None,
    limits: Limits = Limits(),
) -> PickleResult:
    """Read one pickle from ``data`` starting at ``pos`` without executing it.

    Args:
        data: The bytes holding the pickle (it may continue past the STOP opcode).
        pos: Offset of the first opcode.
        persistent_load: Turns a persistent id (``PERSID``/``BINPERSID``) into a value; lrguard's
            own function, never anything from the file. Default: keep the id as read.
        limits: Safety limits.

    Returns:
        The top-level value with the globals and calls referenced, and the offset after STOP.

    Raises:
        PickleReadError: Malformed, truncated, or over a limit.
    """
    buf = bytes(data) if isinstance(data, bytearray | memoryview) else data  # bytes or mmap
    n = len(buf)
    stack: list[Any] = []
    metastack: list[list[Any]] = []
    memo: dict[int, Any] = {}
    globals_: list[GlobalUse] = []
    calls: list[CallSite] = []
    builds: list[BuildSite] = []
    straddles: list[int] = []
    frame_end = _NO_FRAME
    start = pos
    proto = 0
    count = 0
    op_pos = pos
    pload = persistent_load if persistent_load is not None else (lambda pid: pid)
    max_memo, max_marks = limits.max_memo, limits.max_marks
    max_digits = limits.max_int_digits
    max_stack = limits.max_stack
    pending = PendingArray

    def need(k: int) -> None:
        if pos + k > n or k < 0:
            raise PickleReadError(f"truncated: needs {k} bytes, {max(n - pos, 0)} left", op_pos)

    def readline() -> bytes:
        nonlocal pos
        end = buf.find(b"\n", pos)
        if end < 0:
            raise PickleReadError("truncated: text argument without newline", op_pos)
        line = buf[pos:end]
        pos = end + 1
        return line

    def pop_mark() -> list[Any]:
        nonlocal stack
        items = stack
        stack = metastack.pop()
        return items

    def memo_put(idx: int, value: Any) -> None:
        if idx not in memo and len(memo) >= max_memo:
            raise PickleReadError(f"memo exceeds {max_memo} entries", op_pos, limit=True)
        memo[idx] = value
        if type(value) is pending:
            value.memo_keys.append(idx)

    # id(GlobalRef) -> its rebuilder; every GlobalRef of this walk is made (and registered) by add_global
    rebuilders: dict[int, Any] = {}
    empty: dict[Any, Any] = {}

    def call(func: Any, args: Any, kwargs: dict[Any, Any] | None, kind: str, opname: str) -> Any:
        if type(args) is not tuple:
            args = (args,)
        rebuild = rebuilders.get(id(func)) if type(func) is GlobalRef else None
        if rebuild is not None:
            value = rebuild(func, args, kwargs or empty, kind)
            if value is not NotImplemented:
                if type(value) is Call:  # an instance made by copyreg._reconstructor / __newobj__
                    calls.append(CallSite(op_pos, opname, value.type_name, True, len(value.args), True))
                return value  # rebuilt as plain data by lrguard's own code
        nargs = len(args) + len(kwargs or empty)
        calls.append(CallSite(op_pos, opname, _target_name(func), False, nargs, kind == "newobj"))
        return Call(func, args, dict(kwargs or empty), kind)

    def add_global(module: str, name: str, opname: str) -> GlobalRef:
        module = _PY2_MODULES.get(module, module)
        name = _PY2_NAMES.get((module, name), name)
        globals_.append(GlobalUse(op_pos, opname, module, name))
        ref = GlobalRef(module, name)
        rebuilders[id(ref)] = REBUILDERS.get((module, name))
        return ref

    def int_text(line: bytes) -> int:
        if len(line) > max_digits:
            raise PickleReadError(f"text integer longer than {max_digits} digits", op_pos, limit=True)
        return int(line)

    try:
        while True:
            op_pos = pos
            if pos >= frame_end:  # left the current frame: did the last opcode's argument run across its end?
                if pos > frame_end:
                    straddles.append(frame_end)
                frame_end = _NO_FRAME
            op = buf[pos]  # IndexError at the end of the data: reported as "no STOP opcode"
            pos += 1
            count += 1
            if op == 0x72:  # LONG_BINPUT (the most frequent opcode of torch pickles)
                k = _U32(buf, pos)[0]
                pos += 4
                v = stack[-1]
                memo[k] = v
                if type(v) is pending:
                    v.memo_keys.append(k)
            elif op == 0x68:  # BINGET
                stack.append(memo[buf[pos]])
                pos += 1
            elif op == 0x4D:  # BININT2
                stack.append(_U16(buf, pos)[0])
                pos += 2
            elif op == 0x4B:  # BININT1
                stack.append(buf[pos])
                pos += 1
            elif op == 0x28:  # MARK
                if len(metastack) >= max_marks:
                    raise PickleReadError(f"MARK nesting deeper than {max_marks}", op_pos, limit=True)
                metastack.append(stack)
                stack = []
            elif op == 0x74:  # TUPLE
                items = stack
                stack = metastack.pop()
                stack.append(tuple(items))
            elif op == 0x52:  # REDUCE
                args = stack.pop()
                func = stack[-1]
                rebuild = rebuilders.get(id(func)) if type(func) is GlobalRef and type(args) is tuple else None
                value = rebuild(func, args, empty, "reduce") if rebuild is not None else NotImplemented
                if value is NotImplemented:
                    value = call(func, args, None, "reduce", "REDUCE")
                elif type(value) is Call:  # an instance made by copyreg._reconstructor / __newobj__
                    calls.append(CallSite(op_pos, "REDUCE", value.type_name, True, len(value.args), True))
                stack[-1] = value
            elif op == 0x58:  # BINUNICODE
                need(4)
                (k,) = _U32(buf, pos)
                pos += 4
                need(k)
                stack.append(buf[pos : pos + k].decode("utf-8", "surrogatepass"))
                pos += k
            elif op == 0x71:  # BINPUT (bounds: buf[pos] raises IndexError at the end)
                v = stack[-1]
                memo[buf[pos]] = v
                pos += 1
                if type(v) is pending:
                    v.memo_keys.append(buf[pos - 1])
            elif op == 0x6A:  # LONG_BINGET
                stack.append(memo[_U32(buf, pos)[0]])
                pos += 4
            elif op == 0x85:  # TUPLE1
                stack[-1] = (stack[-1],)
            elif op == 0x86:  # TUPLE2
                b = stack.pop()
                stack[-1] = (stack[-1], b)
            elif op == 0x87:  # TUPLE3
                c = stack.pop()
                b = stack.pop()
                stack[-1] = (stack[-1], b, c)
            elif op == 0x29:  # EMPTY_TUPLE
                stack.append(())
            elif op == 0x89:  # NEWFALSE
                stack.append(False)
            elif op == 0x88:  # NEWTRUE
                stack.append(True)
            elif op == 0x4E:  # NONE
                stack.append(None)
            elif op == 0x51:  # BINPERSID
                stack[-1] = pload(stack[-1])
            elif op == 0x75:  # SETITEMS
                items = pop_mark()
                _setitems(stack[-1], items)
            elif op == 0x73:  # SETITEM
                v = stack.pop()
                k_ = stack.pop()
                _setitems(stack[-1], [k_, v])
            elif op == 0x7D:  # EMPTY_DICT
                stack.append({})
            elif op == 0x5D:  # EMPTY_LIST
                stack.append([])
            elif op == 0x65:  # APPENDS
                items = pop_mark()
                _appends(stack[-1], items)
            elif op == 0x61:  # APPEND
                v = stack.pop()
                _appends(stack[-1], [v])
            elif op == 0x4A:  # BININT
                stack.append(_I32(buf, pos)[0])
                pos += 4
            elif op == 0x47:  # BINFLOAT
                stack.append(_F64(buf, pos)[0])
                pos += 8
            elif op == 0x8C:  # SHORT_BINUNICODE
                need(1)
                k = buf[pos]
                pos += 1
                need(k)
                stack.append(buf[pos : pos + k].decode("utf-8", "surrogatepass"))
                pos += k
            elif op == 0x94:  # MEMOIZE
                memo_put(len(memo), stack[-1])
            elif op == 0x63:  # GLOBAL
                module = readline().decode("utf-8")
                name = readline().decode("utf-8")
                stack.append(add_global(module, name, "GLOBAL"))
            elif op == 0x93:  # STACK_GLOBAL
                name = stack.pop()
                module = stack.pop()
                if not isinstance(module, str) or not isinstance(name, str):
                    raise PickleReadError("STACK_GLOBAL operands are not strings", op_pos)
                stack.append(add_global(module, name, "STACK_GLOBAL"))
            elif op == 0x81:  # NEWOBJ
                args = stack.pop()
                stack[-1] = call(stack[-1], args, None, "newobj", "NEWOBJ")
            elif op == 0x92:  # NEWOBJ_EX
                kwargs = stack.pop()
                args = stack.pop()
                if not isinstance(kwargs, dict):
                    raise PickleReadError("NEWOBJ_EX keyword arguments are not a dict", op_pos)
                stack[-1] = call(stack[-1], args, kwargs, "newobj", "NEWOBJ_EX")
            elif op == 0x62:  # BUILD
                state = stack.pop()
                inst = stack[-1]
                if type(inst) is GlobalRef:
                    builds.append(BuildSite(op_pos, "on-global", inst.dotted))
                elif type(state) is dict or type(state) is tuple:
                    risky = _build_risk(state)
                    if risky is not None:
                        builds.append(BuildSite(op_pos, "dunder" if risky[:2] == "__" else "method", risky))
                out = finish_build(inst, state)
                if out is not inst:
                    stack[-1] = out
                    for key in inst.memo_keys if type(inst) is pending else ():
                        if memo.get(key) is inst:
                            memo[key] = out
            elif op == 0x80:  # PROTO
                need(1)
                proto = buf[pos]
                pos += 1
                if proto > 5:
                    raise PickleReadError(f"unsupported pickle protocol {proto}", op_pos)
            elif op == 0x95:  # FRAME
                need(8)
                (k,) = _U64(buf, pos)
                pos += 8
                need(k)
                if frame_end != _NO_FRAME and pos + k > frame_end:
                    straddles.append(frame_end)  # a new frame reaching past the current one
                frame_end = pos + k
            elif op == 0x2E:  # STOP
                value = stack.pop()
                return PickleResult(value, pos, proto, globals_, calls, count, builds, straddles, start)
            elif op == 0x30:  # POP
                if stack:
                    stack.pop()
                else:
                    pop_mark()
            elif op == 0x31:  # POP_MARK
                pop_mark()
            elif op == 0x32:  # DUP
                stack.append(stack[-1])
            elif op == 0x42:  # BINBYTES
                need(4)
                (k,) = _U32(buf, pos)
                pos += 4
                need(k)
                stack.append(buf[pos : pos + k])
                pos += k
            elif op == 0x43:  # SHORT_BINBYTES
                need(1)
                k = buf[pos]
                pos += 1
                need(k)
                stack.append(buf[pos : pos + k])
                pos += k
            elif op == 0x8E or op == 0x96 or op == 0x8D:  # BINBYTES8, BYTEARRAY8, BINUNICODE8
                need(8)
                (k,) = _U64(buf, pos)
                pos += 8
                need(k)
                raw = buf[pos : pos + k]
                pos += k
                if op == 0x8E:
                    stack.append(raw)
                elif op == 0x96:
                    stack.append(bytearray(raw))
                else:
                    stack.append(raw.decode("utf-8", "surrogatepass"))
            elif op == 0x54 or op == 0x55:  # BINSTRING, SHORT_BINSTRING (Python 2 str)
                if op == 0x54:
                    need(4)
                    (k,) = _I32(buf, pos)
                    pos += 4
                else:
                    need(1)
                    k = buf[pos]
                    pos += 1
                need(k)
                stack.append(buf[pos : pos + k].decode("latin-1"))
                pos += k
            elif op == 0x8A or op == 0x8B:  # LONG1, LONG4
                if op == 0x8A:
                    need(1)
                    k = buf[pos]
                    pos += 1
                else:
                    need(4)
                    (k,) = _I32(buf, pos)
                    pos += 4
                    if k > max_digits:
                        raise PickleReadError(f"LONG4 longer than {max_digits} bytes", op_pos, limit=True)
                need(k)
                stack.append(int.from_bytes(buf[pos : pos + k], "little", signed=True))
                pos += k
            elif op == 0x8F:  # EMPTY_SET
                stack.append(set())
            elif op == 0x90:  # ADDITEMS
                items = pop_mark()
                _additems(stack[-1], items)
            elif op == 0x91:  # FROZENSET
                items = pop_mark()
                stack.append(frozenset(items))
            elif op == 0x6C:  # LIST
                items = pop_mark()
                stack.append(items)
            elif op == 0x64:  # DICT
                items = pop_mark()
                d: dict[Any, Any] = {}
                _setitems(d, items)
                stack.append(d)
            elif op == 0x49:  # INT (text; "00"/"01" are False/True)
                line = readline()
                if line == b"00":
                    stack.append(False)
                elif line == b"01":
                    stack.append(True)
                else:
                    stack.append(int_text(line))
            elif op == 0x4C:  # LONG (text, trailing L)
                line = readline()
                stack.append(int_text(line[:-1] if line.endswith(b"L") else line))
            elif op == 0x46:  # FLOAT (text)
                stack.append(float(readline()))
            elif op == 0x53:  # STRING (quoted text)
                line = readline()
                if len(line) < 2 or line[:1] != line[-1:] or line[:1] not in (b"'", b'"'):
                    raise PickleReadError("STRING argument is not quoted", op_pos)
                stack.append(codecs.escape_decode(line[1:-1])[0].decode("latin-1"))  # type: ignore[attr-defined]
            elif op == 0x56:  # UNICODE (raw-unicode-escape text)
                stack.append(readline().decode("raw-unicode-escape"))
            elif op == 0x70:  # PUT (text)
                memo_put(int_text(readline()), stack[-1])
            elif op == 0x67:  # GET (text)
                stack.append(memo[int_text(readline())])
            elif op == 0x69:  # INST
                module = readline().decode("utf-8")
                name = readline().decode("utf-8")
                cls = add_global(module, name, "INST")
                args = tuple(pop_mark())
                stack.append(call(cls, args, None, "inst", "INST"))
            elif op == 0x6F:  # OBJ
                items = pop_mark()
                if not items:
                    raise PickleReadError("OBJ without a class", op_pos)
                stack.append(call(items[0], tuple(items[1:]), None, "obj", "OBJ"))
            elif op == 0x50:  # PERSID (text)
                stack.append(pload(readline().decode("ascii")))
            elif op == 0x82 or op == 0x83 or op == 0x84:  # EXT1, EXT2, EXT4
                if op == 0x82:
                    need(1)
                    code = buf[pos]
                    pos += 1
                elif op == 0x83:
                    need(2)
                    code = _U16(buf, pos)[0]
                    pos += 2
                else:
                    need(4)
                    code = _I32(buf, pos)[0]
                    pos += 4
                stack.append(add_global("copyreg.extension_registry", str(code), "EXT"))
            elif op == 0x97 or op == 0x98:  # NEXT_BUFFER, READONLY_BUFFER
                if op == 0x97:
                    raise PickleReadError("pickle refers to out-of-band buffers (protocol 5)", op_pos)
            else:
                raise PickleReadError(f"unknown opcode 0x{op:02x}", op_pos)
            if count & 0x3FF == 0:  # cheap periodic limits (each opcode adds at most one entry)
                if len(stack) > max_stack:
                    raise PickleReadError(f"stack exceeds {max_stack} objects", op_pos, limit=True)
                if len(memo) > max_memo:
                    raise PickleReadError(f"memo exceeds {max_memo} entries", op_pos, limit=True)
    except PickleReadError as exc:
        error = exc
    except (IndexError, KeyError, struct.error) as exc:
        if op_pos >= n:
            error = PickleReadError("truncated: no STOP opcode", op_pos)
        elif pos >= n or isinstance(exc, struct.error):
            error = PickleReadError(f"truncated: opcode argument runs past the end ({n - op_pos} bytes left)", op_pos)
        else:
            kind = "memo key missing" if isinstance(exc, KeyError) else "stack or mark underflow"
            error = PickleReadError(f"malformed pickle: {kind}", op_pos)
    except (MemoryError, RecursionError) as exc:
        error = PickleReadError(f"over lrguard's limits: {type(exc).__name__}", op_pos, limit=True)
    except (TypeError, ValueError, UnicodeDecodeError, OverflowError) as exc:
        error = PickleReadError(f"malformed pickle: {type(exc).__name__}: {exc}"[:200], op_pos)
    error.partial = PickleResult(None, op_pos, proto, globals_, calls, count, builds, straddles, start)
    raise error


def _setitems(target: Any, items: list[Any]) -> None:
    if len(items) % 2:
        raise ValueError("odd number of items for SETITEMS")
    if isinstance(target, dict):
        for i in range(0, len(items), 2):
            target[items[i]] = items[i + 1]
    elif isinstance(target, Call):
        target.items.extend(zip(items[::2], items[1::2], strict=True))
    else:
        raise TypeError(f"SETITEMS on {type(target).__name__}")


def _appends(target: Any, items: list[Any]) -> None:
    if isinstance(target, list):
        target.extend(items)
    elif isinstance(target, Call):
        target.appended.extend(items)
    else:
        raise TypeError(f"APPENDS on {type(target).__name__}")


def _additems(target: Any, items: list[Any]) -> None:
    if isinstance(target, set):
        target.update(items)
    elif isinstance(target, Call):
        target.appended.extend(items)
    else:
        raise TypeError(f"ADDITEMS on {type(target).__name__}")
