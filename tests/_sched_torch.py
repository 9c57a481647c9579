"""Drive a real torch / transformers / timm scheduler step by step, through a save and a resume.

Used by tests/test_schedules_library*.py. Every run builds a real optimizer on dummy parameters
(one per param group, each with its own LR), so what is compared is what the library really
writes into ``param_group["lr"]``.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

MakeScheduler = Callable[[torch.optim.Optimizer], Any]


def make_optimizer(base_lrs: tuple[float, ...], *, momentum: float = 0.9) -> torch.optim.Optimizer:
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in base_lrs]
    return torch.optim.SGD(groups, lr=base_lrs[0], momentum=momentum)


def group_lrs(opt: torch.optim.Optimizer) -> tuple[float, ...]:
    return tuple(float(g["lr"]) for g in opt.param_groups)


def through_disk(obj: Any) -> Any:
    """Round-trip through torch.save / torch.load, as a checkpoint on disk would."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=False)


@dataclass
class ResumedRun:
    """LRs of an uninterrupted run and of the same run saved at ``k`` and resumed."""

    straight: list[tuple[float, ...]]  # straight[p]: LRs at position p, p = 0..n
    resumed: list[tuple[float, ...]]  # resumed[j]: LRs at position k + j after the resume, j = 0..n-k
    scheduler_state: dict[str, Any]
    optimizer_state: dict[str, Any]
    class_name: str


def torch_run(base_lrs: tuple[float, ...], make: MakeScheduler, n: int, k: int) -> ResumedRun:
    """Step a torch scheduler ``n`` times; save at ``k``; rebuild, load and step to ``n`` again."""
    opt = make_optimizer(base_lrs)
    sched = make(opt)
    straight = [group_lrs(opt)]
    saved: tuple[dict[str, Any], dict[str, Any]] | None = None
    for p in range(1, n + 1):
        if p - 1 == k:
            saved = through_disk((sched.state_dict(), opt.state_dict()))
        opt.step()
        sched.step()
        straight.append(group_lrs(opt))
    if saved is None:  # k == n
        saved = through_disk((sched.state_dict(), opt.state_dict()))
    sched_state, opt_state = saved
    # A fresh process: same construction, then the optimizer state, then the scheduler state.
    opt2 = make_optimizer(base_lrs)
    sched2 = make(opt2)
    opt2.load_state_dict(copy.deepcopy(opt_state))
    sched2.load_state_dict(copy.deepcopy(sched_state))
    resumed = [group_lrs(opt2)]
    for _ in range(k, n):
        opt2.step()
        sched2.step()
        resumed.append(group_lrs(opt2))
    return ResumedRun(straight, resumed, sched_state, opt_state, type(sched).__name__)


def assert_lrs_close(got: tuple[float, ...], want: tuple[float, ...], scale: tuple[float, ...], rel: float, where: str):
    """``|got - want| <= rel * scale`` per group (``rel = 0``: bitwise equal)."""
    assert len(got) == len(want), where
    for g, (a, b, s) in enumerate(zip(got, want, scale, strict=True)):
        if rel == 0:
            assert a == b, f"{where} group {g}: library {a!r} != closed form {b!r}"
        else:
            assert abs(a - b) <= rel * s, f"{where} group {g}: library {a!r} vs closed form {b!r} (scale {s})"
