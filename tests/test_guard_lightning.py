"""The guard on a real Lightning Trainer: a NaN batch is skipped on device, training finishes finite."""

from __future__ import annotations

import pytest

from _needs import needs

torch = needs("torch")
L = needs("lightning")

from lrguard.trainers.lightning.guard_adapter import LightningGuard

pytestmark = pytest.mark.trainers
NAN_BATCH = 5  # of 8 per epoch


class _Net(L.LightningModule):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self.net(x), y)

    def configure_optimizers(self):
        opt = torch.optim.Adam(self.parameters(), lr=1e-2)
        sched = torch.optim.lr_scheduler.StepLR(opt, 4, gamma=0.5)
        return [opt], [{"scheduler": sched, "interval": "step"}]


def _fit(tmp_path, callbacks):
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(32, 4, generator=g), torch.randn(32, 1, generator=g)
    x[NAN_BATCH * 4 + 1, 2] = float("nan")
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=4, shuffle=False)
    model = _Net()
    trainer = L.Trainer(
        max_epochs=2,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        callbacks=callbacks,
    )
    trainer.fit(model, data)
    return model, trainer


def _finite(model):
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())


def test_nan_batch_is_skipped(tmp_path):
    guard = LightningGuard(events=str(tmp_path / "events.jsonl"), console=None)
    model, trainer = _fit(tmp_path, [guard])
    assert _finite(model)
    assert guard.guard is not None and guard.guard.skipped_steps == [NAN_BATCH, 8 + NAN_BATCH]
    assert trainer.global_step == 16 and guard.guard.global_step == 16
    assert trainer.lr_scheduler_configs[0].scheduler.last_epoch == 16  # stepped on skipped steps too
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert len(lines) == 2 and '"action": "skip"' in lines[0]


def test_without_the_guard_the_nan_batch_poisons_the_weights(tmp_path):
    model, _ = _fit(tmp_path, [])
    assert not _finite(model)
