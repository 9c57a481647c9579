"""The guard through torch's optimizer step hooks: the training loop keeps its own optimizer.step()."""

from __future__ import annotations

import pytest

from _needs import needs

torch = needs("torch")

from lrguard.guard.config import GuardConfig
from lrguard.guard.hooks_adapter import attach, attached, install_global, uninstall_global
from lrguard.guard.torch_adapter import TorchGuard
from test_guard_torch import _assert_identical, _data, _model, _optimizer, _state, _SyncCounter


def _loop(opt, model, steps, nan_step=None, scaler=None, snapshots=None):
    x, y = _data()
    for step in range(steps):
        xb = x.clone()
        if step == nan_step:
            xb[2, 3] = float("nan")
        loss = torch.nn.functional.mse_loss(model(xb), y)
        if snapshots is not None:
            snapshots[step] = _state(model, opt)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()
        opt.zero_grad()
        if snapshots is not None:
            snapshots[step + 1] = _state(model, opt)


@pytest.mark.parametrize("read_cpu_flag", [True, False], ids=["cpu-read", "device-path"])
@pytest.mark.parametrize("opt_name", ["adam", "adamw-foreach", "sgd-momentum"])
def test_nan_step_is_skipped_bit_exactly_through_the_hooks(opt_name, read_cpu_flag):
    model = _model()
    opt = _optimizer(opt_name, model)
    hooks = attach(opt, config=GuardConfig(check_every=5), console=None, read_cpu_flag=read_cpu_flag)
    snaps = {}
    _loop(opt, model, 12, nan_step=6, snapshots=snaps)
    hooks.close()
    assert hooks.skipped_steps == [6]
    _assert_identical(snaps[6], snaps[7])
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert attached(opt) is None and not opt._optimizer_step_pre_hooks  # close removed the hooks


def test_clean_run_is_bit_identical_with_the_hooks():
    plain, guarded = _model(), _model()
    opt_a, opt_b = _optimizer("adam", plain), _optimizer("adam", guarded)
    hooks = attach(opt_b, config=GuardConfig(check_every=3), console=None)
    _loop(opt_a, plain, 10)
    _loop(opt_b, guarded, 10)
    hooks.close()
    assert hooks.guard.events == []
    for a, b in zip(plain.parameters(), guarded.parameters(), strict=True):
        assert torch.equal(a, b)


def test_disabled_grad_scaler_steps_through_the_guard():
    """YOLOv5 on CPU: GradScaler(enabled=False).step(optimizer) is optimizer.step(): only the guard skips."""
    model = _model()
    opt = _optimizer("sgd-momentum", model)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    hooks = attach(opt, config=GuardConfig(check_every=4), console=None)
    snaps = {}
    _loop(opt, model, 8, nan_step=5, scaler=scaler, snapshots=snaps)
    hooks.close()
    assert hooks.skipped_steps == [5] and hooks.guard.global_step == 8
    _assert_identical(snaps[5], snaps[6])


def test_enabled_grad_scaler_skips_itself_and_the_guard_does_not_count_that_step():
    """AMP: the scaler finds the inf/NaN gradients and never calls optimizer.step, so the hooks never fire."""
    model = _model()
    opt = _optimizer("adam", model)
    scaler = torch.amp.GradScaler("cpu", init_scale=8.0)
    hooks = attach(opt, config=GuardConfig(check_every=4), console=None)
    _loop(opt, model, 8, nan_step=5, scaler=scaler)
    hooks.close()
    assert hooks.skipped_steps == [] and hooks.guard.global_step == 7
    assert scaler.get_scale() < 8.0  # the scaler's own back-off happened
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_no_host_sync_per_step_through_the_hooks(monkeypatch):
    model = _model()
    opt = _optimizer("adam", model)
    hooks = attach(opt, config=GuardConfig(check_every=10), console=None, read_cpu_flag=False)
    x, y = _data()
    counter = _SyncCounter(monkeypatch)
    per_step = []
    for step in range(20):
        xb = x.clone()
        if step == 13:
            xb[0, 0] = float("nan")
        loss = torch.nn.functional.mse_loss(model(xb), y)
        loss.backward()
        hooks.set_loss(loss)
        before = len(counter.calls)
        opt.step()
        per_step.append(len(counter.calls) - before)
        opt.zero_grad()
    monkeypatch.undo()
    assert [i for i, n in enumerate(per_step) if n] == [9, 19]
    assert hooks.skipped_steps == [13]
    hooks.close()


def test_closure_steps_are_reported_once_and_not_guarded():
    model = _model()
    opt = _optimizer("sgd-momentum", model)
    hooks = attach(opt, console=None)
    x, y = _data()

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        return loss

    for _ in range(3):
        opt.step(closure)
    hooks.close()
    (event,) = hooks.guard.events
    assert event.signal == "internal" and "closure" in event.message
    assert hooks.guard.global_step == 0


def test_global_hooks_guard_every_new_optimizer_but_not_one_guarded_already():
    install_global(GuardConfig(check_every=2), console=None)
    try:
        model = _model()
        opt = _optimizer("adam", model)
        own = _optimizer("sgd-momentum", _model())
        TorchGuard(own, console=None)
        _loop(opt, model, 6, nan_step=3)
        torch.nn.functional.mse_loss(own.param_groups[0]["params"][0].sum(), torch.zeros(())).backward()
        own.step()
        hooks = attached(opt)
        assert hooks is not None and attached(own) is None
    finally:
        uninstall_global()
    assert hooks.skipped_steps == [3]
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_attach_twice_is_refused():
    opt = _optimizer("adam", _model())
    hooks = attach(opt, console=None)
    with pytest.raises(ValueError, match="already"):
        attach(opt, console=None)
    hooks.close()


def test_on_cpu_a_clean_step_copies_nothing_and_reads_one_cpu_flag(monkeypatch):
    """The CPU path: the flag is a CPU tensor, read at each step (nothing to wait for); no copy unless it is bad."""
    model = _model()
    opt = _optimizer("adam", model)
    hooks = attach(opt, config=GuardConfig(check_every=10), console=None)
    taken = []
    snapshot = hooks.guard._snapshot
    hooks.guard._snapshot = lambda: (taken.append(hooks.guard.global_step), snapshot())[1]
    x, y = _data()
    counter = _SyncCounter(monkeypatch)
    for step in range(6):
        xb = x.clone()
        if step == 4:
            xb[0, 0] = float("nan")
        torch.nn.functional.mse_loss(model(xb), y).backward()
        opt.step()
        opt.zero_grad()
    monkeypatch.undo()
    assert taken == [4]  # the copy is taken for the bad step only
    assert [name for name, _ in counter.calls] == ["__bool__"] * 6
    hooks.close()
    assert hooks.skipped_steps == [4]


def test_attach_next_guards_the_next_optimizer_once_or_adopts_the_zero_code_one():
    from lrguard.guard.hooks_adapter import attach_next

    got = []
    cancel = attach_next(got.append, console=None)
    model = _model()
    opt = _optimizer("sgd-momentum", model)
    _loop(opt, model, 3)
    other = _optimizer("adam", _model())
    torch.nn.functional.mse_loss(other.param_groups[0]["params"][0].sum(), torch.zeros(())).backward()
    other.step()
    cancel()
    assert len(got) == 1 and got[0] is attached(opt) and attached(other) is None  # one-shot
    got[0].close()

    install_global(console=None)
    try:
        adopted = []
        attach_next(adopted.append, console=None)
        model = _model()
        opt = _optimizer("adam", model)
        _loop(opt, model, 2)
        assert adopted == [attached(opt)] and adopted[0] is not None
    finally:
        uninstall_global()
