"""Security verdict for the pickles of a file: what a real unpickler would run, judged from what it does.

The verdict is about *use*, never about namespace alone:

* **Calls** (``REDUCE``, ``INST``/``OBJ`` with arguments, ``NEWOBJ_EX`` keywords): only the short list
  :data:`CONSTRUCTORS` (data containers, tensor/ndarray rebuild functions, a few value types) is safe.
  Any other callable is ``dangerous`` when the file passes it arguments, ``suspicious`` when it calls
  it without arguments (its code still runs), and ``dangerous`` when the callable is not a named global
  at all (the result of another call, a persistent id the loader resolves, an instance).
* **Instance creation** (``NEWOBJ`` with no arguments, ``copyreg._reconstructor`` with a builtin base,
  ``copyreg.__newobj__``): what ``torch.save(model)`` writes for every ``nn.Module``; only
  ``cls.__new__(cls)`` and the class's own ``__setstate__`` run. Safe for any class, except names that
  run code or touch the system (:func:`denied`). With arguments it is ``suspicious`` (``__new__`` gets
  values from the file).
* **BUILD** is a call when it can reach code the file chose: applied to a global (it sets attributes on
  a class or function), or installing ``__setstate__``/any ``__dunder__`` (the next ``BUILD`` would
  call it) or ``append``/``extend``/``add`` (the next ``APPEND(S)``/``ADDITEMS`` would): ``dangerous``.
* **References** (a global stored as a value, as YOLO checkpoints and legacy ``torch.save(model)``
  store classes) are not calls: safe, or ``suspicious`` for names that run code or touch the system.
* **Dotted names** (protocol 4 ``STACK_GLOBAL``, e.g. ``pathlib`` + ``os.system``) are judged segment
  by segment; the allowlist matches whole names exactly, so a traversal never inherits its safety.
* A stream lrguard could not read to its end because of its own limits, or whose frames make file and
  bytes readers disagree, is at least ``suspicious``; a stream that is malformed keeps the findings
  made before the bad opcode (a real unpickler has already run them when it fails).

The verdict of a file is the worst finding over every pickle in it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lrguard.checkpoint.pickle_walk import BuildSite, CallSite, GlobalUse, PickleReadError, PickleResult
from lrguard.checkpoint.rebuild import STORAGE_DTYPES, TORCH_DTYPES

SAFE = "safe"
SUSPICIOUS = "suspicious"
DANGEROUS = "dangerous"
_RANK = {SAFE: 0, SUSPICIOUS: 1, DANGEROUS: 2}

# Callables a real unpickler may call with any arguments: they only build a value from their arguments.
CONSTRUCTORS = frozenset(
    {
        "collections.OrderedDict",
        "collections.defaultdict",
        "collections.Counter",
        "collections.deque",
        "builtins.set",
        "builtins.frozenset",
        "builtins.complex",
        "builtins.slice",
        "builtins.bytes",
        "builtins.bytearray",
        "builtins.dict",
        "builtins.list",
        "builtins.tuple",
        "builtins.int",
        "builtins.float",
        "builtins.str",
        "builtins.bool",
        "builtins.range",
        "builtins.object",
        # harmless builtins some pickles call (pure functions of their arguments)
        "builtins.len",
        "builtins.abs",
        "builtins.min",
        "builtins.max",
        "builtins.round",
        "builtins.sum",
        "builtins.ord",
        "builtins.chr",
        "builtins.divmod",
        "builtins.hex",
        "builtins.oct",
        "builtins.bin",
        "_codecs.encode",
        "argparse.Namespace",
        "types.SimpleNamespace",
        "ultralytics.utils.IterableSimpleNamespace",
        "datetime.datetime",
        "datetime.date",
        "datetime.time",
        "datetime.timedelta",
        "datetime.timezone",
        "decimal.Decimal",
        "fractions.Fraction",
        "uuid.UUID",
        "pathlib.Path",
        "pathlib.PosixPath",
        "pathlib.WindowsPath",
        "pathlib.PurePath",
        "pathlib.PurePosixPath",
        "pathlib.PureWindowsPath",
        "pathlib._local.PosixPath",
        "pathlib._local.WindowsPath",
        "pathlib._local.PurePosixPath",
        "pathlib._local.PureWindowsPath",
        "numpy.dtype",
        "numpy.core.multiarray._reconstruct",
        "numpy.core.multiarray.scalar",
        "numpy._core.multiarray._reconstruct",
        "numpy._core.multiarray.scalar",
        "numpy.core.numeric._frombuffer",
        "numpy._core.numeric._frombuffer",
        "numpy.random._pickle.__randomstate_ctor",
        "numpy.random._pickle.__bit_generator_ctor",
        "numpy.random._pickle.__generator_ctor",
        "torch.Size",
        "torch.device",
        "torch.serialization._get_layout",
        "torch._utils._rebuild_tensor",
        "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_tensor_v3",
        "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_parameter_with_state",
        "torch._utils._rebuild_qtensor",
        "torch._utils._rebuild_sparse_tensor",
        "torch._utils._rebuild_nested_tensor",
        "torch._utils._rebuild_meta_tensor_no_storage",
        "torch._utils._rebuild_device_tensor_from_numpy",
        "torch._utils._rebuild_wrapper_subclass",
        # TorchScript's data.pkl / constants.pkl (list builders of the TorchScript unpickler)
        "torch.jit._pickle.build_intlist",
        "torch.jit._pickle.build_floatlist",
        "torch.jit._pickle.build_doublelist",
        "torch.jit._pickle.build_boollist",
        "torch.jit._pickle.build_tensorlist",
        "torch.jit._pickle.build_tensor_from_id",
        "torch.jit._pickle.restore_type_tag",
    }
)
# Safe only in the shape lrguard rebuilds (checked arguments); any other use is a call it cannot judge.
SHAPED = frozenset(
    {
        "copyreg._reconstructor",
        "copyreg.__newobj__",
        "copyreg.__newobj_ex__",
        "torch._tensor._rebuild_from_type_v2",
    }
)
# Names that hold plain values when referenced (dtypes, layouts, storage classes, the tensor classes).
_TORCH_VALUES = frozenset(
    {
        "Tensor",
        "strided",
        "sparse_coo",
        "sparse_csr",
        "sparse_csc",
        "sparse_bsr",
        "sparse_bsc",
        "_mkldnn",
        "per_tensor_affine",
        "per_channel_affine",
        "per_tensor_symmetric",
        "per_channel_symmetric",
        "contiguous_format",
        "channels_last",
        "channels_last_3d",
        "preserve_format",
        "memory_format",
        *TORCH_DTYPES,
        *STORAGE_DTYPES,
    }
)
# Modules (and module prefixes) whose functions run code, import, touch files, processes or the network.
DANGEROUS_MODULES = frozenset(
    {
        "os",
        "posix",
        "nt",
        "subprocess",
        "_posixsubprocess",
        "sys",
        "socket",
        "shutil",
        "runpy",
        "pickle",
        "_pickle",
        "marshal",
        "importlib",
        "ctypes",
        "pty",
        "webbrowser",
        "code",
        "codeop",
        "multiprocessing",
        "asyncio",
        "pip",
        "signal",
        "tempfile",
        "urllib",
        "requests",
        "http",
        "ftplib",
        "telnetlib",
        "smtplib",
        "pdb",
        "bdb",
        "timeit",
        "trace",
        "cProfile",
        "profile",
        "site",
        "sysconfig",
        "distutils",
        "setuptools",
        "pkg_resources",
        "zipimport",
        "imp",
        "types",
        "inspect",
        "gc",
        "threading",
        "_thread",
        "io",
        "_io",
        "dill",
        "joblib",
        "shelve",
        "pydoc",
        "operator",
        "_operator",
        "functools",
        "glob",
        "builtins",
        "torch.hub",
        "torch.serialization",
        "torch.jit",
        "torch.package",
        "torch._dynamo",
        "torch._inductor",
        "torch.utils.cpp_extension",
        "torch.utils.collect_env",
        "numpy.testing",
        "numpy.f2py",
        "numpy.distutils",
        "numpy.lib.npyio",
        "ultralytics.utils.checks",
        "ultralytics.utils.downloads",
        "ultralytics.hub",
        "yolov5.utils.downloads",
        "utils.downloads",
    }
)
# Function names that run code, reach arbitrary attributes, open files or processes, wherever they live.
DANGEROUS_NAMES = frozenset(
    {
        "eval",
        "exec",
        "execfile",
        "compile",
        "__import__",
        "import_module",
        "getattr",
        "setattr",
        "delattr",
        "__getattribute__",
        "__reduce__",
        "__reduce_ex__",
        "open",
        "input",
        "breakpoint",
        "globals",
        "locals",
        "vars",
        "system",
        "popen",
        "Popen",
        "spawn",
        "spawnv",
        "spawnl",
        "spawnlp",
        "spawnvp",
        "execv",
        "execve",
        "execl",
        "execvp",
        "fork",
        "load",
        "loads",
        "apply",
        "attrgetter",
        "methodcaller",
        "itemgetter",
        "partial",
        "reduce",
        "call",
        "run",
        "check_call",
        "check_output",
        "getoutput",
        "getstatusoutput",
        "check_requirements",
        "safe_download",
        "attempt_download",
        "download",
        "urlretrieve",
        "urlopen",
        "write_text",
        "write_bytes",
        "unlink",
        "rmtree",
        "remove",
        "interact",
        "set_trace",
        "_load_from_bytes",
    }
)


def denied(dotted: str) -> str | None:
    """Why ``dotted`` names something that runs code or touches the system, segment by segment, or None.

    Every module prefix is checked, and the final name: ``pathlib`` + ``os.system`` (a protocol-4
    attribute path) is caught by ``system`` whatever the first module is.
    """
    segs = dotted.split(".")
    for i in range(1, len(segs)):
        prefix = ".".join(segs[:i])
        if prefix in DANGEROUS_MODULES:
            return f"module {prefix} runs code or touches the system"
    if segs[-1] in DANGEROUS_NAMES:
        return f"{segs[-1]} runs code, opens files or processes, or reaches arbitrary attributes"
    return None


def classify_global(dotted: str) -> tuple[str, str]:
    """Classify a global that is only *referenced* (stored as a value, not called).

    Returns:
        ``(verdict, reason)``: ``safe``, or ``suspicious`` for names that run code when called.
    """
    if dotted in CONSTRUCTORS or dotted in SHAPED:
        return SAFE, "known constructor"
    module, _, name = dotted.rpartition(".")
    if module == "torch" and name in _TORCH_VALUES:
        return SAFE, "torch dtype, layout or storage type"
    if module.startswith("copyreg.extension_registry"):
        return SUSPICIOUS, "copyreg extension code (resolved by the loading process)"
    why = denied(dotted)
    if why:
        return SUSPICIOUS, f"referenced, not called; {why}"
    return SAFE, "referenced as a value (a class or function stored, not called)"


def judge_call(c: CallSite) -> tuple[str, str]:
    """Verdict and reason for one call site (see the module docstring)."""
    name = c.target
    if name in ("<call result>", "<non-global>"):
        return DANGEROUS, f"{c.opcode} calls an object the pickle computed, not a named global"
    why = denied(name) if name not in CONSTRUCTORS else None
    if c.construct:
        if why:
            return DANGEROUS, f"creates an instance of {name}: {why}"
        if name in CONSTRUCTORS or c.nargs == 0:
            return SAFE, "instance creation (cls.__new__ and the class's own __setstate__)"
        return SUSPICIOUS, f"calls {name}.__new__ with {c.nargs} argument(s) from the file"
    if name in CONSTRUCTORS or c.rebuilt:
        return SAFE, "known constructor"
    if name in SHAPED:
        return DANGEROUS, f"{name} with arguments that do not have the shape of a rebuild"
    if why:
        return DANGEROUS, f"calls {name}: {why}"
    if c.nargs == 0:
        return SUSPICIOUS, f"calls {name}() without arguments: its code runs (not a known constructor)"
    return DANGEROUS, f"calls {name} with {c.nargs} argument(s) from the file (not a known constructor)"


_BUILD_REASON = {
    "on-global": "BUILD sets attributes on the global {d} itself (a class or function of the loader)",
    "dunder": "BUILD installs {d}, which the unpickler calls later (e.g. a second BUILD calls __setstate__)",
    "method": "BUILD installs a callable as {d}, which APPEND(S)/ADDITEMS then calls",
}


@dataclass
class Finding:
    """One piece of evidence for the verdict.

    Attributes:
        verdict: ``safe``/``suspicious``/``dangerous``.
        rule: ``call``, ``construct``, ``build``, ``reference``, ``limit``, ``frames``, ``container``.
        stream: Which pickle (e.g. ``archive/data.pkl``, ``legacy sys-info``, ``stacked #2``).
        offset: Byte offset of the opcode inside that stream's bytes (file offset for plain files).
        opcode: The opcode, when there is one.
        name: The global involved, when there is one.
        reason: Plain words.
    """

    verdict: str
    rule: str
    stream: str
    offset: int
    opcode: str
    name: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        """Plain representation."""
        return {
            "verdict": self.verdict,
            "rule": self.rule,
            "stream": self.stream,
            "offset": self.offset,
            "opcode": self.opcode,
            "name": self.name,
            "reason": self.reason,
        }


@dataclass
class GlobalReport:
    """One distinct global with its worst classification and where it is referenced.

    Attributes:
        name: ``module.name``.
        verdict: ``safe``/``suspicious``/``dangerous``.
        reason: Why.
        offsets: Opcode offsets of every reference.
        opcodes: Opcodes used to reference it.
    """

    name: str
    verdict: str
    reason: str
    offsets: list[int] = field(default_factory=list)
    opcodes: list[str] = field(default_factory=list)


@dataclass
class Stream:
    """One pickle (or pickle-bearing region) of a file, as read.

    Attributes:
        label: Where it is (``archive/data.pkl``, ``legacy magic``, ``stacked #1``, ``tar:pickle``...).
        offset: Where it starts in the file (or in the zip entry).
        result: The walk, or what was read before ``error``.
        error: Why the walk stopped early, if it did.
    """

    label: str
    offset: int
    result: PickleResult | None
    error: PickleReadError | None = None


@dataclass
class SecurityReport:
    """Verdict of every pickle of a file.

    Attributes:
        verdict: Worst finding.
        globals: Distinct globals, in order of first reference, each with its worst use.
        findings: Every finding that is not plain ``safe`` (and the stream-level notes).
        streams: Each stream judged: label, offset, opcodes read, error.
        call_chains: Offsets of calls whose callable is not a named global.
    """

    verdict: str
    globals: list[GlobalReport]
    findings: list[Finding] = field(default_factory=list)
    streams: list[dict[str, Any]] = field(default_factory=list)
    call_chains: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        """Plain representation for ``--json``."""
        return {
            "verdict": self.verdict,
            "globals": [
                {
                    "name": g.name,
                    "verdict": g.verdict,
                    "reason": g.reason,
                    "offsets": g.offsets[:20],
                    "count": len(g.offsets),
                }
                for g in self.globals
            ],
            "findings": [f.to_json() for f in self.findings[:200]],
            "streams": self.streams,
            "call_chains": self.call_chains[:20],
        }


def assess_streams(streams: list[Stream], extra: list[Finding] | None = None) -> SecurityReport:
    """Judge every stream of a file (see the module docstring); ``extra`` adds container findings."""
    by_name: dict[str, GlobalReport] = {}
    findings: list[Finding] = list(extra or [])
    chains: list[int] = []
    infos: list[dict[str, Any]] = []
    for st in streams:
        res = st.result
        info: dict[str, Any] = {"label": st.label, "offset": st.offset}
        if res is not None:
            info["opcodes"] = res.opcodes
        if st.error is not None:
            info["error"] = str(st.error)
            off = st.error.offset
            if st.error.limit:
                findings.append(
                    Finding(SUSPICIOUS, "limit", st.label, off, "", "", f"not judged past here: {st.error.problem}")
                )
        infos.append(info)
        if res is None:
            continue
        _judge_result(st.label, res, by_name, findings, chains)
    worst = max((_RANK[f.verdict] for f in findings), default=0)
    worst = max([worst, *(_RANK[g.verdict] for g in by_name.values())])
    verdict = next(k for k, v in _RANK.items() if v == worst)
    findings.sort(key=lambda f: -_RANK[f.verdict])
    return SecurityReport(verdict, list(by_name.values()), findings, infos, chains)


def _judge_result(
    label: str,
    res: PickleResult,
    by_name: dict[str, GlobalReport],
    findings: list[Finding],
    chains: list[int],
) -> None:
    called = {c.target for c in res.calls}
    for g in res.globals:
        rep = by_name.get(g.dotted)
        if rep is None:
            verdict, reason = classify_global(g.dotted)
            rep = by_name[g.dotted] = GlobalReport(g.dotted, verdict, reason)
            if verdict != SAFE and g.dotted not in called:  # a called name is judged by its call
                findings.append(Finding(verdict, "reference", label, g.offset, g.opcode, g.dotted, reason))
        rep.offsets.append(g.offset)
        if g.opcode not in rep.opcodes:
            rep.opcodes.append(g.opcode)
    seen: set[tuple[str, bool, bool]] = set()
    for c in res.calls:
        key = (c.target, c.construct, c.nargs == 0)
        if key in seen and c.target not in ("<call result>", "<non-global>"):
            continue  # same judgement as before: one finding per kind of use
        seen.add(key)
        verdict, reason = judge_call(c)
        if c.target in ("<call result>", "<non-global>"):
            chains.append(c.offset)
        if verdict == SAFE:
            continue
        rule = "construct" if c.construct else "call"
        findings.append(Finding(verdict, rule, label, c.offset, c.opcode, c.target, reason))
        rep = by_name.get(c.target)
        if rep is not None and _RANK[verdict] > _RANK[rep.verdict]:
            rep.verdict, rep.reason = verdict, reason
    for b in res.builds:
        findings.append(
            Finding(DANGEROUS, "build", label, b.offset, "BUILD", b.detail, _BUILD_REASON[b.kind].format(d=b.detail))
        )
    for end in res.straddles[:5]:
        findings.append(
            Finding(
                SUSPICIOUS,
                "frames",
                label,
                end,
                "FRAME",
                "",
                "an opcode runs across a frame end: a file-reading unpickler (torch.load) and a bytes reader "
                "(pickle.loads) see different opcodes after it",
            )
        )


def assess(globals_: list[GlobalUse], calls: list[CallSite], builds: list[BuildSite] | None = None) -> SecurityReport:
    """Judge one stream given as its globals, calls and builds (see :func:`assess_streams`)."""
    res = PickleResult(None, 0, 0, list(globals_), list(calls), 0, list(builds or []))
    return assess_streams([Stream("pickle", 0, res)])


def worse(a: str, b: str) -> str:
    """The worse of two verdicts."""
    return a if _RANK[a] >= _RANK[b] else b


def rank(verdict: str) -> int:
    """0 safe, 1 suspicious, 2 dangerous."""
    return _RANK[verdict]
