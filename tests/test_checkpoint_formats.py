"""Safetensors headers, HF Trainer checkpoint directories, Lightning .ckpt, CLI exit codes."""

from __future__ import annotations

import json
import struct

import pytest

from lrguard.checkpoint.inspect import inspect_path
from lrguard.checkpoint.safetensors import read_header
from lrguard.cli.main import main
from lrguard.errors import InputError

torch = pytest.importorskip("torch")


def _safetensors(path, tensors, extra=b""):
    header, buf, pos = {"__metadata__": {"format": "pt"}}, b"", 0
    for name, (dtype, shape, item) in tensors.items():
        n = item
        for s in shape:
            n *= s
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [pos, pos + n]}
        buf += b"\x00" * n
        pos += n
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + buf + extra)


def test_safetensors_header(tmp_path):
    p = tmp_path / "model.safetensors"
    _safetensors(p, {"w": ("F32", [2, 3], 4), "b": ("F16", [3], 2)})
    h = read_header(p)
    assert h.problems == [] and h.metadata == {"format": "pt"}
    assert h.by_dtype()["f32"]["params"] == 6
    rec = inspect_path(p)
    assert rec["format"] == "safetensors" and rec["integrity"]["ok"]
    p.write_bytes(p.read_bytes()[:-4])
    assert any("truncated" in x for x in read_header(p).problems)
    p.write_bytes(struct.pack("<Q", 1 << 40) + b"{}")
    with pytest.raises(InputError):
        read_header(p)


def _hf_dir(tmp_path, step=10, sched_step=10):
    d = tmp_path / "checkpoint-10"
    d.mkdir()
    model = torch.nn.Linear(4, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1 - s / 100)
    for _ in range(sched_step):
        model(torch.randn(3, 4)).sum().backward()
        opt.step()
        opt.zero_grad()
        sched.step()
    torch.save(opt.state_dict(), d / "optimizer.pt")
    sd = sched.state_dict()
    sd["lr_lambdas"] = [{}]  # what HF saves for lambdas (functions are not pickled)
    torch.save(sd, d / "scheduler.pt")
    torch.save({"python": 1, "cpu": torch.get_rng_state()}, d / "rng_state.pth")
    _safetensors(d / "model.safetensors", {"weight": ("F32", [2, 4], 4), "bias": ("F32", [2], 4)})
    state = {
        "global_step": step,
        "epoch": 1.0,
        "max_steps": 100,
        "log_history": [{"step": step, "learning_rate": opt.param_groups[0]["lr"]}],
    }
    (d / "trainer_state.json").write_text(json.dumps(state))
    return d


def test_hf_checkpoint_dir_seamless_and_mismatch(tmp_path, capsys):
    d = _hf_dir(tmp_path)
    rec = inspect_path(d)
    assert rec["framework"] == "hf" and rec["resume"]["verdict"] == "seamless", rec["resume"]
    assert rec["security"]["verdict"] == "safe"
    assert any(g["name"] == "torch._utils._rebuild_tensor_v2" for g in rec["security"]["globals"])
    assert main(["ckpt", "show", str(d)]) == 0
    bad = _hf_dir(tmp_path / "b", step=10, sched_step=7) if (tmp_path / "b").mkdir() is None else None
    rec = inspect_path(bad)
    assert rec["resume"]["verdict"] == "jump"


def test_lightning_ckpt(tmp_path):
    L = pytest.importorskip("lightning")

    class M(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(4, 1)

        def training_step(self, batch, i):
            return self.layer(batch[0]).pow(2).mean()

        def configure_optimizers(self):
            opt = torch.optim.SGD(self.parameters(), lr=0.1)
            return {"optimizer": opt, "lr_scheduler": torch.optim.lr_scheduler.StepLR(opt, 1, 0.5)}

    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(8, 4)), batch_size=4)
    trainer = L.Trainer(
        max_epochs=2,
        default_root_dir=tmp_path,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
    )
    trainer.fit(M(), data)
    ckpt = next(tmp_path.rglob("*.ckpt"))
    rec = inspect_path(ckpt, check_data=True)
    assert rec["framework"] == "lightning" and rec["framework_version"]
    assert rec["resume"]["verdict"] == "seamless", rec["resume"]
    assert rec["integrity"]["ok"] and rec["security"]["verdict"] == "safe", rec["security"]


def test_cli_exit_codes(tmp_path, capsys):
    good = tmp_path / "sd.pt"
    torch.save({"w": torch.ones(2)}, good)
    assert main(["ckpt", "show", str(good)]) == 1  # a bare state_dict cannot resume training
    garbage = tmp_path / "g.pt"
    garbage.write_bytes(b"\x00garbage")
    assert main(["ckpt", "show", str(garbage)]) == 2
    assert "g.pt" in capsys.readouterr().err
    assert main(["ckpt", "verify", "--nonfinite", str(good)]) == 1
    bad = tmp_path / "nan.pt"
    torch.save(
        {
            "epoch": 0,
            "w": torch.tensor([1.0, float("nan")]),
            "h": torch.tensor([float("inf")]).half(),
            "bf": torch.tensor([float("nan")]).bfloat16(),
        },
        bad,
    )
    capsys.readouterr()
    rec_rc = main(["ckpt", "verify", "--nonfinite", "--json", str(bad)])
    rec = json.loads(capsys.readouterr().out)
    assert rec_rc == 1 and rec["integrity"]["nonfinite"] == {"w": 1, "h": 1, "bf": 1}
    with pytest.raises(SystemExit):
        main(["ckpt", "--help"])
