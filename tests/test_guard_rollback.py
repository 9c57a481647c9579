"""The rollback action: a persistent spike restores the last-good state bit-exactly and the data window is skipped.

The state is a model with BatchNorm buffers and dropout, AdamW, a LambdaLR schedule, a CPU
GradScaler, an EMA model (``AveragedModel``) and every random generator (the loop draws from
torch, NumPy and ``random`` each step). The reference run trains the same data without the skipped
window and no guard at all; the two must end bit-identical.
"""

from __future__ import annotations

import copy
import dataclasses
import random

import numpy as np
import pytest

from _needs import needs

torch = needs("torch")

from lrguard.guard.config import GuardConfig
from lrguard.guard.core import GuardStop
from lrguard.guard.events import read_events
from lrguard.guard.torch_adapter import TorchGuard

N = 60
BAD = (33, 34)  # two poisoned batches in a row: a persistent spike


def _batches(bad=BAD):
    g = torch.Generator().manual_seed(1)
    out = []
    for i in range(N):
        x, y = torch.randn(16, 4, generator=g), torch.randn(16, 1, generator=g)
        if i in bad:
            x, y = x * 300, y * 300
        out.append((x, y))
    return out


def _setup():
    torch.manual_seed(0)
    random.seed(0)
    np.random.seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 16), torch.nn.BatchNorm1d(16), torch.nn.ReLU(), torch.nn.Dropout(0.2), torch.nn.Linear(16, 1)
    )
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 10))
    scaler = torch.amp.GradScaler("cpu", init_scale=16.0)
    ema = torch.optim.swa_utils.AveragedModel(model)
    return model, opt, sched, scaler, ema


def _loss(model, x, y):
    noise = torch.randn_like(x) * 0.01 + float(np.random.rand()) * 1e-3 + random.random() * 1e-3
    return torch.nn.functional.mse_loss(model(x + noise), y)


def _snapshot(model, opt, sched, scaler, ema):
    return copy.deepcopy(
        {
            "model": model.state_dict(),
            "opt": opt.state_dict(),
            "sched": sched.state_dict(),
            "scaler": scaler.state_dict(),
            "ema": ema.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "np_rng": np.random.get_state(),
            "py_rng": random.getstate(),
        }
    )


def _equal(a, b, where=""):
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, np.ndarray):
        assert np.array_equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _equal(a[k], b[k], f"{where}/{k}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _equal(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def _guarded(cfg, batches, tmp_path=None):
    model, opt, sched, scaler, ema = _setup()
    events = None if tmp_path is None else str(tmp_path / "events.jsonl")
    guard = TorchGuard(opt, sched, scaler, config=cfg, model=model, ema=ema, console=None, events=events)
    first_seen, after_rollback = {}, {}
    for x, y in guard.data(batches):
        state = _snapshot(model, opt, sched, scaler, ema)
        if guard.global_step in first_seen:
            after_rollback.setdefault(guard.global_step, state)
        else:
            first_seen[guard.global_step] = state
        loss = _loss(model, x, y)
        scaler.scale(loss).backward()
        guard.step(loss)
        opt.zero_grad()
        ema.update_parameters(model)
    guard.close()
    return (model, opt, sched, scaler, ema), guard, first_seen, after_rollback


def _reference(skip):
    model, opt, sched, scaler, ema = _setup()
    for i, (x, y) in enumerate(_batches()):
        if i in skip:
            continue
        loss = _loss(model, x, y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        sched.step()
        opt.zero_grad()
        ema.update_parameters(model)
    return model, opt, sched, scaler, ema


CFG = GuardConfig(
    actions={"loss-spike": "rollback"}, check_every=5, snapshot_every=10, rollback_patience=2, rollback_skip=2
)


@pytest.mark.parametrize("snapshot_device", [None, "cpu"])
def test_persistent_spike_rolls_back_bit_exactly_and_skips_the_window(tmp_path, snapshot_device):
    cfg = dataclasses.replace(CFG, snapshot_device=snapshot_device)
    objects, guard, first_seen, after = _guarded(cfg, _batches(), tmp_path)
    (window,) = guard.skipped_windows
    # the first bad step is counted (logged), the second rolls back to the last state before both
    assert (window.trigger_step, window.from_step, window.to_step) == (34, 30, 35)
    assert (window.first_batch, window.end_batch) == (30, 37)  # the 5 undone steps' batches + rollback_skip 2
    # right after the rollback, every piece of state equals the one saved at step 30
    assert min(after) == 30  # steps 30.. are trained a second time, on other data
    _equal(after[30], first_seen[30], "restored")
    # the run after the rollback equals a run that never saw batches 30..36
    reference = _reference(set(range(window.first_batch, window.end_batch)))
    _equal(_snapshot(*objects), _snapshot(*reference), "final")
    assert guard.global_step == N - 7
    kinds = [(e["step"], e["signal"], e["action"]) for e in read_events(tmp_path / "events.jsonl")]
    assert (33, "loss-spike", "log") in kinds and (34, "loss-spike", "rollback") in kinds
    assert (35, "rollback", "restore") in kinds


def test_without_rollback_the_spike_stays_in_the_weights():
    objects, guard, _, _ = _guarded(GuardConfig(check_every=5), _batches())
    assert guard.skipped_windows == []
    reference = _reference(set(range(30, 37)))
    with pytest.raises(AssertionError):
        _equal(_snapshot(*objects)["model"], _snapshot(*reference)["model"])


def test_a_single_spike_below_the_patience_is_only_logged():
    _, guard, _, _ = _guarded(CFG, _batches(bad=(33,)))
    assert guard.skipped_windows == []
    assert [(e.step, e.action) for e in guard.events if e.signal == "loss-spike"] == [(33, "log")]
    assert "1 of 2 before a rollback" in guard.events[0].message


def test_rollbacks_beyond_the_maximum_stop_the_run():
    cfg = GuardConfig(
        actions={"loss-spike": "rollback"}, check_every=5, snapshot_every=10, rollback_patience=1, max_rollbacks=1
    )
    with pytest.raises(GuardStop, match="1 rollbacks already done"):
        _guarded(cfg, _batches(bad=(23, 43)))


def test_rollback_needs_the_model_and_a_boundary():
    model, opt, *_ = _setup()
    cfg = GuardConfig(actions={"grad-spike": "rollback"})
    with pytest.raises(ValueError, match="needs the model"):
        TorchGuard(opt, config=cfg, console=None)
    guard = TorchGuard(opt, config=cfg, model=model, console=None)
    model(torch.randn(4, 4)).sum().backward()
    with pytest.raises(ValueError, match="boundary"):
        guard.step()


def test_save_and_load_restore_the_state_bit_exactly(tmp_path):
    from lrguard.checkpoint.integrity import check_manifest, verify

    model, opt, sched, scaler, ema = _setup()
    guard = TorchGuard(opt, sched, scaler, model=model, ema=ema, console=None)
    batches = _batches(bad=())
    for x, y in guard.data(batches[:12]):
        loss = _loss(model, x, y)
        scaler.scale(loss).backward()
        guard.step(loss)
        opt.zero_grad()
        ema.update_parameters(model)
    saved = _snapshot(model, opt, sched, scaler, ema)
    side = guard.save(tmp_path / "state.pt", extra={"epoch": 3})
    assert verify(tmp_path / "state.pt").ok and check_manifest(tmp_path / "state.pt")["ok"]
    assert '"verified": true' in side.read_text() and '"step": 12' in side.read_text()
    for x, y in guard.data(batches[12:20]):  # train on, then go back
        loss = _loss(model, x, y)
        scaler.scale(loss).backward()
        guard.step(loss)
        opt.zero_grad()
        ema.update_parameters(model)
    assert guard.load(tmp_path / "state.pt") == {"epoch": 3}
    _equal(_snapshot(model, opt, sched, scaler, ema), saved, "loaded")
    assert guard.global_step == 12 and guard.batches == 12


def test_save_does_not_replace_the_file_when_the_new_one_does_not_verify(tmp_path, monkeypatch):
    from lrguard.checkpoint import integrity

    model, opt, *_ = _setup()
    guard = TorchGuard(opt, model=model, console=None)
    guard.save(tmp_path / "state.pt")
    before = (tmp_path / "state.pt").read_bytes()
    real = integrity.verify

    def broken(path, **kw):
        report = real(path, **kw)
        report.fail("injected")
        return report

    monkeypatch.setattr(integrity, "verify", broken)
    with pytest.raises(OSError, match="does not verify"):
        guard.save(tmp_path / "state.pt", extra={"x": 1})
    assert (tmp_path / "state.pt").read_bytes() == before
    assert list(tmp_path.glob(".state.pt.*")) == []


def test_the_rollback_record_survives_save_and_load(tmp_path):
    objects, guard, _, _ = _guarded(CFG, _batches())
    guard.save(tmp_path / "state.pt")
    model, opt, sched, scaler, ema = _setup()
    resumed = TorchGuard(opt, sched, scaler, config=CFG, model=model, ema=ema, console=None)
    resumed.load(tmp_path / "state.pt")
    assert resumed.skipped_windows == guard.skipped_windows and len(guard.skipped_windows) == 1
    assert (resumed.global_step, resumed.batches) == (N - 7, N)
    _equal(_snapshot(model, opt, sched, scaler, ema)["model"], _snapshot(*objects)["model"])


def test_a_spike_found_by_the_last_read_is_rolled_back_at_close():
    cfg = GuardConfig(actions={"loss-spike": "rollback"}, check_every=7, snapshot_every=10)
    batches = _batches(bad=(57, 58))  # reads at steps 7, 14, ..., 56; close() reads 56-59
    objects, guard, first_seen, _ = _guarded(cfg, batches)
    assert guard.events[-1].message.startswith("restored") and guard.events[-2].step == 58
    (window,) = guard.skipped_windows
    assert (window.trigger_step, window.from_step, window.to_step) == (58, 50, 60)
    _equal(_snapshot(*objects), first_seen[50], "ends on the last-good state")


def test_the_book_counts_spikes_within_the_patience_steps():
    from lrguard.guard.rollback import RollbackBook, SkipWindow

    book = RollbackBook(patience=2, patience_steps=10, max_rollbacks=1)
    assert book.note(5) == "log" and not book.may_promote(6) and book.may_promote(5)
    assert book.note(5) == "log"  # a loss and a grad-norm spike at one step count once
    assert book.note(20) == "log"  # step 5 has expired: 1 of 2 again
    assert book.may_promote(20) and not book.may_promote(21)
    assert book.note(25) == "rollback"
    book.rolled_back(SkipWindow(10, 26, 25, 10, 26, "loss-spike"))
    assert book.spikes == [] and book.may_promote(30)
    assert book.note(40) == "log" and book.note(41) == "stop"  # max_rollbacks used up


def test_rollback_with_gradient_accumulation_skips_whole_steps():
    """Two batches per optimizer step: snapshots and the restore happen only between steps."""
    batches = _batches(bad=(40, 41, 42, 43))  # optimizer steps 20 and 21
    model, opt, sched, scaler, ema = _setup()
    guard = TorchGuard(opt, sched, scaler, config=CFG, model=model, ema=ema, console=None)
    for x, y in guard.data(batches):
        loss = _loss(model, x, y)
        scaler.scale(loss / 2).backward()
        if guard.batches % 2 == 0:
            guard.step(loss)
            opt.zero_grad()
            ema.update_parameters(model)
    guard.close()
    (window,) = guard.skipped_windows
    assert (window.from_step, window.first_batch % 2, window.end_batch % 2) == (20, 0, 0)
    assert window.end_batch - window.first_batch == 2 * (window.to_step - window.from_step) + 2

    ref = _setup()
    model_r, opt_r, sched_r, scaler_r, ema_r = ref
    kept = [b for i, b in enumerate(batches) if not window.first_batch <= i < window.end_batch]
    for i, (x, y) in enumerate(kept, start=1):
        loss = _loss(model_r, x, y)
        scaler_r.scale(loss / 2).backward()
        if i % 2 == 0:
            scaler_r.step(opt_r)
            scaler_r.update()
            sched_r.step()
            opt_r.zero_grad()
            ema_r.update_parameters(model_r)
    _equal(_snapshot(model, opt, sched, scaler, ema), _snapshot(*ref), "final")
