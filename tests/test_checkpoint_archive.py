"""Reading torch.save files (zip, legacy, plain pickle) without torch, and refusing broken ones."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from lrguard.checkpoint import load, read_facts
from lrguard.checkpoint.placeholders import StorageRef, TensorRecord
from lrguard.errors import InputError


def _yolo_like(epoch=4, epochs=10, lr0=0.01, lrf=0.01):
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    opt = torch.optim.SGD([model[0].bias], lr=lr0, momentum=0.9)
    opt.add_param_group({"params": [model[0].weight], "weight_decay": 5e-4})
    opt.add_param_group({"params": list(model[1].parameters()), "weight_decay": 0.0})
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda x: (1 - x / epochs) * (1 - lrf) + lrf)
    for _ in range(epoch + 1):
        opt.step()
        sched.step()
    import argparse
    import pathlib

    return {
        "epoch": epoch,
        "best_fitness": None,
        "model": model.half(),
        "ema": None,
        "updates": 123,
        "optimizer": opt.state_dict(),
        "opt": vars(argparse.Namespace(epochs=epochs, evolve_population=pathlib.Path("/x/data/hyps"))),
        "date": "2026-01-01T00:00:00",
    }


@pytest.mark.parametrize("zipfmt", [True, False])
def test_facts_from_torch_save(tmp_path, zipfmt):
    path = tmp_path / "last.pt"
    ckpt = _yolo_like()
    torch.save(ckpt, path, _use_new_zipfile_serialization=zipfmt)
    facts = read_facts(path)
    assert facts.epoch == 4
    assert facts.has_optimizer
    assert facts.lrs == tuple(g["lr"] for g in ckpt["optimizer"]["param_groups"])
    assert facts.initial_lrs == (0.01, 0.01, 0.01)
    assert facts.updates == 123
    assert facts.train_args == {"epochs": 10, "evolve_population": "/x/data/hyps"}
    assert facts.date == "2026-01-01T00:00:00"
    assert not facts.stripped
    loaded = load(path)
    assert loaded.format == ("torch-zip" if zipfmt else "torch-legacy")


def test_tensor_records_match_torch(tmp_path):
    sd = {
        "a": torch.zeros(3, 4, dtype=torch.float16),
        "view": torch.arange(20.0)[5:15].view(2, 5),
        "t": torch.ones(4, 6).t(),
        "bf": torch.zeros(2, dtype=torch.bfloat16),
        "b": torch.zeros(3, dtype=torch.bool),
        "p": torch.nn.Parameter(torch.ones(2)),
        "i": torch.tensor([1, 2], dtype=torch.int64),
        "empty": torch.zeros(0, 3),
    }
    path = tmp_path / "sd.pt"
    torch.save(sd, path)
    loaded = load(path)
    for key, tensor in sd.items():
        rec = loaded.root[key]
        assert isinstance(rec, TensorRecord), key
        assert rec.shape == tuple(tensor.shape)
        assert rec.stride == tensor.stride()
        assert rec.storage_offset == tensor.storage_offset()
        assert rec.dtype == str(tensor.dtype).removeprefix("torch.")
        assert rec.nbytes == tensor.numel() * tensor.element_size()
    assert loaded.root["p"].is_parameter and loaded.root["p"].requires_grad
    for key, ref in loaded.storages.items():
        assert isinstance(ref, StorageRef)
        assert loaded.storage_bytes[key] == ref.nbytes


def test_plain_pickle_file(tmp_path):
    path = tmp_path / "x.pkl"
    path.write_bytes(pickle.dumps({"epoch": 3, "optimizer": None}, protocol=4))
    loaded = load(path)
    assert loaded.format == "pickle"
    assert read_facts(path).epoch == 3


@pytest.mark.parametrize(
    "mutate, problem",
    [
        (lambda b: b[: len(b) // 2], "truncated or corrupt zip"),
        (lambda b: b"", "empty"),
        (lambda b: b"hello world, not a pickle", "not a checkpoint"),
        (lambda b: b[:10], "truncated or corrupt zip"),
    ],
)
def test_broken_files_raise_input_error(tmp_path, mutate, problem):
    good = tmp_path / "good.pt"
    torch.save(_yolo_like(), good)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(mutate(good.read_bytes()))
    with pytest.raises(InputError, match=problem) as err:
        read_facts(bad)
    assert "\n" not in err.value.one_line()


def test_truncated_legacy_file(tmp_path):
    good = tmp_path / "good.pt"
    torch.save(_yolo_like(), good, _use_new_zipfile_serialization=False)
    data = good.read_bytes()
    bad = tmp_path / "bad.pt"
    bad.write_bytes(data[:400])
    with pytest.raises(InputError, match="truncated"):
        read_facts(bad)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        read_facts(tmp_path / "nope.pt")


def test_never_imports_torch(tmp_path):
    path = tmp_path / "last.pt"
    torch.save(_yolo_like(), path)
    code = (
        "import sys; from lrguard.checkpoint import read_facts; import lrguard.cli.main as m;"
        f"f = read_facts({str(path)!r}); assert f.epoch == 4;"
        "bad = [n for n in sys.modules if n.split('.')[0] in ('torch', 'ultralytics', 'yolov5', 'models')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_cli_never_imports_torch(tmp_path):
    path = tmp_path / "last.pt"
    torch.save(_yolo_like(), path)
    code = (
        "import sys, contextlib, io; from lrguard.cli.main import main;"
        "out = io.StringIO();"
        "ctx = contextlib.redirect_stdout(out);"
        "ctx.__enter__();"
        f"rcs = [main(['ckpt', c, {str(path)!r}]) for c in ('show', 'verify')];"
        "ctx.__exit__(None, None, None);"
        "rcs.append(main(['ckpt', 'last-good', '--json', " + repr(str(tmp_path)) + "]));"
        "bad = [n for n in sys.modules if n.split('.')[0] in ('torch', 'ultralytics', 'yolov5', 'models')];"
        "print(rcs, bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _small_ckpt_bytes():
    import io
    import zipfile

    buf = io.BytesIO()
    torch.save(_yolo_like(epoch=1, epochs=3), buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def test_mutated_data_pkl_never_crashes_inspection(tmp_path):
    import random
    import zipfile

    from lrguard.checkpoint.inspect import inspect_path

    entries = _small_ckpt_bytes()
    pkl_name = next(n for n in entries if n.endswith("data.pkl"))
    rng = random.Random(1)
    for i in range(150):
        data = bytearray(entries[pkl_name])
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        path = tmp_path / f"m{i}.pt"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
            for n, b in entries.items():
                zf.writestr(n, bytes(data) if n == pkl_name else b)
        try:
            rec = inspect_path(path, check_data=True)
        except InputError:
            continue
        json.dumps(rec, default=str)


def test_tar_format_is_named(tmp_path):
    import tarfile

    path = tmp_path / "old.pt"
    with tarfile.open(path, "w") as tf:
        info = tarfile.TarInfo("sys_info")
        info.size = 3
        import io

        tf.addfile(info, io.BytesIO(b"abc"))
    with pytest.raises(InputError, match="tar-format"):
        read_facts(path)


def test_zip_bomb_data_pkl_is_refused(tmp_path):
    import zipfile

    from lrguard.checkpoint.archive import load as load_
    from lrguard.checkpoint.pickle_walk import Limits

    path = tmp_path / "bomb.pt"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("archive/data.pkl", b"N" * (4 << 20) + b".")
    assert path.stat().st_size < 100_000
    with pytest.raises(InputError, match="inflates past"):
        load_(path, Limits(max_inflate=1 << 20))
