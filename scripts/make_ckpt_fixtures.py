"""Write the small real checkpoint fixtures under tests/fixtures/ckpt/ (needs torch; run once, commit).

Each file is written by real ``torch.save`` (tiny tensors, a few KB) in the layout of a trainer:
YOLOv5-style ``last.pt`` (full training state) and its stripped ``best.pt``, Ultralytics-style
``last.pt``, a Lightning ``.ckpt``, an HF Trainer checkpoint directory, a plain state dict, an fp16
state dict, a legacy-format (non-zip) file and a whole module in it, a TorchScript file, and a truncated copy of the YOLOv5 one. The model classes
carry the trainers' module names (``models.yolo.DetectionModel``, ``ultralytics.nn.tasks.DetectionModel``)
through stand-in modules registered for the pickler, so the torch-free inspector sees what it sees in
real files, without the trainers installed. Usage: ``python scripts/make_ckpt_fixtures.py [OUT]``.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import torch

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "ckpt"


def _standin(module: str, name: str) -> type:
    """A tiny nn.Module class that pickles as ``module.name``."""
    parts = module.split(".")
    for i in range(1, len(parts) + 1):  # the pickler imports the module by name: register its parents too
        sys.modules.setdefault(".".join(parts[:i]), types.ModuleType(".".join(parts[:i])))
    mod = sys.modules[module]

    def init(self: torch.nn.Module) -> None:
        torch.nn.Module.__init__(self)
        self.conv = torch.nn.Conv2d(1, 2, 1)
        self.bn = torch.nn.BatchNorm2d(2)

    cls = type(name, (torch.nn.Module,), {"__init__": init, "__module__": module, "__qualname__": name})
    setattr(mod, name, cls)
    return cls


def _opt(model: torch.nn.Module) -> torch.optim.Optimizer:
    groups = [
        {"params": [p for n, p in model.named_parameters() if n.endswith("bias")], "weight_decay": 0.0},
        {"params": [p for n, p in model.named_parameters() if n.endswith("weight")], "weight_decay": 5e-4},
    ]
    opt = torch.optim.SGD(groups, lr=0.01, momentum=0.937, nesterov=True)
    for g in opt.param_groups:
        g["initial_lr"] = 0.01
        g["lr"] = 0.0098
    return opt


def torch_loops(out: Path = OUT / "torch-loop") -> None:
    """Training checkpoints of a plain PyTorch loop, each scheduler stepped for real, then torch.save'd.

    ``onecycle_end.pt``: OneCycleLR(total_steps=10) stepped 10 times (the next step raises);
    ``no_scheduler.pt``: StepLR drove the optimizer (``initial_lr`` set) but only the optimizer was saved;
    ``constant.pt``: no scheduler ever; ``sequential.pt``: LinearLR warmup then CosineAnnealingLR,
    mid-way, saved under the tutorial's ``optimizer_state_dict`` / ``scheduler_state_dict`` keys.
    """
    out.mkdir(parents=True, exist_ok=True)
    sched = torch.optim.lr_scheduler

    def run(build: object, steps: int) -> tuple[torch.nn.Module, torch.optim.Optimizer, object]:
        torch.manual_seed(0)
        model = torch.nn.Linear(2, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        s = build(opt) if callable(build) else None
        for _ in range(steps):
            opt.step()
            if s is not None:
                s.step()
        return model, opt, s

    model, opt, s = run(lambda o: sched.OneCycleLR(o, max_lr=0.1, total_steps=10), 10)
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": s.state_dict(), "step": 10},
               out / "onecycle_end.pt")  # fmt: skip
    model, opt, _ = run(lambda o: sched.StepLR(o, step_size=5, gamma=0.5), 12)
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": 12}, out / "no_scheduler.pt")
    model, opt, _ = run(None, 7)
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": 7}, out / "constant.pt")

    def seq(o: torch.optim.Optimizer) -> object:
        warm = sched.LinearLR(o, start_factor=0.1, total_iters=5)
        return sched.SequentialLR(o, [warm, sched.CosineAnnealingLR(o, T_max=20)], milestones=[5])

    model, opt, s = run(seq, 12)
    torch.save(
        {"model_state_dict": model.state_dict(), "optimizer_state_dict": opt.state_dict(),
         "scheduler_state_dict": s.state_dict(), "epoch": 12},
        out / "sequential.pt",
    )  # fmt: skip


def main(out: Path = OUT) -> None:
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    v5 = _standin("models.yolo", "DetectionModel")()
    ul = _standin("ultralytics.nn.tasks", "DetectionModel")()
    opt = _opt(v5)
    hyp = {"lr0": 0.01, "lrf": 0.01, "momentum": 0.937, "weight_decay": 0.0005, "warmup_epochs": 3.0}
    v5_last = {
        "epoch": 4,
        "best_fitness": 0.25,
        "model": v5.half(),
        "ema": v5.half(),
        "updates": 40,
        "optimizer": opt.state_dict(),
        "opt": {"epochs": 10, "batch_size": 16, "optimizer": "SGD", "cos_lr": False, "hyp": hyp},
        "git": None,
        "date": "2024-05-01T10:00:00",
    }
    torch.save(v5_last, out / "yolov5_last.pt")
    torch.save({**v5_last, "epoch": -1, "optimizer": None, "ema": None, "updates": None}, out / "yolov5_stripped.pt")
    ul_opt = _opt(ul)
    torch.save(
        {
            "epoch": 2,
            "best_fitness": None,
            "model": None,
            "ema": ul.half(),
            "updates": 30,
            "optimizer": ul_opt.state_dict(),
            "train_args": {
                "epochs": 10,
                "batch": 16,
                "optimizer": "SGD",
                "lr0": 0.01,
                "lrf": 0.01,
                "warmup_epochs": 3.0,
            },
            "train_metrics": {"metrics/mAP50(B)": 0.1},
            "date": "2024-05-01T10:00:00",
            "version": "8.4.190",
        },
        out / "ultralytics_last.pt",
    )
    plain = torch.nn.Sequential(torch.nn.Linear(2, 2))
    popt = torch.optim.Adam(plain.parameters(), lr=1e-3)
    torch.save(
        {
            "epoch": 1,
            "global_step": 4,
            "pytorch-lightning_version": "2.6.6",
            "state_dict": plain.state_dict(),
            "loops": {"fit_loop": {"epoch_progress": {"current": {"completed": 1}}}},
            "callbacks": {},
            "optimizer_states": [popt.state_dict()],
            "lr_schedulers": [{"last_epoch": 1, "base_lrs": [1e-3], "_last_lr": [1e-3]}],
        },
        out / "lightning.ckpt",
    )
    torch.save(plain.state_dict(), out / "plain_state_dict.pt")
    torch.save({k: v.half() for k, v in plain.state_dict().items()}, out / "fp16_state_dict.pt")
    torch.save(
        {"model": plain.state_dict(), "epoch": 3}, out / "legacy_format.pt", _use_new_zipfile_serialization=False
    )
    # a whole module in the legacy format: its classes go through persistent ids ('module', cls, ...)
    torch.save(
        torch.nn.Sequential(torch.nn.Linear(2, 1)), out / "legacy_whole_module.pt", _use_new_zipfile_serialization=False
    )
    torch.jit.script(torch.nn.Sequential(torch.nn.Linear(2, 1))).save(str(out / "torchscript.pt"))
    data = (out / "yolov5_last.pt").read_bytes()
    (out / "yolov5_truncated.pt").write_bytes(data[: len(data) * 6 // 10])
    hf = out / "hf-checkpoint-4"
    hf.mkdir(exist_ok=True)
    torch.save(plain.state_dict(), hf / "pytorch_model.bin")
    torch.save(popt.state_dict(), hf / "optimizer.pt")
    torch.save({"last_epoch": 4, "base_lrs": [1e-3], "_last_lr": [9e-4]}, hf / "scheduler.pt")
    (hf / "trainer_state.json").write_text(
        json.dumps(
            {"global_step": 4, "epoch": 2.0, "max_steps": 10, "log_history": [{"step": 4, "learning_rate": 9e-4}]}
        )
    )
    torch_loops(out / "torch-loop")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
