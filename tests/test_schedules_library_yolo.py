"""The YOLO adapter of the schedule library agrees with the per-iteration curve it wraps (torch-free)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrguard.schedules.curve import iteration_lr
from lrguard.schedules.library import REGISTRY, YoloSchedule
from lrguard.schedules.spec import ScheduleSpec
from lrguard.trainers import all_profiles

PROFILES = all_profiles()


@st.composite
def specs(draw: st.DrawFn) -> ScheduleSpec:
    return ScheduleSpec(
        lr0=draw(st.floats(1e-4, 0.1)),
        lrf=draw(st.floats(0.001, 1.0)),
        epochs=draw(st.integers(1, 40)),
        cos_lr=draw(st.booleans()),
        warmup_epochs=draw(st.sampled_from([0.0, 0.5, 1.0, 3.0])),
        warmup_bias_lr=draw(st.sampled_from([0.0, 0.1])),
        nb=draw(st.integers(1, 12)),
    )


@settings(max_examples=150, deadline=None)
@given(spec=specs(), profile=st.sampled_from(PROFILES), data=st.data())
def test_lrs_is_the_row_of_the_iteration_curve(spec: ScheduleSpec, profile, data: st.DataObject) -> None:
    assert spec.nb is not None
    curve = iteration_lr(spec, profile, spec.epochs)
    ni = data.draw(st.integers(0, spec.epochs * spec.nb - 1))
    got = YoloSchedule(spec, profile).lrs(ni)
    assert len(got) == profile.n_groups
    np.testing.assert_array_equal(np.asarray(got), curve[ni])


def test_warmup_starts_the_bias_group_at_warmup_bias_lr() -> None:
    profile = next(p for p in PROFILES if p.name.startswith("yolov5"))
    spec = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=10, warmup_epochs=3.0, warmup_bias_lr=0.1, nb=50)
    lrs = YoloSchedule(spec, profile).lrs(0)
    assert max(lrs) == pytest.approx(0.1)
    assert min(lrs) == pytest.approx(0.0)


def test_without_batches_per_epoch_there_is_no_position() -> None:
    with pytest.raises(ValueError, match="nb"):
        YoloSchedule(ScheduleSpec(lr0=0.01, lrf=0.01, epochs=10), PROFILES[0])


def test_registered_and_self_describing() -> None:
    assert REGISTRY["yolo"] is YoloSchedule
    spec = ScheduleSpec(lr0=0.01, lrf=0.1, epochs=5, nb=4)
    described = YoloSchedule(spec, PROFILES[0]).describe()
    assert described["name"] == "yolo"
    assert described["spec"]["epochs"] == 5
    assert described["profile"] == PROFILES[0].name
