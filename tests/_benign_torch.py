"""Benign checkpoints written by real torch (and Lightning when installed) for the security tests."""

from __future__ import annotations

import json
from pathlib import Path


def write_torch_benign(root: Path) -> dict[str, Path]:
    """Write every kind of benign torch file we can make offline; name -> path (file or directory)."""
    import torch

    root.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.SiLU(), torch.nn.Flatten())
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    model(torch.zeros(1, 3, 8, 8)).sum().backward()
    opt.step()
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 1.0)

    def save(name: str, obj: object, **kw: object) -> None:
        p = root / name
        torch.save(obj, p, **kw)
        out[name] = p

    save("state_dict.pt", model.state_dict())
    save("full_training_state.pt", {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3})
    save("whole_module.pt", model)
    save("whole_module_legacy.pt", model, _use_new_zipfile_serialization=False)
    save("state_dict_legacy.pt", model.state_dict(), _use_new_zipfile_serialization=False)
    save("fp16.pt", {k: v.half() for k, v in model.state_dict().items()})
    save("bf16_and_int.pt", {"w": torch.ones(3, dtype=torch.bfloat16), "i": torch.arange(4), "b": torch.ones(2) > 0})
    save("scheduler_state.pt", {"sched": {k: v for k, v in sched.state_dict().items() if k != "lr_lambdas"}})
    save("tensor_subclass_param.pt", {"p": torch.nn.Parameter(torch.ones(2))})
    tagged = torch.ones(3)
    tagged.note = "python attribute"  # pickled through torch._tensor._rebuild_from_type_v2
    save("tensor_with_attribute.pt", {"t": tagged})
    save("numpy_inside.pt", {"np": __import__("numpy").arange(3), "epoch": 1})
    p = root / "torchscript.pt"
    torch.jit.script(model).save(str(p))
    out["torchscript.pt"] = p
    hf = root / "hf-checkpoint-10"
    hf.mkdir()
    torch.save(model.state_dict(), hf / "pytorch_model.bin")
    torch.save(opt.state_dict(), hf / "optimizer.pt")
    torch.save({"_last_lr": [0.01], "last_epoch": 10}, hf / "scheduler.pt")
    torch.save({"python": 1, "cpu": torch.get_rng_state()}, hf / "rng_state.pth")
    (hf / "trainer_state.json").write_text(json.dumps({"global_step": 10, "epoch": 1.0, "log_history": []}))
    out["hf-checkpoint-10"] = hf
    try:
        import transformers
    except ImportError:
        pass
    else:  # the real TrainingArguments pickle (Enum members of every strategy option), as Trainer saves it
        args = transformers.TrainingArguments(output_dir=str(root / "hf-out"), use_cpu=True, report_to=[])
        torch.save(args, root / "training_args.bin")
        out["training_args.bin"] = root / "training_args.bin"
    try:
        from safetensors.torch import save_file
    except ImportError:
        pass
    else:
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(root / "model.safetensors"))
        out["model.safetensors"] = root / "model.safetensors"
    try:
        import lightning as L
    except ImportError:
        return out

    class Tiny(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(2, 1)

        def training_step(self, batch, idx):
            return self.layer(batch[0]).sum()

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.ones(4, 2)), batch_size=2)
    trainer = L.Trainer(
        max_epochs=1,
        default_root_dir=str(root / "lt"),
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        enable_checkpointing=False,
    )
    trainer.fit(Tiny(), data)
    ck = root / "lightning.ckpt"
    trainer.save_checkpoint(str(ck))
    out["lightning.ckpt"] = ck
    return out
