"""Malicious pickles: lrguard lists their globals, says 'dangerous', and never runs them."""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from pathlib import Path

import pytest

from lrguard.checkpoint import load
from lrguard.checkpoint.pickle_walk import read_pickle
from lrguard.checkpoint.security import assess, classify_global
from lrguard.cli.main import main


def _marker_cmd(marker):
    return f"touch {marker}"


def _global(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _str(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def corpus(marker):
    """Pickles that would create `marker` if unpickled by pickle.loads."""
    cmd = _marker_cmd(marker)

    class Reduce:
        def __reduce__(self):
            import os

            return (os.system, (cmd,))

    p = {}
    p["reduce_os_system_p2"] = pickle.dumps({"epoch": 1, "x": Reduce()}, protocol=2)
    p["reduce_os_system_p4_stack_global"] = pickle.dumps([Reduce()], protocol=4)
    # protocol 0 text GLOBAL
    p["proto0_text_global"] = b"cos\nsystem\n(V" + cmd.encode() + b"\ntR."
    # nested REDUCE: getattr(__import__('os'), 'system')(cmd)
    p["nested_reduce_getattr_chain"] = (
        b"\x80\x02"
        + _global("builtins", "getattr")
        + b"("
        + _global("builtins", "__import__")
        + b"("
        + _str("os")
        + b"tR"
        + _str("system")
        + b"tR("
        + _str(cmd)
        + b"tR."
    )
    # STACK_GLOBAL with operands fetched through the memo (memo trick)
    p["stack_global_via_memo"] = (
        b"\x80\x04" + _str("posix") + b"\x94" + _str("system") + b"\x94" + b"h\x00h\x01\x93(" + _str(cmd) + b"tR."
    )
    # memo trick: a harmless-looking global stored, then overwritten memo slot used for the call
    p["memo_overwrite"] = (
        b"\x80\x02"
        + _global("collections", "OrderedDict")
        + b"q\x00"
        + _global("subprocess", "call")
        + b"q\x000h\x00]"
        + _str("sh")
        + b"a"
        + _str("-c")
        + b"a"
        + _str(cmd)
        + b"a\x85R."
    )
    # INST opcode (protocol 0 instance creation calls the class)
    p["inst_opcode"] = b"(V" + cmd.encode() + b"\nios\nsystem\n."
    # BUILD with __setstate__ on an object created through NEWOBJ of a dangerous class
    p["newobj_eval"] = b"\x80\x02" + _global("builtins", "eval") + _str(f"__import__('os').system({cmd!r})") + b"\x85R."
    return p


@pytest.fixture
def marker(tmp_path):
    return tmp_path / "PWNED"


def test_corpus_is_really_malicious(marker, tmp_path):
    # Sanity check of the corpus itself in a throw-away subprocess: pickle.loads does create the marker.
    import subprocess
    import sys

    data = corpus(marker)["proto0_text_global"]
    subprocess.run(
        [sys.executable, "-c", "import pickle,sys; pickle.loads(sys.stdin.buffer.read())"],
        input=data,
        check=False,
        capture_output=True,
    )
    assert marker.exists()
    marker.unlink()


@pytest.mark.parametrize("name", sorted(corpus("/data/x")))
def test_walker_never_executes_and_flags_dangerous(marker, name):
    data = corpus(marker)[name]
    res = read_pickle(data)
    rep = assess(res.globals, res.calls)
    assert rep.verdict == "dangerous", (name, [(g.name, g.verdict) for g in rep.globals])
    assert all(g.offsets for g in rep.globals)
    assert not marker.exists()


def _zip_with(data_pkl: bytes, path):
    # An otherwise valid torch-style zip: torch.save layout with a malicious data.pkl.
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("archive/data.pkl", data_pkl)
        zf.writestr("archive/byteorder", "little")
        zf.writestr("archive/data/0", b"\x00" * 16)
        zf.writestr("archive/version", "3\n")


def test_malicious_data_pkl_in_valid_zip(tmp_path, marker, capsys):
    path = tmp_path / "last.pt"
    _zip_with(corpus(marker)["reduce_os_system_p2"], path)
    loaded = load(path)
    assert loaded.root["epoch"] == 1
    assert main(["ckpt", "show", str(path)]) == 1
    out = capsys.readouterr().out
    assert "DANGEROUS" in out and "system" in out
    assert main(["ckpt", "verify", "--json", str(path)]) == 1
    import json

    rec = json.loads(capsys.readouterr().out)
    assert rec["security"]["verdict"] == "dangerous"
    assert not marker.exists()


def test_torch_zip_with_injected_global_is_dangerous(tmp_path, marker):
    torch = pytest.importorskip("torch")
    good = tmp_path / "good.pt"
    torch.save({"epoch": 1, "w": torch.ones(2)}, good)
    with zipfile.ZipFile(good) as zf:
        entries = {n: zf.read(n) for n in zf.namelist()}
    bad = tmp_path / "bad.pt"
    with zipfile.ZipFile(bad, "w", zipfile.ZIP_STORED) as zf:
        for n, b in entries.items():
            zf.writestr(n, corpus(marker)["reduce_os_system_p2"] if n.endswith("data.pkl") else b)
    res = load(bad)
    assert assess(res.pickle.globals, res.pickle.calls).verdict == "dangerous"
    assert not marker.exists()


@pytest.mark.parametrize(
    "dotted, verdict",
    [
        # a global that is only referenced (stored as a value) is not a call
        ("torch._utils._rebuild_tensor_v2", "safe"),
        ("collections.OrderedDict", "safe"),
        ("models.yolo.DetectionModel", "safe"),
        ("mypackage.Thing", "safe"),
        ("torch.HalfStorage", "safe"),
        ("torch.float16", "safe"),
        # ... but names that run code when called are worth a look even unused
        ("os.system", "suspicious"),
        ("builtins.eval", "suspicious"),
        ("pathlib.os.system", "suspicious"),
        ("torch.load", "suspicious"),
    ],
)
def test_reference_classification(dotted, verdict):
    assert classify_global(dotted)[0] == verdict


def test_real_torch_checkpoint_is_safe(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "m.pt"
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    torch.save({"model": model, "optimizer": opt.state_dict(), "epoch": 0}, path)
    loaded = load(path)
    assert assess(loaded.pickle.globals, loaded.pickle.calls).verdict == "safe"
    _ = io  # keep import for readers of this corpus


def _call_of(dotted: str, *args: bytes) -> bytes:
    module, _, name = dotted.rpartition(".")
    return b"\x80\x02" + _global(module, name) + b"(" + b"".join(args) + b"tR."


@pytest.mark.parametrize("dotted", sorted(__import__("lrguard.checkpoint.security").checkpoint.security.CONSTRUCTORS))
def test_every_allowlisted_constructor_is_safe_to_call(dotted):
    # the allowlist is explicit and exact: each entry called with an argument is safe ...
    res = read_pickle(_call_of(dotted, _str("x")))
    assert assess(res.globals, res.calls, res.builds).verdict == "safe"
    # ... and the same name one segment off is not (no prefix inherits safety)
    res = read_pickle(_call_of(dotted + "_x", _str("x")))
    assert assess(res.globals, res.calls, res.builds).verdict == "dangerous"


@pytest.mark.parametrize(
    "data, verdict",
    [
        # instance creation of any class (what torch.save(model) writes) is not a call
        (b"\x80\x02" + _global("mypkg.models", "Net") + b")\x81}(" + _str("w") + b"K\x01ub.", "safe"),
        (
            b"\x80\x02"
            + _global("copyreg", "_reconstructor")
            + b"("
            + _global("mypkg", "Net")
            + _global("builtins", "object")
            + b"NtR.",
            "safe",
        ),
        # ... but creating an instance of a name that runs code is
        (b"\x80\x02" + _global("subprocess", "Popen") + b")\x81.", "dangerous"),
        # __new__ with arguments from the file
        (b"\x80\x02" + _global("mypkg", "Point") + b"K\x01K\x02\x86\x81.", "suspicious"),
        # a class stored as a value
        (b"\x80\x02}(" + _str("cls") + _global("mypkg", "Net") + b"u.", "safe"),
        # a harmless builtin call
        (b"\x80\x02" + _global("builtins", "len") + b"(]K\x01atR.", "safe"),
        # zero-argument call of an unknown function: its code runs
        (b"\x80\x02" + _global("mypkg", "setup") + b")R.", "suspicious"),
        # _reconstructor with a base that is not a builtin calls that base
        (
            b"\x80\x02"
            + _global("copyreg", "_reconstructor")
            + b"("
            + _global("mypkg", "Net")
            + _global("mypkg", "Base")
            + b"NtR.",
            "dangerous",
        ),
    ],
)
def test_use_decides_the_verdict(data, verdict):
    res = read_pickle(data)
    assert assess(res.globals, res.calls, res.builds).verdict == verdict


def test_malformed_stream_keeps_what_was_read():
    from lrguard.checkpoint.pickle_walk import PickleReadError

    data = b"\x80\x02" + _global("os", "system") + _str("x") + b"\x85R\xff"
    with pytest.raises(PickleReadError) as info:
        read_pickle(data)
    part = info.value.partial
    assert part is not None and [c.target for c in part.calls] == ["os.system"]
    assert not info.value.limit


def test_file_view_follows_a_file_reader():
    from lrguard.checkpoint.frames import file_view

    hidden = b"\x8c\x05posix\x8c\x06system\x93\x8c\x01x\x85R"
    frame = b"\x8c\x06ab"
    data = b"\x80\x04\x95" + struct.pack("<Q", len(frame)) + frame + b"xxxxC" + bytes([len(hidden)]) + hidden + b"00N."
    bytes_view = read_pickle(data)
    assert bytes_view.calls == [] and bytes_view.straddles
    file_res = read_pickle(file_view(data))
    assert [c.target for c in file_res.calls] == ["posix.system"]


def test_real_hf_training_args_are_safe_and_readable(tmp_path):
    """HF Trainer pickles its TrainingArguments (``training_args.bin``) with one Enum member per
    strategy / scheduler / optimizer option; an Enum lookup is not a call of the file's choosing."""
    pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    import torch

    from lrguard.checkpoint.facts import as_dict

    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"), use_cpu=True, lr_scheduler_type="cosine", save_strategy="steps", report_to=[]
    )
    path = tmp_path / "training_args.bin"
    torch.save(args, path)  # what Trainer._save writes
    loaded = load(path)
    report = assess(loaded.pickle.globals, loaded.pickle.calls, loaded.pickle.builds)
    assert report.verdict == "safe", [f.reason for f in report.findings]
    values = as_dict(loaded.root)
    assert values["lr_scheduler_type"] == "cosine" and values["save_strategy"] == "steps"
    assert values["learning_rate"] == pytest.approx(5e-5)


@pytest.mark.parametrize(
    "data",
    [
        # a known Enum called with two arguments, with a computed argument, or built through NEWOBJ_EX
        # with keywords is not a member lookup: never safe
        _call_of("transformers.trainer_utils.SchedulerType", b"X\x06\x00\x00\x00linearX\x01\x00\x00\x00x"),
        b"\x80\x02"
        + _global("transformers.trainer_utils", "SchedulerType")
        + b"("
        + _global("os", "getcwd")
        + b")RtR.",
        b"\x80\x04"
        + _global("transformers.trainer_utils", "SchedulerType")
        + b")}X\x01\x00\x00\x00kX\x01\x00\x00\x00v\x73\x92.",
    ],
    ids=["two-args", "computed-arg", "kwargs"],
)
def test_enum_members_are_safe_only_as_a_plain_lookup(data):
    res = read_pickle(data)
    assert assess(res.globals, res.calls, res.builds).verdict in ("suspicious", "dangerous")


def test_enum_member_lookup_is_safe():
    res = read_pickle(_call_of("transformers.trainer_utils.SchedulerType", b"X\x06\x00\x00\x00linear"))
    assert assess(res.globals, res.calls, res.builds).verdict == "safe"
    assert res.value == "linear"


_EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
_REAL_BENIGN = sorted(
    p for ext in ("*.pt", "*.ckpt", "*.bin", "*.pth", "*.pkl") for p in _EXAMPLES.rglob(ext) if p.is_file()
)


@pytest.mark.parametrize("path", _REAL_BENIGN, ids=lambda p: str(p.relative_to(_EXAMPLES)))
def test_every_real_checkpoint_in_the_examples_is_safe(path, capsys):
    """Real files of every bundled trainer (YOLO weights, Lightning .ckpt, HF training_args.bin and
    scheduler.pt, ...): `ckpt scan` calls each one safe, exit 0."""
    from lrguard.cli.main import main

    assert main(["ckpt", "scan", str(path)]) == 0, capsys.readouterr().out
