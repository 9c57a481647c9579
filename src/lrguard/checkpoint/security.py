"""Security verdict for a pickle: which globals it names and what loading it with pickle would run.

Every global the stream references is classified:

* ``safe``: what a ``torch.load(weights_only=True)`` allowlist needs (tensor rebuild functions,
  storages, dtypes, ``OrderedDict``, numpy scalars/arrays, ...) plus the model and config classes of
  known trainers (YOLOv5 ``models.*``, ``ultralytics.*``, ``torch.nn.*``, Lightning, HF, OmegaConf);
* ``dangerous``: modules and builtins that run code, touch the OS or import things (``os``,
  ``subprocess``, ``builtins.eval``/``exec``/``__import__``/``getattr``/``open``, ``runpy``, ...);
* ``suspicious``: anything else (unknown modules, copyreg extension codes).

Calls whose callable is not a plain global (the result of another call, e.g. a ``getattr(...)``
chain) are ``dangerous``. The verdict is the worst class found.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lrguard.checkpoint.pickle_walk import CallSite, GlobalUse
from lrguard.checkpoint.rebuild import TORCH_DTYPES

SAFE = "safe"
SUSPICIOUS = "suspicious"
DANGEROUS = "dangerous"
_RANK = {SAFE: 0, SUSPICIOUS: 1, DANGEROUS: 2}

SAFE_GLOBALS = frozenset(
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
        "builtins.object",
        "builtins.dict",
        "builtins.list",
        "builtins.tuple",
        "builtins.int",
        "builtins.float",
        "builtins.str",
        "builtins.bool",
        "builtins.range",
        "_codecs.encode",
        "copyreg._reconstructor",
        "copyreg.__newobj__",
        "argparse.Namespace",
        "types.SimpleNamespace",
        "datetime.datetime",
        "datetime.date",
        "datetime.time",
        "datetime.timedelta",
        "datetime.timezone",
        "numpy.dtype",
        "numpy.ndarray",
        "numpy.core.multiarray._reconstruct",
        "numpy.core.multiarray.scalar",
        "numpy._core.multiarray._reconstruct",
        "numpy._core.multiarray.scalar",
        "numpy.core.numeric._frombuffer",
        "numpy._core.numeric._frombuffer",
        "numpy.random._pickle.__randomstate_ctor",
        "numpy.random._pickle.__bit_generator_ctor",
        "numpy.random._pickle.__generator_ctor",
        "numpy.random.mtrand._rand",
        "torch.Size",
        "torch.device",
        "torch.Tensor",
        "torch.nn.parameter.Parameter",
        "torch._tensor._rebuild_from_type_v2",
        "torch.serialization._get_layout",
        "torch.memory_format",
        "torch.contiguous_format",
        "torch.channels_last",
        "torch.preserve_format",
        "torch.strided",
        "torch.sparse_coo",
        "torch.per_tensor_affine",
        "torch.per_channel_affine",
        "enum.Enum",
        "fractions.Fraction",
        "decimal.Decimal",
        "uuid.UUID",
        "re._compile",
    }
)
SAFE_PREFIXES = (
    "pathlib.",
    "numpy.dtypes.",
    "torch._utils._rebuild_",
    "torch.storage.",
    "torch.nn.modules.",
    "torch.nn.",
    "torch.optim.",
    "torch.amp.",
    "torch.cuda.amp.",
    "models.",
    "yolov5.models.",
    "yolov5.utils.",
    "utils.autoanchor.",
    "ultralytics.nn.",
    "ultralytics.utils.",
    "ultralytics.models.",
    "ultralytics.engine.results.",
    "lightning.",
    "pytorch_lightning.",
    "lightning_fabric.",
    "transformers.training_args.",
    "transformers.trainer_utils.",
    "transformers.trainer_callback.",
    "transformers.trainer_pt_utils.",
    "transformers.models.",
    "transformers.configuration_utils.",
    "accelerate.state.",
    "accelerate.utils.dataclasses.",
    "omegaconf.",
    "typing.",
    "timm.",
)
_TORCH_LAYOUTS = frozenset(
    {
        "strided",
        "sparse_coo",
        "sparse_csr",
        "sparse_csc",
        "sparse_bsr",
        "sparse_bsc",
        "_mkldnn",
        "device",
        "Size",
        "per_tensor_affine",
        "per_channel_affine",
        "per_tensor_symmetric",
        "per_channel_symmetric",
        "contiguous_format",
        "channels_last",
        "channels_last_3d",
        "preserve_format",
    }
)
DANGEROUS_MODULES = frozenset(
    {
        "os",
        "posix",
        "nt",
        "subprocess",
        "sys",
        "socket",
        "shutil",
        "runpy",
        "pickle",
        "_pickle",
        "cPickle",
        "marshal",
        "importlib",
        "ctypes",
        "pty",
        "webbrowser",
        "code",
        "codeop",
        "commands",
        "multiprocessing",
        "asyncio",
        "pip",
        "_posixsubprocess",
        "signal",
        "tempfile",
        "urllib",
        "requests",
        "http",
        "ftplib",
        "telnetlib",
        "smtplib",
        "platform",
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
        "builtins",
        "dill",
        "joblib",
        "torch.serialization",
        "torch.hub",
        "torch.utils.collect_env",
        "torch._inductor",
        "torch.jit",
        "torch._dynamo",
        "torch.package",
        "torch.utils.cpp_extension",
        "numpy.testing",
        "numpy.f2py",
        "numpy.distutils",
        "pydoc",
        "operator",
        "functools",
        "glob",
    }
)
DANGEROUS_NAMES = frozenset(
    {
        "eval",
        "exec",
        "compile",
        "__import__",
        "getattr",
        "setattr",
        "delattr",
        "open",
        "input",
        "breakpoint",
        "globals",
        "locals",
        "vars",
        "execfile",
        "system",
        "popen",
        "load",
        "loads",
        "apply",
        "attrgetter",
        "methodcaller",
        "partial",
        "reduce",
        "spawn",
        "call",
        "run",
        "Popen",
    }
)


def classify_global(dotted: str) -> tuple[str, str]:
    """Classify one ``module.name`` and say why.

    Returns:
        ``(class, reason)`` where class is ``safe``, ``suspicious`` or ``dangerous``.
    """
    module, _, name = dotted.rpartition(".")
    if dotted in SAFE_GLOBALS:
        return SAFE, "needed to rebuild plain data or tensors"
    top = module.split(".")[0]
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        if ".".join(parts[:i]) in DANGEROUS_MODULES:
            return DANGEROUS, f"module {'.'.join(parts[:i])} can run code or touch the system"
    if top in DANGEROUS_MODULES:
        return DANGEROUS, f"module {top} can run code or touch the system"
    if name.split(".")[-1] in DANGEROUS_NAMES:
        return DANGEROUS, f"{name} can run code or reach arbitrary attributes"
    if any(dotted.startswith(p) for p in SAFE_PREFIXES):
        return SAFE, "class of a known trainer or library"
    if module == "torch" and (name.endswith("Storage") or name in TORCH_DTYPES or name in _TORCH_LAYOUTS):
        return SAFE, "torch storage type, dtype or layout"
    if module == "copyreg.extension_registry":
        return SUSPICIOUS, "copyreg extension code (resolved by the loading process)"
    return SUSPICIOUS, "unknown module; loading it imports and may run its code"


@dataclass
class GlobalReport:
    """One distinct global with its classification and where it is referenced.

    Attributes:
        name: ``module.name``.
        verdict: ``safe``/``suspicious``/``dangerous``.
        reason: Why.
        offsets: Opcode offsets (in the pickle) of every reference.
        opcodes: Opcodes used to reference it.
    """

    name: str
    verdict: str
    reason: str
    offsets: list[int] = field(default_factory=list)
    opcodes: list[str] = field(default_factory=list)


@dataclass
class SecurityReport:
    """Verdict of one pickle stream.

    Attributes:
        verdict: Worst classification found.
        globals: Distinct globals, in order of first reference.
        call_chains: Offsets of calls whose callable is not a plain global.
    """

    verdict: str
    globals: list[GlobalReport]
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
            "call_chains": self.call_chains[:20],
        }


def assess(globals_: list[GlobalUse], calls: list[CallSite]) -> SecurityReport:
    """Classify every global and call of a pickle and give the overall verdict."""
    by_name: dict[str, GlobalReport] = {}
    for g in globals_:
        rep = by_name.get(g.dotted)
        if rep is None:
            verdict, reason = classify_global(g.dotted)
            if g.opcode == "EXT" and verdict == SAFE:
                verdict = SUSPICIOUS
            rep = by_name[g.dotted] = GlobalReport(g.dotted, verdict, reason)
        rep.offsets.append(g.offset)
        if g.opcode not in rep.opcodes:
            rep.opcodes.append(g.opcode)
    chains = [c.offset for c in calls if c.target in ("<call result>", "<non-global>")]
    worst = max((_RANK[g.verdict] for g in by_name.values()), default=0)
    if chains:
        worst = max(worst, _RANK[DANGEROUS])
    verdict = next(k for k, v in _RANK.items() if v == worst)
    return SecurityReport(verdict, list(by_name.values()), chains)


def worse(a: str, b: str) -> str:
    """The worse of two verdicts."""
    return a if _RANK[a] >= _RANK[b] else b
