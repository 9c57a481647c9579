"""The plain-PyTorch guard: on-device skip of non-finite steps, no host sync per step, DDP agreement, pre-flight."""

from __future__ import annotations

import copy
import math
import socket
import sys
from pathlib import Path

import pytest

from _needs import needs

torch = needs("torch")

from lrguard.guard.config import GuardConfig
from lrguard.guard.core import GuardStop, PreviousSession
from lrguard.guard.torch_adapter import TorchGuard

GUARD_DIR = str(Path(__file__).resolve().parents[1] / "src" / "lrguard" / "guard")


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))


def _optimizer(name, model):
    if name == "adam":
        return torch.optim.Adam(model.parameters(), lr=1e-2)
    if name == "adamw-foreach":
        return torch.optim.AdamW(model.parameters(), lr=1e-2, foreach=True)
    return torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)


def _data():
    g = torch.Generator().manual_seed(1)
    return torch.randn(16, 4, generator=g), torch.randn(16, 1, generator=g)


def _state(model, opt):
    return copy.deepcopy((model.state_dict(), opt.state_dict()))


def _assert_identical(a, b):
    (ma, oa), (mb, ob) = a, b
    assert ma.keys() == mb.keys()
    for k in ma:
        assert torch.equal(ma[k], mb[k]), k
    assert oa["state"].keys() == ob["state"].keys()
    for i in oa["state"]:
        for k, v in oa["state"][i].items():
            w = ob["state"][i][k]
            assert torch.equal(v, w) if isinstance(v, torch.Tensor) else v == w, (i, k)


def _train(steps, nan_step=None, guard_config=None, opt_name="adam", scheduler=True, console=None):
    model = _model()
    opt = _optimizer(opt_name, model)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps) if scheduler else None
    guard = TorchGuard(opt, sched, config=guard_config, console=console) if guard_config is not None else None
    x, y = _data()
    snapshots = {}
    for step in range(steps):
        xb = x.clone()
        if step == nan_step:
            xb[2, 3] = float("nan")
        loss = torch.nn.functional.mse_loss(model(xb), y)
        loss.backward()
        snapshots[step] = _state(model, opt)
        if guard is not None:
            guard.step(loss)
        else:
            opt.step()
            if sched is not None:
                sched.step()
        opt.zero_grad()
        snapshots[step + 1] = _state(model, opt)
    if guard is not None:
        guard.close()
    return model, opt, sched, guard, snapshots


@pytest.mark.parametrize("opt_name", ["adam", "adamw-foreach", "sgd-momentum"])
@pytest.mark.parametrize("nan_step", [0, 6])
def test_nan_step_is_skipped_bit_exactly(opt_name, nan_step):
    model, opt, sched, guard, snaps = _train(12, nan_step, GuardConfig(check_every=5), opt_name)
    assert guard.skipped_steps == [nan_step]
    if nan_step > 0:
        _assert_identical(snaps[nan_step], snaps[nan_step + 1])  # weights, moments and step counters
    else:  # the lazily created state is back at its initial values
        assert all(torch.equal(a, b) for a, b in zip(snaps[0][0].values(), snaps[1][0].values(), strict=True))
        for st in opt.state.values():
            if "step" in st:
                assert float(st["step"]) == 11
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert sched.last_epoch == 12  # the schedule follows the global step (documented choice)
    (event,) = guard.events
    assert (event.step, event.signal, event.action) == (nan_step, "nonfinite", "skip")


def test_without_the_guard_the_nan_poisons_the_weights():
    model, *_ = _train(12, nan_step=6)
    assert not all(torch.isfinite(p).all() for p in model.parameters())


def test_clean_run_is_unchanged_by_the_guard():
    plain, *_ = _train(10)
    guarded, _, _, guard, _ = _train(10, guard_config=GuardConfig(check_every=3))
    assert guard.events == [] and guard.skipped_steps == []
    for a, b in zip(plain.parameters(), guarded.parameters(), strict=True):
        assert torch.equal(a, b)


class _SyncCounter:
    """Counts host reads of tensor values made by the guard's own code (``.item()``, ``.cpu()``, ``bool(t)``, ...)."""

    NAMES = ("item", "cpu", "tolist", "numpy", "__bool__", "__float__", "__int__", "__index__")

    def __init__(self, monkeypatch):
        self.calls = []
        for name in self.NAMES:
            original = getattr(torch.Tensor, name)
            monkeypatch.setattr(torch.Tensor, name, self._wrap(name, original))
        original_to = torch.Tensor.to

        def to(t, *args, **kwargs):
            target = args[0] if args else kwargs.get("device")
            if str(target).startswith("cpu") and t.device.type != "cpu":
                self._record("to(cpu)")
            return original_to(t, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, "to", to)

    def _record(self, name):
        frame = sys._getframe(2)
        if frame.f_code.co_filename.startswith(GUARD_DIR):
            self.calls.append((name, frame.f_code.co_name))

    def _wrap(self, name, original):
        def wrapped(t, *args, **kwargs):
            self._record(name)
            return original(t, *args, **kwargs)

        return wrapped


def test_no_host_sync_per_step_in_the_default_policy(monkeypatch):
    model = _model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.StepLR(opt, 5)
    guard = TorchGuard(opt, sched, config=GuardConfig(check_every=10), console=None, read_cpu_flag=False)
    x, y = _data()
    counter = _SyncCounter(monkeypatch)
    per_step = []
    for step in range(30):
        xb = x.clone()
        if step == 13:
            xb[0, 0] = float("nan")
        loss = torch.nn.functional.mse_loss(model(xb), y)
        loss.backward()
        before = len(counter.calls)
        guard.step(loss)
        per_step.append(len(counter.calls) - before)
        opt.zero_grad()
    # the host reads the window once every check_every steps, never in between
    assert [i for i, n in enumerate(per_step) if n] == [9, 19, 29]
    assert all(n == 1 for n in per_step if n)
    assert counter.calls[0] == ("tolist", "_judge")
    assert guard.skipped_steps == [13]
    monkeypatch.undo()
    bool(torch.ones(()))  # the counter is gone


def test_counter_sees_a_sync():
    """The instrument itself works: a guard reading every step is counted every step."""
    mp = pytest.MonkeyPatch()
    try:
        counter = _SyncCounter(mp)
        model = _model()
        opt = torch.optim.SGD(model.parameters(), lr=1e-2)
        guard = TorchGuard(opt, config=GuardConfig(check_every=1), console=None, read_cpu_flag=False)
        x, y = _data()
        for _ in range(3):
            torch.nn.functional.mse_loss(model(x), y).backward()
            guard.step()
        assert len(counter.calls) == 3
    finally:
        mp.undo()


def test_internal_error_is_reported_once_and_the_guard_turns_off():
    def broken_plan(step):
        raise RuntimeError("plan broke")

    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=1e-2)
    guard = TorchGuard(opt, plan=broken_plan, console=None)
    x, y = _data()
    for _ in range(4):
        torch.nn.functional.mse_loss(model(x), y).backward()
        guard.step()
        opt.zero_grad()
    assert not guard.enabled and guard.global_step == 4
    (event,) = guard.events
    assert event.signal == "internal" and "plan broke" in event.message
    strict = TorchGuard(opt, plan=broken_plan, config=GuardConfig(strict=True), console=None)
    torch.nn.functional.mse_loss(model(x), y).backward()
    with pytest.raises(RuntimeError, match="plan broke"):
        strict.step()


def test_lr_vs_plan_uses_host_floats():
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, 3, gamma=0.5)
    plan = lambda s: [0.1 * 0.5 ** (s // 4)]  # noqa: E731 - a plan one step off the scheduler
    guard = TorchGuard(opt, sched, plan=plan, console=None)
    x, y = _data()
    for _ in range(5):
        torch.nn.functional.mse_loss(model(x), y).backward()
        guard.step()
        opt.zero_grad()
    assert [e.step for e in guard.events if e.signal == "lr-off-plan"] == [3]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(("guarded", "ddp"), [(True, False), (False, False), (True, True)])
def test_ddp_nan_on_one_rank_is_skipped_on_every_rank(tmp_path, guarded, ddp):
    import torch.multiprocessing as mp

    import _guard_ddp

    ctx = mp.spawn(
        _guard_ddp.worker,
        args=(2, _free_port(), str(tmp_path), 5, 12, guarded, ddp),
        nprocs=2,
        join=False,
    )
    import time

    deadline = time.monotonic() + 120
    while not ctx.join(timeout=1):
        if time.monotonic() > deadline:
            for p in ctx.processes:
                p.kill()
            pytest.fail("a rank hung")
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    if guarded:
        assert r0["skipped"] == r1["skipped"] == [5]
        assert torch.equal(r0["weights"], r1["weights"])
        assert torch.isfinite(r0["weights"]).all()
    else:  # rank 1 is poisoned, rank 0 is not: the ranks disagree
        assert not torch.isfinite(r1["weights"]).all() and torch.isfinite(r0["weights"]).all()


# -- resume pre-flight ----------------------------------------------------------------------------------
def _scheduler(kind, opt):
    if kind == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, 40)
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 10) * (1 - s / 40))


def _session(steps, start=0, opt_state=None, sched_state=None, guard_kwargs=None, kind="cosine"):
    """A session; resumed as people write it (optimizer state, then a scheduler built, then its state if given).

    A correct resume (``sched_state`` given) builds the scheduler *before* loading the optimizer:
    a scheduler's constructor writes the LR of its position 0 into the param groups, and its
    ``load_state_dict`` does not write it back.
    """
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    if sched_state is not None:
        sched = _scheduler(kind, opt)
        opt.load_state_dict(opt_state)
        sched.load_state_dict(sched_state)
    else:
        if opt_state is not None:
            opt.load_state_dict(opt_state)
        sched = _scheduler(kind, opt)
    guard = TorchGuard(opt, sched, step=start, console=None, **(guard_kwargs or {}))
    x, y = _data()
    lrs = []  # the LR each optimizer step actually used
    opt.register_step_pre_hook(lambda o, *_: lrs.append(o.param_groups[0]["lr"]))
    for _ in range(steps):
        torch.nn.functional.mse_loss(model(x), y).backward()
        guard.step()
        opt.zero_grad()
    return opt, sched, guard, lrs


def _first_session(kind="cosine"):
    opt, sched, _, lrs = _session(20, kind=kind)
    return copy.deepcopy(opt.state_dict()), copy.deepcopy(sched.state_dict()), lrs


@pytest.mark.parametrize("kind", ["lambda", "cosine"])
def test_preflight_catches_a_fresh_scheduler_after_optimizer_load_state_dict(kind):
    opt_state, sched_state, _ = _first_session(kind)
    prev = PreviousSession.from_scheduler_state(sched_state)
    _, _, guard, lrs = _session(3, 20, opt_state, None, {"previous": prev}, kind)
    (event,) = guard.events
    assert (event.step, event.signal, event.action) == (20, "resume", "warn")
    assert "scheduler.load_state_dict" in event.message
    if kind == "lambda":  # the LR itself jumps back to the warmup's start
        assert math.isclose(event.expected, sched_state["_last_lr"][0]) and event.value == lrs[0]
    else:  # a fresh chainable cosine keeps the loaded LR for one step, at the wrong position
        assert "position 0" in event.message and event.expected == 20


@pytest.mark.parametrize("kind", ["lambda", "cosine"])
def test_preflight_is_silent_on_a_correct_resume(kind):
    opt_state, sched_state, _ = _first_session(kind)
    prev = PreviousSession.from_scheduler_state(sched_state)
    _, _, guard, _ = _session(3, 20, opt_state, sched_state, {"previous": prev}, kind)
    assert guard.events == []


def test_preflight_stop_exits_before_the_first_step():
    opt_state, sched_state, _ = _first_session()
    prev = PreviousSession.from_scheduler_state(sched_state)
    cfg = GuardConfig(policy="stop")
    with pytest.raises(GuardStop, match=r"scheduler\.load_state_dict"):
        _session(1, 20, opt_state, None, {"previous": prev, "config": cfg})


@pytest.mark.parametrize("kind", ["lambda", "cosine"])
def test_preflight_continue_curve_continues_the_lr(kind):
    opt_state, sched_state, _ = _first_session(kind)
    _, _, _, straight = _session(23, kind=kind)
    prev = PreviousSession.from_scheduler_state(sched_state)
    cfg = GuardConfig(policy="continue-curve")
    _, sched, guard, lrs = _session(3, 20, opt_state, None, {"previous": prev, "config": cfg}, kind)
    assert [e.action for e in guard.events] == ["continue-curve", "continue-curve"]  # the finding, then the move
    assert "replayed from position 0 to 20" in guard.events[1].message
    assert lrs == pytest.approx(straight[20:23], rel=1e-9)
    assert sched.last_epoch == 23


def test_preflight_from_a_logged_run():
    from types import SimpleNamespace

    import numpy as np

    from lrguard.model import Axis, AxisUnit

    _, _, lrs = _first_session()
    run = SimpleNamespace(
        path="prev-run", lr=np.array([*lrs, math.nan])[:, None], axis=Axis(AxisUnit.STEP, np.arange(21)), epochs=None
    )
    prev = PreviousSession.from_run(run)
    assert prev.step == 19 and prev.lrs == (lrs[-1],)
    opt_state, _, _ = _first_session()
    _, _, guard, _ = _session(1, 20, opt_state, None, {"previous": prev})
    assert [e.signal for e in guard.events] == ["resume"]


def test_spike_skip_is_refused_at_start():
    opt = torch.optim.SGD(_model().parameters(), lr=0.1)
    with pytest.raises(ValueError, match="not implemented in the torch adapter"):
        TorchGuard(opt, config=GuardConfig(actions={"grad-spike": "skip"}, check_every=1), console=None)


def test_spike_is_logged_at_its_step():
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    guard = TorchGuard(opt, config=GuardConfig(check_every=7), console=None)
    x, y = _data()
    for step in range(20):
        scale = 100.0 if step == 15 else 1.0
        loss = torch.nn.functional.mse_loss(model(x) * scale, y * scale)
        loss.backward()
        guard.step(loss)
        opt.zero_grad()
    guard.close()
    assert {(e.step, e.signal, e.action) for e in guard.events} >= {
        (15, "loss-spike", "log"),
        (15, "grad-spike", "log"),
    }
    assert guard.skipped_steps == []


def test_grad_scaler_nan_step_is_skipped():
    model = _model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    scaler = torch.amp.GradScaler("cpu", init_scale=8.0)
    guard = TorchGuard(opt, scaler=scaler, config=GuardConfig(check_every=4), console=None)
    x, y = _data()
    for step in range(10):
        xb = x.clone()
        if step == 6:
            xb[0, 0] = float("nan")
        loss = torch.nn.functional.mse_loss(model(xb), y)
        scaler.scale(loss).backward()
        guard.step(loss)
        opt.zero_grad()
    guard.close()
    assert guard.skipped_steps == [6]
    assert all(torch.isfinite(p).all() for p in model.parameters())
