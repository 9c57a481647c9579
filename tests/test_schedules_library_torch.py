"""The torch.optim.lr_scheduler closed forms against the real torch schedulers, step by step.

Each example builds the real optimizer and scheduler on dummy parameters, steps it, saves
``scheduler.state_dict()`` + ``optimizer.state_dict()`` through torch.save at a drawn step,
builds a fresh pair, loads both and steps on; the closed form (built from the constructor
arguments) must give every LR of the straight run, and the schedule rebuilt by
``from_torch_state_dict`` from the saved state must give every LR after the resume.

Tolerance: torch steps most of these by a recursive (chainable) form, so the LR drifts from the
closed form by rounding: ``CHAIN_REL`` of the group's base LR bounds it (observed: ~1e-15).
Schedules torch evaluates directly (OneCycleLR, CosineAnnealingWarmRestarts) must be bitwise
equal.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from _needs import needs

torch = needs("torch")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lrguard.schedules.library as lib
from _sched_torch import assert_lrs_close, make_optimizer, torch_run

S = torch.optim.lr_scheduler
CHAIN_REL = 1e-9
EXACT = 0.0
SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass
class Case:
    """A real scheduler factory, the closed form expected for it, and the tolerance."""

    make: Callable[[Any], Any]
    closed: lib.Schedule
    rel: float
    n_max: int = 60


bases_st = st.lists(st.floats(1e-4, 1.0), min_size=1, max_size=3).map(tuple)
gamma_st = st.floats(0.05, 1.0)


# --- one strategy per family: (base_lrs) -> Case; children also reused by Sequential / Chained ---


def step_case(b, draw):
    size, gamma = draw(st.integers(1, 10)), draw(gamma_st)
    return Case(lambda o: S.StepLR(o, step_size=size, gamma=gamma), lib.StepLR(b, size, gamma), CHAIN_REL)


def multistep_case(b, draw):
    ms, gamma = draw(st.lists(st.integers(1, 50), max_size=5)), draw(gamma_st)
    return Case(lambda o: S.MultiStepLR(o, milestones=ms, gamma=gamma), lib.MultiStepLR(b, tuple(ms), gamma), CHAIN_REL)


def exponential_case(b, draw):
    gamma = draw(st.floats(0.8, 1.0))
    return Case(lambda o: S.ExponentialLR(o, gamma=gamma), lib.ExponentialLR(b, gamma), CHAIN_REL)


def constant_case(b, draw):
    factor, total = draw(st.floats(0.01, 1.0)), draw(st.integers(1, 20))
    return Case(
        lambda o: S.ConstantLR(o, factor=factor, total_iters=total), lib.ConstantLR(b, factor, total), CHAIN_REL
    )


def linear_case(b, draw):
    start, end, total = draw(st.floats(0.01, 1.0)), draw(st.floats(0.0, 1.0)), draw(st.integers(1, 20))
    return Case(
        lambda o: S.LinearLR(o, start_factor=start, end_factor=end, total_iters=total),
        lib.LinearLR(b, start, end, total),
        CHAIN_REL,
    )


def polynomial_case(b, draw):
    total, power = draw(st.integers(1, 30)), draw(st.floats(0.5, 3.0))
    return Case(
        lambda o: S.PolynomialLR(o, total_iters=total, power=power), lib.PolynomialLR(b, total, power), CHAIN_REL
    )


def cosine_case(b, draw):
    t_max, frac = draw(st.integers(1, 30)), draw(st.floats(0.0, 1.0))
    eta = frac * min(b)
    return Case(
        lambda o: S.CosineAnnealingLR(o, T_max=t_max, eta_min=eta), lib.CosineAnnealingLR(b, t_max, eta), CHAIN_REL
    )


def restarts_case(b, draw):
    t0, mult, frac = draw(st.integers(1, 10)), draw(st.integers(1, 3)), draw(st.floats(0.0, 1.0))
    eta = frac * min(b)
    return Case(
        lambda o: S.CosineAnnealingWarmRestarts(o, T_0=t0, T_mult=mult, eta_min=eta),
        lib.CosineAnnealingWarmRestarts(b, t0, mult, eta),
        EXACT,
    )


def onecycle_case(b, draw):
    total = draw(st.integers(10, 60))
    three = draw(st.booleans())
    pct = draw(st.floats(2.0 / total, 0.45 if three else 0.9))
    strategy = draw(st.sampled_from(["cos", "linear"]))
    div, final = draw(st.floats(2.0, 50.0)), draw(st.floats(10.0, 1e4))
    peaks = tuple(b)
    kwargs = dict(
        total_steps=total,
        pct_start=pct,
        anneal_strategy=strategy,
        div_factor=div,
        final_div_factor=final,
        three_phase=three,
    )
    return Case(
        lambda o: S.OneCycleLR(o, max_lr=list(peaks), **kwargs),
        lib.OneCycleLR.from_args(peaks, **kwargs),
        EXACT,
        n_max=total,
    )


MULTIPLICATIVE = [step_case, multistep_case, exponential_case, constant_case, linear_case, polynomial_case]
CHILDREN = [*MULTIPLICATIVE, cosine_case, restarts_case]


def sequential_case(b, draw):
    kids = [draw(st.sampled_from(CHILDREN))(b, draw) for _ in range(draw(st.integers(1, 3)))]
    gaps = draw(st.lists(st.integers(1, 25), min_size=len(kids) - 1, max_size=len(kids) - 1))
    milestones = [sum(gaps[: i + 1]) for i in range(len(gaps))]

    def make(o):
        return S.SequentialLR(o, schedulers=[k.make(o) for k in kids], milestones=milestones)

    rel = max(k.rel for k in kids) or EXACT
    return Case(make, lib.SequentialLR(tuple(k.closed for k in kids), tuple(milestones)), max(rel, CHAIN_REL))


def chained_case(b, draw):
    kids = [draw(st.sampled_from(MULTIPLICATIVE))(b, draw) for _ in range(draw(st.integers(1, 3)))]

    def make(o):
        return S.ChainedScheduler([k.make(o) for k in kids], optimizer=o)

    return Case(make, lib.ChainedScheduler(tuple(k.closed for k in kids)), CHAIN_REL)  # type: ignore[arg-type]


FAMILIES = {f.__name__.removesuffix("_case"): f for f in [*CHILDREN, onecycle_case, sequential_case, chained_case]}


def peak_scale(closed: lib.Schedule) -> tuple[float, ...]:
    """Per group, the largest LR the schedule can reach (the yardstick of the tolerance)."""
    if isinstance(closed, lib.OneCycleLR):
        return closed.max_lrs
    if isinstance(closed, lib.SequentialLR):
        return tuple(max(s) for s in zip(*(peak_scale(c) for c in closed.children), strict=True))
    return tuple(closed.base_lrs)  # type: ignore[attr-defined]


@st.composite
def cases(draw, family: str):
    b = draw(bases_st)
    case = FAMILIES[family](b, draw)
    n = draw(st.integers(0, case.n_max))
    k = draw(st.integers(0, n))
    return case, n, k


@pytest.mark.parametrize("family", sorted(FAMILIES))
@SETTINGS
@given(data=st.data())
def test_closed_form_matches_torch_step_by_step_and_through_a_resume(family, data):
    case, n, k = data.draw(cases(family))
    run = torch_run(_bases(case), case.make, n, k)
    scale = peak_scale(case.closed)
    for p, got in enumerate(run.straight):
        assert_lrs_close(got, case.closed.lrs(p), scale, case.rel, f"{family} straight p={p}")
    rebuilt = lib.from_torch_state_dict(run.class_name, run.scheduler_state, optimizer_state_dict=run.optimizer_state)
    assert rebuilt == case.closed
    assert lib.from_torch_state_dict(None, run.scheduler_state, optimizer_state_dict=run.optimizer_state) == rebuilt
    for j, got in enumerate(run.resumed):
        assert_lrs_close(got, rebuilt.lrs(k + j), scale, case.rel, f"{family} resumed at {k}, p={k + j}")


def _bases(case: Case) -> tuple[float, ...]:
    c = case.closed
    while isinstance(c, lib.SequentialLR | lib.ChainedScheduler):
        c = c.children[0]
    return tuple(c.base_lrs)  # type: ignore[attr-defined]


FAMILY_CLASS = {
    "step": "StepLR",
    "multistep": "MultiStepLR",
    "exponential": "ExponentialLR",
    "constant": "ConstantLR",
    "linear": "LinearLR",
    "polynomial": "PolynomialLR",
    "cosine": "CosineAnnealingLR",
    "restarts": "CosineAnnealingWarmRestarts",
    "onecycle": "OneCycleLR",
    "sequential": "SequentialLR",
    "chained": "ChainedScheduler",
}


def test_every_torch_schedule_has_a_property_tested_family():
    assert set(FAMILY_CLASS) == set(FAMILIES)
    assert set(FAMILY_CLASS.values()) == set(lib.TORCH_SCHEDULES)


# --- known divergences of torch's recursive (chainable) form, documented in docs/schedules.md ---


def _step(opt, sched, times):
    for _ in range(times):
        opt.step()
        sched.step()


def test_recursive_cosine_follows_an_external_lr_change_the_closed_form_does_not():
    opt = make_optimizer((0.1,))
    sched = S.CosineAnnealingLR(opt, T_max=20, eta_min=0.001)
    closed = lib.CosineAnnealingLR((0.1,), T_max=20, eta_min=0.001)
    _step(opt, sched, 5)
    assert math.isclose(opt.param_groups[0]["lr"], closed.lrs(5)[0], rel_tol=1e-12)
    opt.param_groups[0]["lr"] *= 0.5  # e.g. a warmup or a hand edit writing group["lr"]
    changed = opt.param_groups[0]["lr"]
    _step(opt, sched, 1)
    ratio = (1 + math.cos(math.pi * 6 / 20)) / (1 + math.cos(math.pi * 5 / 20))
    assert math.isclose(opt.param_groups[0]["lr"], 0.001 + (changed - 0.001) * ratio, rel_tol=1e-12)
    assert abs(opt.param_groups[0]["lr"] - closed.lrs(6)[0]) > 0.01


def test_recursive_steplr_keeps_an_external_scale_the_closed_form_does_not():
    opt = make_optimizer((0.1,))
    sched = S.StepLR(opt, step_size=3, gamma=0.5)
    _step(opt, sched, 2)
    opt.param_groups[0]["lr"] = 0.02
    _step(opt, sched, 1)  # position 3: the recursion halves whatever is there
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01)
    assert lib.StepLR((0.1,), 3, 0.5).lrs(3)[0] == pytest.approx(0.05)


def test_constantlr_with_zero_total_iters_never_restores_in_torch_but_its_closed_form_does():
    # torch's own _get_closed_form_lr agrees with lrguard (factor 1 from position 0); its
    # step() applies the factor at position 0 and never undoes it.
    opt = make_optimizer((0.1,))
    sched = S.ConstantLR(opt, factor=0.5, total_iters=0)
    _step(opt, sched, 3)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05)
    assert lib.ConstantLR((0.1,), 0.5, 0).lrs(3) == (0.1,)


def test_recursive_drift_over_a_long_cosine_run_is_far_below_the_bound():
    opt = make_optimizer((0.1,))
    sched = S.CosineAnnealingLR(opt, T_max=1000, eta_min=1e-5)
    closed = lib.CosineAnnealingLR((0.1,), T_max=1000, eta_min=1e-5)
    worst = 0.0
    for p in range(1, 3001):
        opt.step()
        sched.step()
        worst = max(worst, abs(opt.param_groups[0]["lr"] - closed.lrs(p)[0]) / 0.1)
    assert worst < CHAIN_REL
