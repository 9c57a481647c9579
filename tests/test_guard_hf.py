"""The guard on a real Hugging Face Trainer: a NaN sample's step is skipped on device, training finishes finite."""

from __future__ import annotations

import pytest

from _needs import needs

torch = needs("torch")
transformers = needs("transformers")

from lrguard.trainers.hf.guard_adapter import HFGuard

pytestmark = pytest.mark.trainers


class _Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))

    def forward(self, x, y):
        return {"loss": torch.nn.functional.mse_loss(self.net(x), y)}


def _train(tmp_path, callbacks):
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(32, 4, generator=g), torch.randn(32, 1, generator=g)
    x[13, 2] = float("nan")
    rows = [{"x": x[i], "y": y[i]} for i in range(32)]
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"),
        per_device_train_batch_size=4,
        num_train_epochs=1,
        learning_rate=1e-2,
        report_to=[],
        use_cpu=True,
        save_strategy="no",
        logging_steps=1,
        disable_tqdm=True,
        remove_unused_columns=False,
        dataloader_num_workers=0,
        seed=0,
    )
    model = _Net()
    trainer = transformers.Trainer(model=model, args=args, train_dataset=rows, callbacks=callbacks)
    trainer.train()
    return model, trainer


def _finite(model):
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())


def test_nan_step_is_skipped(tmp_path):
    guard = HFGuard(console=None)
    model, trainer = _train(tmp_path, [guard])
    assert _finite(model)
    assert guard.guard is not None and len(guard.guard.skipped_steps) == 1
    assert guard.guard.global_step == trainer.state.global_step == 8
    (event,) = guard.guard.events
    assert event.signal == "nonfinite" and event.action == "skip"
    logged = [r.get("grad_norm") for r in trainer.state.log_history if "grad_norm" in r]
    assert logged.index(next(v for v in logged if v != v)) == guard.guard.skipped_steps[0]  # the NaN step's grad_norm


def test_without_the_guard_the_nan_step_poisons_the_weights(tmp_path):
    model, _ = _train(tmp_path, [])
    assert not _finite(model)
