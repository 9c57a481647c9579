"""The torch adapter's lower-lr and stop rungs, on real optimizers and schedulers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from _needs import needs

torch = needs("torch")

from lrguard.guard.config import GuardConfig
from lrguard.guard.core import GuardStop
from lrguard.guard.torch_adapter import TorchGuard

SRC = Path(__file__).resolve().parents[1] / "src"


def _run(cfg, scheduler, steps=30, spike=15):
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = scheduler(opt)
    used = []
    opt.register_step_pre_hook(lambda o, *_: used.append(o.param_groups[0]["lr"]))
    guard = TorchGuard(opt, sched, config=cfg, console=None)
    x, y = torch.randn(16, 4), torch.randn(16, 1)
    for step in range(steps):
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        seen = loss.detach() + (1000.0 if step == spike else 0.0)  # a loss spike that leaves the gradient alone
        guard.step(seen)
        opt.zero_grad()
    guard.close()
    return used, guard


@pytest.mark.parametrize(
    "scheduler",
    [
        lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda s: 1.0 - s / 40),  # recomputes from base_lrs
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 40),  # chainable: builds on the group's LR
        lambda o: None,
    ],
    ids=["lambda", "cosine", "none"],
)
def test_lower_lr_scales_exactly_k_steps_and_leaves_the_schedule_alone(scheduler):
    plain, _ = _run(GuardConfig(check_every=1), scheduler)
    cfg = GuardConfig(actions={"loss-spike": "lower-lr"}, check_every=1, lower_lr_steps=4, lower_lr_factor=0.5)
    lowered, guard = _run(cfg, scheduler)
    assert [(e.step, e.action) for e in guard.events if e.signal == "loss-spike"] == [(15, "lower-lr")]
    for step, (a, b) in enumerate(zip(plain, lowered, strict=True)):
        expected = a * 0.5 if 16 <= step < 20 else a
        assert b == pytest.approx(expected, rel=1e-12), (step, a, b)


def test_spike_stop_raises_with_the_step_and_a_script_exits_non_zero():
    cfg = GuardConfig(actions={"loss-spike": "stop"}, check_every=5)
    with pytest.raises(GuardStop, match="loss explosion"):
        _run(cfg, lambda o: None)
    code = (
        "import torch\n"
        "from lrguard.guard.config import GuardConfig\n"
        "from lrguard.guard.torch_adapter import TorchGuard\n"
        "m = torch.nn.Linear(2, 1); opt = torch.optim.SGD(m.parameters(), lr=0.1)\n"
        "g = TorchGuard(opt, config=GuardConfig(actions={'loss-spike': 'stop'}, check_every=1))\n"
        "for s in range(20):\n"
        "    loss = m(torch.ones(1, 2) * (1e4 if s == 12 else 1)).pow(2).sum(); loss.backward(); g.step(loss)\n"
        "    opt.zero_grad()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(SRC)}, capture_output=True, text=True)
    assert proc.returncode != 0
    assert "GuardStop" in proc.stderr and "step 12: loss-spike -> stop" in proc.stderr
