"""Every ``transformers.get_scheduler`` type against the real transformers 4.48 schedule.

The real scheduler comes from ``transformers.get_scheduler`` on a real optimizer; it is stepped,
saved through torch.save at a drawn step, rebuilt, loaded and stepped on. LambdaLR evaluates
``base_lr * lambda(step)`` directly, so the closed form must be bitwise equal, and the schedule
``from_torch_state_dict`` rebuilds from the LambdaLR state plus :class:`HFSchedulerArgs` must
give every LR after the resume.
"""

from __future__ import annotations

import pytest

from _needs import needs

torch = needs("torch")
transformers = needs("transformers")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transformers.optimization import get_scheduler
from transformers.trainer_utils import SchedulerType

import lrguard.schedules.library as lib
from _sched_torch import assert_lrs_close, make_optimizer, torch_run

SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
bases_st = st.lists(st.floats(1e-4, 1.0), min_size=1, max_size=3).map(tuple)


def specific_kwargs(name: str, bases: tuple[float, ...], draw) -> dict:
    if name == "cosine":
        return {"num_cycles": draw(st.floats(0.25, 2.0))}
    if name == "cosine_with_restarts":
        return {"num_cycles": draw(st.integers(1, 4))}
    if name == "polynomial":
        return {"lr_end": draw(st.floats(0.0, 0.9)) * bases[0], "power": draw(st.floats(0.5, 3.0))}
    if name == "cosine_with_min_lr":
        frac = draw(st.floats(0.0, 0.9))
        key = draw(st.sampled_from(["min_lr", "min_lr_rate"]))
        return {key: frac * bases[0] if key == "min_lr" else frac, "num_cycles": draw(st.floats(0.25, 1.0))}
    if name == "warmup_stable_decay":
        return {
            "num_stable_steps": draw(st.integers(0, 30)),
            "num_decay_steps": draw(st.integers(0, 30)),
            "min_lr_ratio": draw(st.floats(0.0, 0.9)),
            "num_cycles": draw(st.floats(0.25, 1.0)),
        }
    return {}


@pytest.mark.parametrize("name", sorted(lib.HF_TYPES))
@SETTINGS
@given(data=st.data())
def test_hf_closed_form_matches_get_scheduler_step_by_step_and_through_a_resume(name, data):
    draw = data.draw
    bases = draw(bases_st)
    warm = draw(st.integers(0, 20))
    total = draw(st.integers(warm + 1, 80))
    kwargs = specific_kwargs(name, bases, draw)
    n = draw(st.integers(0, total + 10))
    k = draw(st.integers(0, n))

    def make(opt):
        return get_scheduler(
            name, opt, num_warmup_steps=warm, num_training_steps=total, scheduler_specific_kwargs=dict(kwargs)
        )

    args = lib.HFSchedulerArgs(name, warm, total, kwargs, learning_rate=bases[0])
    closed = args.build(bases)
    run = torch_run(bases, make, n, k)
    for p, got in enumerate(run.straight):
        assert_lrs_close(got, closed.lrs(p), bases, 0.0, f"{name} straight p={p}")
    assert run.class_name == "LambdaLR"
    rebuilt = lib.from_torch_state_dict(run.class_name, run.scheduler_state, hf=args)
    assert rebuilt == closed
    for j, got in enumerate(run.resumed):
        assert_lrs_close(got, rebuilt.lrs(k + j), bases, 0.0, f"{name} resumed at {k}, p={k + j}")


def test_every_get_scheduler_type_is_covered_or_refused_with_a_reason():
    names = {t.value for t in SchedulerType}
    assert names == set(lib.HF_TYPES) | set(lib.NOT_CLOSED_FORM)


def test_reduce_lr_on_plateau_is_refused_both_by_name_and_from_its_state_dict():
    opt = make_optimizer((0.1,))
    sched = get_scheduler("reduce_lr_on_plateau", opt)
    with pytest.raises(lib.NotRebuildable, match="no closed form"):
        lib.HFSchedulerArgs("reduce_lr_on_plateau").build((0.1,))
    with pytest.raises(lib.NotRebuildable, match="ReduceLROnPlateau"):
        lib.from_torch_state_dict(type(sched).__name__, sched.state_dict())
    with pytest.raises(lib.NotRebuildable, match="ReduceLROnPlateau"):
        lib.from_torch_state_dict(None, sched.state_dict())


def test_a_lambdalr_state_alone_is_refused_with_what_to_pass():
    opt = make_optimizer((0.1,))
    sched = get_scheduler("linear", opt, num_warmup_steps=2, num_training_steps=10)
    state = sched.state_dict()
    assert state["lr_lambdas"] == [{}]  # the partial's arguments are not saved
    with pytest.raises(lib.NotRebuildable, match="HFSchedulerArgs"):
        lib.from_torch_state_dict("LambdaLR", state)


def test_trainer_warmup_steps_match_training_arguments():
    from transformers import TrainingArguments

    for steps, ratio, total in [(0, 0.1, 95), (7, 0.5, 100), (0, 0.0, 10), (0, 0.033, 1000)]:
        args = TrainingArguments(output_dir="unused", warmup_steps=steps, warmup_ratio=ratio, report_to=[])
        assert lib.hf_warmup_steps(total, steps, ratio) == args.get_warmup_steps(total)
