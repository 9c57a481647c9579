"""The guard on a real Hugging Face Trainer (4.48): NaN steps skipped on device, the loss in the flag and spikes.

Tiny models built in the test (never downloaded), CPU, offline.
"""

from __future__ import annotations

import dataclasses

import pytest

from _needs import needs

torch = needs("torch")
transformers = needs("transformers")

from _state_snap import assert_equal, snapshot
from lrguard.guard.config import GuardConfig
from lrguard.guard.events import read_events
from lrguard.trainers.hf.guard_adapter import HFGuard, output_loss

pytestmark = pytest.mark.trainers


class _Net(torch.nn.Module):
    """An MLP whose loss is the MSE plus the batch's own ``c`` term (a term without a gradient)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))

    def forward(self, x, y, c):
        return {"loss": torch.nn.functional.mse_loss(self.net(x), y) + c.mean()}


def _rows(n=32, scale=1.0, nan_x=None, nan_c=None, spike=None):
    g = torch.Generator().manual_seed(1)
    x, y, c = torch.randn(n, 4, generator=g), scale * torch.randn(n, 1, generator=g), torch.zeros(n)
    if nan_x is not None:
        x[nan_x, 2] = float("nan")
    if nan_c is not None:
        c[nan_c] = float("nan")
    if spike is not None:
        y[spike] *= 1000.0
    return [{"x": x[i], "y": y[i], "c": c[i]} for i in range(n)]


def _train(tmp_path, callbacks, rows, eval_rows=None, **overrides):
    settings = dict(
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
    settings.update(overrides)
    args = transformers.TrainingArguments(**settings)
    model = _Net()
    trainer = transformers.Trainer(
        model=model, args=args, train_dataset=rows, eval_dataset=eval_rows, callbacks=callbacks
    )
    trainer.train()
    return model, trainer


def _step_losses(trainer):
    """The training loss HF logged for each optimizer step (logging_steps=1), rounded to 4 digits."""
    return [r["loss"] for r in trainer.state.log_history if "loss" in r and "grad_norm" in r]


def _finite(model):
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())


def test_nan_step_is_skipped(tmp_path):
    guard = HFGuard(console=None)
    model, trainer = _train(tmp_path, [guard], _rows(nan_x=13))
    assert _finite(model)
    assert guard.guard is not None and len(guard.guard.skipped_steps) == 1
    assert guard.guard.global_step == trainer.state.global_step == 8
    (event,) = guard.guard.events
    assert event.signal == "nonfinite" and event.action == "skip"
    logged = [r.get("grad_norm") for r in trainer.state.log_history if "grad_norm" in r]
    assert logged.index(next(v for v in logged if v != v)) == guard.guard.skipped_steps[0]  # the NaN step's grad_norm


def test_a_second_train_with_the_same_callback_starts_afresh(tmp_path):
    guard = HFGuard(events=str(tmp_path / "events.jsonl"), console=None)
    _train(tmp_path, [guard], _rows(nan_x=13))
    first = guard.guard
    _train(tmp_path, [guard], _rows(nan_x=13))
    assert guard.guard is not first and guard.guard is not None and guard.guard.global_step == 8
    assert len(guard.events) == 1  # the second run's skip, once
    assert len(read_events(tmp_path / "events.jsonl")) == 2  # both runs' events, appended


def test_without_the_guard_the_nan_step_poisons_the_weights(tmp_path):
    model, _ = _train(tmp_path, [], _rows(nan_x=13))
    assert not _finite(model)


def test_a_nan_loss_with_finite_gradients_is_skipped(tmp_path):
    """The flag uses the model's loss (kept by the forward hook), not only the gradient norm."""
    guard = HFGuard(console=None)
    model, trainer = _train(tmp_path, [guard], _rows(nan_c=21))
    logged = [r.get("grad_norm") for r in trainer.state.log_history if "grad_norm" in r]
    assert all(v == v for v in logged)  # the gradients stayed finite: a gradient-only flag would not skip
    losses = _step_losses(trainer)
    assert losses.count(0.0) == 1  # HF logs a NaN step's loss as 0.0 (its logging_nan_inf_filter)
    assert guard.guard is not None and guard.guard.skipped_steps == [losses.index(0.0)]
    (event,) = guard.guard.events
    assert event.signal == "nonfinite" and event.value != event.value and "loss nan" in event.message
    assert _finite(model)


def test_a_loss_spike_behind_the_trainers_clipping_is_detected_by_the_loss(tmp_path):
    """HF clips to max_grad_norm before the callback: every step's norm the guard sees is 1.0, the spike is in the loss."""
    guard = HFGuard(console=None)
    _, trainer = _train(tmp_path, [guard], _rows(scale=20.0, spike=[13]), max_grad_norm=1.0)
    raw = [r["grad_norm"] for r in trainer.state.log_history if "grad_norm" in r]
    assert min(raw) > 1.0  # every step was clipped (the logged norm is the one before clipping)
    assert guard.guard is not None
    events = guard.guard.events
    losses = _step_losses(trainer)
    at = losses.index(max(losses))  # the spiking sample's step (the Trainer shuffles)
    assert at >= 2
    assert [(e.signal, e.step) for e in events] == [("loss-spike", at)]  # no grad-spike: the clipped norms are flat
    assert events[0].value == pytest.approx(losses[at], rel=1e-3)


def test_accumulated_steps_use_the_mean_micro_batch_loss_and_evaluation_is_ignored(tmp_path):
    """GA 2: the guard's loss of a step is the mean of its micro-batches' (HF's logged loss); eval forwards between steps are not in it."""
    guard = HFGuard(console=None)
    eval_rows = _rows(n=8, scale=1e4)  # losses ~1e8: in the sum they would be a spike at every later step
    _, trainer = _train(
        tmp_path,
        [guard],
        _rows(n=64, spike=[53]),
        eval_rows,
        gradient_accumulation_steps=2,
        eval_strategy="steps",
        eval_steps=2,
        per_device_eval_batch_size=4,
    )
    assert trainer.state.global_step == 8
    assert sum("eval_runtime" in r for r in trainer.state.log_history) == 4  # evaluation ran after steps 2, 4, 6, 8
    assert guard.guard is not None
    events = guard.guard.events
    losses = _step_losses(trainer)
    at = losses.index(max(losses))  # the step holding the spiking sample (the Trainer shuffles)
    assert at >= 2
    assert [(e.signal, e.step) for e in events] == [("loss-spike", at)]
    assert events[0].value == pytest.approx(losses[at], rel=1e-3)  # HF logs the mean of the micro-batch losses


def test_output_loss_reads_what_the_trainer_takes():
    loss = torch.tensor(2.0)
    assert output_loss({"loss": loss, "logits": torch.ones(3)}) is loss
    assert output_loss(transformers.modeling_outputs.SequenceClassifierOutput(loss=loss)) is loss
    assert output_loss((loss, torch.ones(3))) is loss
    assert output_loss((torch.ones(3),)) is None  # logits first: no labels were given
    assert output_loss({"logits": torch.ones(3)}) is None
    assert output_loss(transformers.modeling_outputs.SequenceClassifierOutput(logits=torch.ones(3))) is None
    assert output_loss(torch.ones(3)) is None


# -- rollback -------------------------------------------------------------------------------------------
SPIKES = (10, 11)  # training forwards whose loss is scaled x1000: a persistent spike (patience 2)
LATE_NAN = 14  # and a NaN loss after the rollback: its event is at the Trainer's step, not the guard's
ROLLBACK = GuardConfig(actions={"loss-spike": "rollback", "grad-spike": "rollback"}, check_every=4, snapshot_every=4)


class _Spiky(_Net):
    """Dropout (torch RNG every step) and a loss scaled x1000 at the training forwards in SPIKES."""

    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Dropout(0.2), torch.nn.Linear(8, 1)
        )
        self.calls = 0

    def forward(self, x, y, c):
        loss = torch.nn.functional.mse_loss(self.net(x), y) + c.mean()
        if self.training:
            self.calls += 1
            if self.calls - 1 in SPIKES:
                loss = loss * 1000.0
            if self.calls - 1 == LATE_NAN:
                loss = loss * float("nan")
        return {"loss": loss}


class _Recorder(transformers.TrainerCallback):
    """After the guard's boundary: the guard's step and a deep copy of the state, at each step begin."""

    def __init__(self, guard):
        self.guard, self.seen = guard, []

    def on_step_begin(self, args, state, control, model=None, optimizer=None, lr_scheduler=None, **kwargs):
        opt = getattr(optimizer, "optimizer", optimizer)
        self.seen.append((self.guard.guard.global_step, snapshot(model=model, opt=opt, sched=lr_scheduler)))


def test_a_persistent_loss_spike_rolls_back_bit_exactly(tmp_path):
    guard = HFGuard(config=ROLLBACK, events=str(tmp_path / "events.jsonl"), console=None)
    rec = _Recorder(guard)
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
        max_grad_norm=1.0,
    )
    model = _Spiky()
    trainer = transformers.Trainer(model=model, args=args, train_dataset=_rows(n=64), callbacks=[guard, rec])
    trainer.train()
    g = guard.guard
    assert g is not None
    (window,) = g.skipped_windows
    assert (window.from_step, window.to_step, window.trigger_step) == (8, 12, 11)  # steps 8-11 undone
    actions = [(e.signal, e.action, e.step) for e in guard.events]
    # the loss (from the forward hook) finds it: HF's clipping flattens the gradient norm the guard sees
    assert actions == [
        ("loss-spike", "log", 10),
        ("loss-spike", "rollback", 11),
        ("rollback", "restore", 12),
        ("nonfinite", "skip", LATE_NAN),  # the Trainer's step 14 is the guard's step 10
    ]
    assert g.skipped_steps == [LATE_NAN - 4]
    steps = [s for s, _ in rec.seen]
    assert steps == [*range(12), 8, 9, 10, 11]  # the guard's step went back at step 12, the batches went on
    assert_equal(rec.seen[12][1], rec.seen[8][1])  # the state restored at step 12 is the one of step 8, bit for bit
    assert trainer.state.global_step == 16  # HF's own count keeps every step taken
    assert trainer.lr_scheduler.last_epoch == 12  # the schedule went back with the state
    assert _finite(model)
    assert [r["step"] for r in read_events(tmp_path / "events.jsonl")] == [10, 11, 12, LATE_NAN]


def test_rollback_skip_is_refused():
    """The callback does not own the data loader: it cannot drop batches beyond the undone steps'."""
    with pytest.raises(ValueError, match="rollback_skip"):
        HFGuard(config=dataclasses.replace(ROLLBACK, rollback_skip=1))
