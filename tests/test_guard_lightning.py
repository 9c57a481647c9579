"""The guard on a real Lightning Trainer: a NaN batch is skipped on device, training finishes finite."""

from __future__ import annotations

import dataclasses
import json

import pytest

from _needs import needs

torch = needs("torch")
L = needs("lightning")

from _state_snap import assert_equal, snapshot
from lrguard.guard.config import GuardConfig
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
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [(e["action"], e["step"], e["epoch"]) for e in events] == [
        ("skip", NAN_BATCH, 0),
        ("skip", 8 + NAN_BATCH, 1),
    ]


class _NanTerm(_Net):
    """The loss plus a term without a gradient that is NaN at one batch: a NaN loss with finite gradients."""

    def training_step(self, batch, batch_idx):
        loss = super().training_step(batch, batch_idx)
        return loss + torch.tensor(float("nan") if batch_idx == 2 else 0.0)


def test_a_nan_loss_with_finite_gradients_is_skipped(tmp_path):
    """The flag uses the loss Lightning backpropagates (on_before_backward), not only the gradient norm."""
    guard = LightningGuard(console=None)
    trainer = L.Trainer(
        max_epochs=1,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        callbacks=[guard],
    )
    g = torch.Generator().manual_seed(1)
    data = torch.utils.data.TensorDataset(torch.randn(32, 4, generator=g), torch.randn(32, 1, generator=g))
    model = _NanTerm()
    trainer.fit(model, torch.utils.data.DataLoader(data, batch_size=4))
    assert guard.skipped_steps == [2]
    (event,) = guard.events
    assert "loss nan" in event.message and "grad norm" not in event.message  # the gradients were finite
    assert _finite(model)


def test_a_second_fit_with_the_same_callback_starts_afresh(tmp_path):
    guard = LightningGuard(events=str(tmp_path / "events.jsonl"), console=None)
    _fit(tmp_path, [guard])
    first = guard.guard
    _fit(tmp_path, [guard])  # a new Trainer and model, the same callback
    assert len(guard.guards) == 1 and guard.guard is not first
    assert guard.skipped_steps == [NAN_BATCH, 8 + NAN_BATCH]  # the second fit's own, once each
    assert len((tmp_path / "events.jsonl").read_text().splitlines()) == 4  # both fits' events, appended


def test_without_the_guard_the_nan_batch_poisons_the_weights(tmp_path):
    model, _ = _fit(tmp_path, [])
    assert not _finite(model)


# -- manual optimization, two optimizers (a GAN-like toy) ---------------------------------------------
BAD_BATCH = 3  # of 8: its discriminator loss is NaN (the generator's step of that batch is clean)


class _Gan(L.LightningModule):
    """Generator then discriminator, each with its own Adam, stepped by hand; noise drawn from torch every step."""

    def __init__(self, inject=True, omit_bad_step=False):
        super().__init__()
        torch.manual_seed(0)
        self.automatic_optimization = False
        self.gen = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 4))
        self.dis = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
        self.inject, self.omit_bad_step = inject, omit_bad_step

    def training_step(self, batch, batch_idx):
        (real,) = batch
        opt_g, opt_d = self.optimizers()
        bce = torch.nn.functional.binary_cross_entropy_with_logits
        fake = self.gen(torch.randn(real.shape[0], 2))
        loss_g = bce(self.dis(fake), torch.ones(real.shape[0], 1))
        opt_g.zero_grad()
        self.manual_backward(loss_g)
        opt_g.step()
        loss_d = bce(self.dis(real), torch.ones(real.shape[0], 1)) + bce(
            self.dis(fake.detach()), torch.zeros(real.shape[0], 1)
        )
        if batch_idx == BAD_BATCH and self.inject:
            loss_d = loss_d * float("nan")
        if batch_idx == BAD_BATCH and self.omit_bad_step:
            return  # the reference: that discriminator step never happens
        opt_d.zero_grad()
        self.manual_backward(loss_d)
        opt_d.step()

    def configure_optimizers(self):
        return [torch.optim.Adam(self.gen.parameters(), lr=1e-2), torch.optim.Adam(self.dis.parameters(), lr=1e-2)]


def _fit_gan(tmp_path, callbacks, **kw):
    g = torch.Generator().manual_seed(2)
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(32, 4, generator=g)), batch_size=4)
    model = _Gan(**kw)
    trainer = L.Trainer(
        max_epochs=1,
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


def test_manual_optimization_skips_the_bad_optimizers_step_only(tmp_path):
    guard = LightningGuard(events=str(tmp_path / "events.jsonl"), console=None)
    model, trainer = _fit_gan(tmp_path, [guard])
    assert len(guard.guards) == 2
    assert trainer.global_step == 16  # manual optimization counts every opt.step() of both optimizers
    assert [g.global_step for g in guard.guards] == [8, 8]
    assert guard.guards[0].skipped_steps == [] and guard.guards[1].skipped_steps == [BAD_BATCH]
    assert guard.skipped_steps == [2 * BAD_BATCH + 1]  # the trainer's global step: G, D, G, D, ...
    (event,) = guard.events
    assert event.signal == "nonfinite" and event.message.startswith("optimizer 1: loss nan")  # D's own loss
    assert '"step": 7' in (tmp_path / "events.jsonl").read_text()
    assert _finite(model)
    # bit-identical to a run in which that discriminator step never happened and the generator's step was taken
    ref, _ = _fit_gan(tmp_path, [], inject=False, omit_bad_step=True)
    for a, b in zip(model.state_dict().values(), ref.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    for a, b in zip(
        model.optimizers()[1].optimizer.state_dict()["state"].values(),
        ref.optimizers()[1].optimizer.state_dict()["state"].values(),
        strict=True,
    ):
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_without_the_guard_the_manual_nan_poisons_the_discriminator(tmp_path):
    model, _ = _fit_gan(tmp_path, [])
    assert not all(bool(torch.isfinite(p).all()) for p in model.dis.parameters())


# -- rollback -------------------------------------------------------------------------------------------
SPIKES = (10, 11)  # training_step calls whose loss is scaled x1000: a persistent spike (patience 2)
LATE_NAN = 14  # and a NaN loss after the rollback: its event is at the trainer's step, not the guard's
ROLLBACK = GuardConfig(actions={"loss-spike": "rollback", "grad-spike": "rollback"}, check_every=4, snapshot_every=4)


class _Spiky(_Net):
    """Dropout (torch RNG every step) and a loss scaled x1000 at the training_step calls in SPIKES."""

    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Dropout(0.2), torch.nn.Linear(8, 1)
        )
        self.calls = 0

    def _loss(self, batch):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.calls += 1
        if self.calls - 1 == LATE_NAN:
            return loss * float("nan")
        return loss * 1000.0 if self.calls - 1 in SPIKES else loss

    def training_step(self, batch, batch_idx):
        return self._loss(batch)


class _SpikyManual(_Spiky):
    """The same in manual optimization: backward, step and the scheduler step by hand."""

    def __init__(self):
        super().__init__()
        self.automatic_optimization = False

    def training_step(self, batch, batch_idx):
        opt = self.optimizers()
        opt.zero_grad()
        self.manual_backward(self._loss(batch))
        opt.step()
        self.lr_schedulers().step()


class _Recorder(L.Callback):
    """After the guard's boundary: the guard's step and a deep copy of the state, at each batch start."""

    def __init__(self, guard):
        self.guard, self.seen = guard, []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        g = self.guard.guard
        sched = trainer.lr_scheduler_configs[0].scheduler
        self.seen.append((g.global_step, snapshot(model=pl_module, opt=trainer.optimizers[0], sched=sched)))


def _fit_spiky(tmp_path, callbacks, manual=False):
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(64, 4, generator=g), torch.randn(64, 1, generator=g)
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=4)
    model = _SpikyManual() if manual else _Spiky()
    trainer = L.Trainer(
        max_epochs=1,
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


@pytest.mark.parametrize("manual", [False, True], ids=["automatic", "manual"])
def test_a_persistent_spike_rolls_back_bit_exactly(tmp_path, manual):
    guard = LightningGuard(config=ROLLBACK, events=str(tmp_path / "events.jsonl"), console=None)
    rec = _Recorder(guard)
    model, trainer = _fit_spiky(tmp_path, [guard, rec], manual=manual)
    g = guard.guard
    assert g is not None
    (window,) = g.skipped_windows
    assert (window.from_step, window.to_step, window.trigger_step) == (8, 12, 11)  # steps 8-11 undone
    actions = [(e.signal, e.action, e.step) for e in guard.events]
    assert actions == [
        ("loss-spike", "log", 10),  # the loss, from on_before_backward
        ("grad-spike", "log", 10),
        ("loss-spike", "rollback", 11),
        ("grad-spike", "rollback", 11),
        ("rollback", "restore", 12),  # one restore, at the next boundary
        ("nonfinite", "skip", LATE_NAN),  # the trainer's step 14 is the guard's step 10
    ]
    assert g.skipped_steps == [LATE_NAN - 4]
    steps = [s for s, _ in rec.seen]
    assert steps == [*range(12), 8, 9, 10, 11]  # the guard's step went back at batch 12, the batches went on
    assert_equal(rec.seen[12][1], rec.seen[8][1])  # the state restored at batch 12 is the one of step 8, bit for bit
    assert trainer.global_step == 16  # Lightning's own count keeps every step taken
    assert trainer.lr_scheduler_configs[0].scheduler.last_epoch == 12  # the schedule went back with the state
    assert all(bool(torch.isfinite(p).all()) for p in model.parameters())


def test_rollback_is_refused_where_the_callback_cannot_do_it(tmp_path):
    with pytest.raises(ValueError, match="rollback_skip"):
        LightningGuard(config=dataclasses.replace(ROLLBACK, rollback_skip=2))
    with pytest.raises(ValueError, match="one optimizer, the trainer has 2"):
        _fit_gan(tmp_path, [LightningGuard(config=ROLLBACK, console=None)])
