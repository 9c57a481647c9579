"""timm's ``CosineLRScheduler`` against the closed form, step by step and through a resume.

timm's ``_get_lr(t)`` is itself a closed form, so the values must be bitwise equal. The loop
calls ``step(t)`` (``t_in_epochs``) or ``step_update(t)`` for ``t = 0..n``; at ``k`` it saves
both state dicts through torch.save, builds a fresh optimizer + scheduler, loads them and carries
on; the schedule ``from_timm_state_dict`` rebuilds must give every later LR.
"""

from __future__ import annotations

from _needs import needs

torch = needs("torch")
timm_scheduler = needs("timm.scheduler")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lrguard.schedules.library as lib
from _sched_torch import assert_lrs_close, group_lrs, through_disk

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def optimizer(bases, scales):
    groups = []
    for lr, scale in zip(bases, scales, strict=True):
        group = {"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr}
        if scale is not None:
            group["lr_scale"] = scale
        groups.append(group)
    return torch.optim.SGD(groups, lr=bases[0], momentum=0.9)


@st.composite
def configs(draw):
    bases = tuple(draw(st.lists(st.floats(1e-4, 1.0), min_size=1, max_size=3)))
    scales = tuple(draw(st.none() | st.floats(0.1, 2.0)) for _ in bases)
    low = min(bases)
    kwargs = {
        "t_initial": draw(st.integers(1, 30)),
        "lr_min": draw(st.floats(0.0, 1.0)) * low,
        "cycle_mul": draw(st.sampled_from([1.0, 2.0]) | st.floats(1.0, 3.0)),
        "cycle_decay": draw(st.floats(0.3, 1.0)),
        "cycle_limit": draw(st.integers(1, 4)),
        "warmup_t": draw(st.integers(0, 10)),
        "warmup_lr_init": draw(st.floats(0.0, 1.0)) * low,
        "warmup_prefix": draw(st.booleans()),
        "t_in_epochs": draw(st.booleans()),
        "k_decay": draw(st.sampled_from([1.0]) | st.floats(0.5, 2.0)),
    }
    n = draw(st.integers(0, 80))
    return bases, scales, kwargs, n, draw(st.integers(0, n))


def advance(sched, t, in_epochs):
    if in_epochs:
        sched.step(t)
    else:
        sched.step_update(t)


@SETTINGS
@given(configs())
def test_timm_cosine_matches_closed_form_step_by_step_and_through_a_resume(config):
    bases, scales, kwargs, n, k = config
    closed = lib.TimmCosineLR(bases, **kwargs, lr_scales=scales if any(s is not None for s in scales) else None)
    peak = tuple(b * (s or 1.0) for b, s in zip(bases, scales, strict=True))
    opt = optimizer(bases, scales)
    sched = timm_scheduler.CosineLRScheduler(opt, **kwargs)
    saved = None
    for t in range(n + 1):
        advance(sched, t, kwargs["t_in_epochs"])
        assert_lrs_close(group_lrs(opt), closed.lrs(t), peak, 0.0, f"straight t={t}")
        if t == k:
            saved = through_disk((sched.state_dict(), opt.state_dict()))
    sched_state, opt_state = saved
    opt2 = optimizer(bases, scales)
    sched2 = timm_scheduler.CosineLRScheduler(opt2, **kwargs)
    opt2.load_state_dict(opt_state)
    sched2.load_state_dict(sched_state)
    rebuilt = lib.from_timm_state_dict(type(sched).__name__, sched_state, optimizer_state_dict=opt_state)
    assert rebuilt == closed
    assert_lrs_close(group_lrs(opt2), rebuilt.lrs(k), peak, 0.0, f"loaded at t={k}")
    for t in range(k + 1, n + 1):
        advance(sched2, t, kwargs["t_in_epochs"])
        assert_lrs_close(group_lrs(opt2), rebuilt.lrs(t), peak, 0.0, f"resumed at {k}, t={t}")


def test_lr_noise_is_refused():
    opt = optimizer((0.1,), (None,))
    sched = timm_scheduler.CosineLRScheduler(opt, t_initial=10, noise_range_t=(2, 5))
    try:
        lib.from_timm_state_dict("CosineLRScheduler", sched.state_dict())
    except lib.NotRebuildable as exc:
        assert "noise" in str(exc)
    else:
        raise AssertionError("a noisy timm schedule was rebuilt")
