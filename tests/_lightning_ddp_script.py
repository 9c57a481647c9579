"""A real Lightning ``strategy="ddp"`` training on CPU (gloo), run by torchrun for tests/test_guard_lightning_ddp.py.

Usage: ``torchrun --standalone --nproc-per-node 2 _lightning_ddp_script.py OUT_DIR GUARDED`` (GUARDED 1 or 0).
The loss of batch ``NAN_BATCH`` of the first epoch turns NaN on rank 1 only; DDP averages the
gradients, so every rank's gradients are NaN at that step. Each rank writes ``weights-RANK.pt`` and
``result-RANK.json`` (skipped steps, global step, whether the weights are finite).
"""

from __future__ import annotations

import json
import os
import sys

import lightning as L
import torch

NAN_BATCH = 3


class Net(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        if self.global_rank == 1 and batch_idx == NAN_BATCH and self.current_epoch == 0:
            loss = loss * float("nan")
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-2)


def main(out: str, guarded: bool) -> None:
    from lrguard.trainers.lightning.guard_adapter import LightningGuard

    rank = int(os.environ.get("RANK", "0"))
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(64, 4, generator=g), torch.randn(64, 1, generator=g)
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=4)
    guard = LightningGuard(events=os.path.join(out, f"events-{rank}.jsonl"), console=None) if guarded else None
    model = Net()
    trainer = L.Trainer(
        max_epochs=2,
        accelerator="cpu",
        devices=2,
        strategy="ddp",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=out,
        callbacks=[guard] if guard is not None else [],
    )
    trainer.fit(model, data)
    torch.save(model.state_dict(), os.path.join(out, f"weights-{rank}.pt"))
    finite = all(bool(torch.isfinite(p).all()) for p in model.parameters())
    skipped = guard.guard.skipped_steps if guard is not None and guard.guard is not None else []
    result = {"skipped": skipped, "global_step": trainer.global_step, "finite": finite}
    with open(os.path.join(out, f"result-{rank}.json"), "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] == "1")
