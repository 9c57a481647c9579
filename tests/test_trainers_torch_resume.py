"""The plain-loop resume verdict against real torch: the LR it predicts is the LR the real resume uses.

Each case trains a tiny ``nn.Linear`` with a real ``torch.optim.lr_scheduler`` scheduler, saves
``{"model", "optimizer", "scheduler", "step"}`` with ``torch.save``, reads it back with
``lrguard ckpt``'s non-executing inspector, then resumes for real (optimizer and scheduler
constructed, their state loaded, one more step) and compares.
"""

from __future__ import annotations

import pytest

from _needs import needs

torch = needs("torch")

from lrguard.checkpoint.inspect import inspect_path

pytestmark = pytest.mark.trainers
S = torch.optim.lr_scheduler


def _seq(o):
    return S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, total_iters=4), S.CosineAnnealingLR(o, T_max=10)], [4])


CASES = {
    "step": (lambda o: S.StepLR(o, step_size=3, gamma=0.5), 7),
    "multistep": (lambda o: S.MultiStepLR(o, milestones=[2, 5, 5], gamma=0.3), 6),
    "exponential": (lambda o: S.ExponentialLR(o, gamma=0.9), 5),
    "linear-warmup": (lambda o: S.LinearLR(o, start_factor=0.2, total_iters=8), 3),
    "constant": (lambda o: S.ConstantLR(o, factor=0.5, total_iters=4), 3),
    "polynomial": (lambda o: S.PolynomialLR(o, total_iters=10, power=2.0), 6),
    "cosine": (lambda o: S.CosineAnnealingLR(o, T_max=12, eta_min=0.001), 5),
    "cosine-past-end": (lambda o: S.CosineAnnealingLR(o, T_max=6), 9),
    "warm-restarts": (lambda o: S.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2), 7),
    "onecycle": (lambda o: S.OneCycleLR(o, max_lr=0.5, total_steps=12), 5),
    "onecycle-last": (lambda o: S.OneCycleLR(o, max_lr=0.5, total_steps=12), 11),
    "sequential": (_seq, 7),
}


def _train(build, steps, groups=2):
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 1)
    params = [{"params": [model.weight]}, {"params": [model.bias], "lr": 0.05}][:groups]
    opt = torch.optim.SGD(params, lr=0.1, momentum=0.9)
    sched = build(opt) if build else None
    x = torch.randn(8, 2)
    for _ in range(steps):
        opt.zero_grad()
        model(x).pow(2).mean().backward()
        opt.step()
        if sched is not None:
            sched.step()
    return model, opt, sched


def _save(tmp_path, name, model, opt, sched, step):
    path = tmp_path / f"{name}.pt"
    ckpt = {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step}
    if sched is not None:
        ckpt["scheduler"] = sched.state_dict()
    torch.save(ckpt, path)
    return path


def _resume(path, build, load_scheduler=True, scheduler_first=True):
    """The conventional resume: construct, load, then one optimizer step and one scheduler step.

    ``scheduler_first``: the scheduler is constructed before ``optimizer.load_state_dict()`` (the
    documented order); otherwise after it.
    """
    ckpt = torch.load(path, weights_only=True)
    model, opt, _ = _train(None, 0)
    sched = build(opt) if scheduler_first else None
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["optimizer"])
    if sched is None:
        sched = build(opt)
    if load_scheduler:
        sched.load_state_dict(ckpt["scheduler"])
    used = [g["lr"] for g in opt.param_groups]
    opt.step()
    sched.step()
    return used, [g["lr"] for g in opt.param_groups]


@pytest.mark.parametrize("name", list(CASES))
def test_predicted_lrs_are_the_real_resume(tmp_path, name):
    build, steps = CASES[name]
    path = _save(tmp_path, name, *_train(build, steps), steps)
    res = inspect_path(path)["resume"]
    used, after = _resume(path, build)
    assert res["verdict"] == "seamless", res
    assert res["schedule"]["lrs"] == pytest.approx(used, rel=1e-12)  # the first resumed step
    assert res["schedule"]["next_lr"] == pytest.approx(after, rel=1e-6)  # after its scheduler.step()
    past = any("past its end" in p for p in res["problems"])
    assert past is (name in ("cosine-past-end", "onecycle-last"))


def test_onecycle_at_total_steps_is_refused_and_torch_does_raise(tmp_path):
    build = CASES["onecycle"][0]
    path = _save(tmp_path, "oc", *_train(build, 12), 12)
    assert inspect_path(path)["resume"]["verdict"] == "refuse"
    with pytest.raises(ValueError, match="Tried to step"):
        _resume(path, build)


def _warmup(o):
    return S.LambdaLR(o, lambda s: min(1.0, (s + 1) / 5))


def test_unsaved_scheduler_is_a_jump_and_a_fresh_scheduler_does_restart(tmp_path):
    model, opt, _ = _train(_warmup, 8)
    path = _save(tmp_path, "nosched", model, opt, None, 8)
    res = inspect_path(path)["resume"]
    assert res["verdict"] == "jump" and res["problems"] == ["no scheduler state"]
    assert res["jump"]["lr_before"] == pytest.approx(0.1) and res["schedule"]["initial_lrs"] == pytest.approx(
        [0.1, 0.05]
    )
    _, after = _resume(path, _warmup, load_scheduler=False)
    assert after[0] == pytest.approx(0.1 * 2 / 5)  # the warmup again: lambda(1) x base, not 0.1


def test_the_order_the_verdict_assumes_matters_in_real_torch(tmp_path):
    build, steps = CASES["linear-warmup"]
    path = _save(tmp_path, "order", *_train(build, steps), steps)
    res = inspect_path(path)["resume"]
    assert any("constructed before optimizer.load_state_dict()" in d for d in res["details"])
    used, _ = _resume(path, build, scheduler_first=False)
    assert used == pytest.approx([x * 0.2 for x in res["schedule"]["lrs"]])  # x start_factor, as the note says


def test_reduce_on_plateau_resumes_seamlessly(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = S.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    for loss in (1.0, 1.0, 1.0):
        opt.step()
        sched.step(loss)
    path = _save(tmp_path, "plateau", model, opt, sched, 3)
    res = inspect_path(path)["resume"]
    assert res["verdict"] == "seamless" and res["schedule"]["scheduler"] == "ReduceLROnPlateau"
    assert res["schedule"]["lrs"] == pytest.approx([g["lr"] for g in opt.param_groups])
