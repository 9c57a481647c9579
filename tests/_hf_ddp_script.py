"""A real Hugging Face Trainer under torchrun on CPU (gloo), for tests/test_guard_hf_ddp.py.

Usage: ``torchrun --standalone --nproc-per-node 2 _hf_ddp_script.py OUT_DIR GUARDED`` (GUARDED 1 or 0).
The loss of the ``NAN_FORWARD``-th training forward turns NaN on rank 1 only; DDP averages the
gradients, so every rank's gradients are NaN at that step. Each rank writes ``weights-RANK.pt`` and
``result-RANK.json`` (skipped steps, global step, world size, whether the weights are finite).
"""

from __future__ import annotations

import json
import os
import sys

import torch
import transformers

NAN_FORWARD = 4


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
        self.calls = 0

    def forward(self, x, y):
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.calls += 1
        if self.calls == NAN_FORWARD and int(os.environ.get("RANK", "0")) == 1:
            loss = loss * float("nan")
        return {"loss": loss}


def main(out: str, guarded: bool) -> None:
    from lrguard.trainers.hf.guard_adapter import HFGuard

    rank = int(os.environ.get("RANK", "0"))
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(64, 4, generator=g), torch.randn(64, 1, generator=g)
    rows = [{"x": x[i], "y": y[i]} for i in range(64)]
    args = transformers.TrainingArguments(
        output_dir=os.path.join(out, "out"),
        per_device_train_batch_size=4,
        num_train_epochs=1,
        learning_rate=1e-2,
        report_to=[],
        use_cpu=True,
        ddp_backend="gloo",
        save_strategy="no",
        logging_steps=1,
        disable_tqdm=True,
        remove_unused_columns=False,
        dataloader_num_workers=0,
        seed=0,
    )
    guard = HFGuard(events=os.path.join(out, f"events-{rank}.jsonl"), console=None) if guarded else None
    model = Net()
    trainer = transformers.Trainer(model=model, args=args, train_dataset=rows, callbacks=[guard] if guard else [])
    trainer.train()
    torch.save(model.state_dict(), os.path.join(out, f"weights-{rank}.pt"))
    finite = all(bool(torch.isfinite(p).all()) for p in model.parameters())
    skipped = guard.guard.skipped_steps if guard is not None and guard.guard is not None else []
    result = {"skipped": skipped, "global_step": trainer.state.global_step, "world": args.world_size, "finite": finite}
    with open(os.path.join(out, f"result-{rank}.json"), "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] == "1")
