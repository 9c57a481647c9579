"""Planned LR per logged row (schedules.curve, schedules.warmup) against the reference's oracle rows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrguard.schedules import ScheduleSpec, SessionPlan, iteration_lr, logged_lr, logged_lr_sessions
from lrguard.schedules.curve import nw_of, warmup_rows
from lrguard.schedules.warmup import warmup_iterations, warmup_lr
from lrguard.trainers import all_profiles, get_profile

V5 = get_profile("yolov5")
UL84 = get_profile("ultralytics-8.4")
UL83 = get_profile("ultralytics-8.3")


# --- warmup_iterations rules per profile --------------------------------------------------------


@pytest.mark.parametrize("name", ["yolov5", "yolov5-master-2022-04", "ultralytics-8.3", "ultralytics-8.0"])
@given(nb=st.integers(min_value=1, max_value=2000), we=st.floats(min_value=0.1, max_value=10))
def test_warmup_floor_100(name, nb, we):
    prof = get_profile(name)
    nw = warmup_iterations(we, nb, 300, prof)
    assert nw == max(round(we * nb), 100)
    assert nw >= 100


@pytest.mark.parametrize("name", ["yolov5-v6.0", "yolov5-v6.1"])
@given(nb=st.integers(min_value=1, max_value=2000))
def test_yolov5_up_to_v6_1_floor_1000(name, nb):
    """yolo_mechanics.md §0: the floor went 1000 -> 100 in 47f265dde (2022-02-24), after the v6.1 tag."""
    assert warmup_iterations(3.0, nb, 300, get_profile(name)) == max(3 * nb, 1000)


@given(
    nb=st.integers(min_value=1, max_value=2000),
    we=st.floats(min_value=0.1, max_value=10),
    e=st.integers(min_value=1, max_value=50),
)
def test_ultralytics_84_no_floor_capped_at_e_minus_1(nb, we, e):
    for prof in (UL84, get_profile("ultralytics-8.4.0"), get_profile("ultralytics-8.4-musgd")):
        nw = warmup_iterations(we, nb, e, prof)
        assert nw == round(min(we, max(e - 1, 0)) * nb)


def test_ultralytics_84_real_run_4_epochs_nb_2():
    assert warmup_iterations(3.0, 2, 4, UL84) == 6
    assert warmup_iterations(3.0, 2, 2, UL84) == 2  # capped at E-1 = 1 epoch
    assert warmup_iterations(3.0, 2, 1, UL84) == 0


@pytest.mark.parametrize("prof", [p for p in all_profiles() if p.framework == "ultralytics"], ids=lambda p: p.name)
def test_ultralytics_warmup_zero_disables(prof):
    assert warmup_iterations(0.0, 500, 100, prof) == 0
    assert warmup_iterations(-1.0, 500, 100, prof) == 0
    spec = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=100, warmup_epochs=0, nb=500)
    assert nw_of(spec, prof) == 0 and warmup_rows(spec, prof) == 0


def test_yolov5_warmup_zero_keeps_the_100_iteration_floor():
    assert warmup_iterations(0.0, 500, 100, V5) == 100


def test_warmup_lr_interpolates():
    assert float(warmup_lr(0, 300, 0.1, 0.01)) == pytest.approx(0.1)
    assert float(warmup_lr(300, 300, 0.1, 0.01)) == pytest.approx(0.01)
    assert float(warmup_lr(150, 300, 0.0, 0.01)) == pytest.approx(0.005)


# --- logged_lr vs the oracle rows ---------------------------------------------------------------


def test_yolov5_e300_nb100_rows_0_to_5_and_last():
    """yolo_mechanics.md §2.1: default hyp, E=300, nb=100 (nw=300)."""
    spec = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=300, nb=100)
    lr = logged_lr(spec, V5, np.arange(300))
    bias, weight = lr[:, 0], lr[:, 1]
    np.testing.assert_allclose(bias[:3], [0.0703, 0.0403, 0.0102], atol=5e-5)  # printed to 4 decimals
    np.testing.assert_allclose(weight[:3], [0.0033, 0.0066, 0.0099], atol=5e-5)
    np.testing.assert_allclose(weight[3:5], [0.009901, 0.009901], rtol=1e-6)
    assert weight[5] == pytest.approx(0.009868, rel=1e-4)
    np.testing.assert_array_equal(lr[:, 1], lr[:, 2])  # weights with and without decay share the LR
    assert weight[299] == pytest.approx(0.000166, rel=1e-2)  # lf(298), never lrf*lr0
    assert weight[299] > 0.0001


def test_yolov5_flat_handoff_row():
    """Row 3 (last warmup row, target lf(3)) equals row 4 (lf(4-1)): a flat step, then decay."""
    spec = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=300, nb=100)
    lr = logged_lr(spec, V5, np.arange(8))[:, 1]
    assert lr[3] == lr[4]
    assert np.all(np.diff(lr[4:]) < 0)


def test_ultralytics_84190_real_rows():
    """feasibility.md §1.4: ultralytics 8.4.190, epochs=4, SGD, nb=2 (nw=6)."""
    spec = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=4, nb=2)
    lr = logged_lr(spec, UL84, np.arange(4))
    np.testing.assert_allclose(lr[:, 0], [0.00166667, 0.0037625, 0.00420833, 0.002575], rtol=1e-5)
    np.testing.assert_allclose(lr[:, 1], lr[:, 0])
    np.testing.assert_allclose(lr[:3, 2], [0.085, 0.0537625, 0.020875], rtol=1e-5)
    assert lr[3, 2] == pytest.approx(0.002575, rel=1e-6)


def test_ultralytics_83_no_log_lag_after_warmup():
    spec = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=100, nb=1000)
    lr = logged_lr(spec, UL83, np.arange(10, 20))[:, 1]
    np.testing.assert_allclose(lr, 0.01 * spec.lf(np.arange(10, 20), UL83))


def test_ultralytics_80_has_the_yolov5_lag():
    prof = get_profile("ultralytics-8.0")
    spec = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=100, nb=1000)
    lr = logged_lr(spec, prof, np.arange(10, 20))[:, 1]
    np.testing.assert_allclose(lr, 0.01 * spec.lf(np.arange(9, 19), prof))


def test_musgd_groups_boosted_x3():
    prof = get_profile("ultralytics-8.4-musgd")
    spec = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=100, nb=50)
    lr = logged_lr(spec, prof, np.arange(10, 12))
    assert lr.shape == (2, 8)
    np.testing.assert_allclose(lr[:, 0], 3 * lr[:, 1])
    np.testing.assert_allclose(lr[:, 4], 3 * lr[:, 5])


def test_nb_unknown_ignores_warmup():
    spec = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=300)
    lr = logged_lr(spec, V5, [0, 1, 2])
    np.testing.assert_allclose(lr[:, 1], 0.01 * spec.lf(np.array([0, 0, 1]), V5))


def test_iteration_lr_matches_logged_lr_at_each_epochs_last_batch():
    for prof in (V5, UL84, UL83):
        spec = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=20, nb=30)
        it = iteration_lr(spec, prof, 20)
        last = it[np.arange(20) * 30 + 29]
        np.testing.assert_allclose(last, logged_lr(spec, prof, np.arange(20)), rtol=1e-12)


def test_iteration_lr_needs_nb():
    with pytest.raises(ValueError):
        iteration_lr(ScheduleSpec(lr0=0.01, lrf=0.01, epochs=10), V5, 10)


# --- sessions / resume semantics ----------------------------------------------------------------


def test_logged_lr_sessions_seamless_resume_equals_single_session():
    spec = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=300, nb=100)
    for prof in (V5, UL84, UL83):
        _, one = logged_lr_sessions([SessionPlan(0, 300, spec)], prof)
        ep, two = logged_lr_sessions([SessionPlan(0, 120, spec), SessionPlan(120, 300, spec, resumed=True)], prof)
        np.testing.assert_array_equal(ep, np.arange(300))
        np.testing.assert_allclose(one, two, rtol=1e-12)


def test_yolov5_first_resumed_row_is_restored_from_the_checkpoint():
    """Seed case: E 3000 -> 5000 resumed at epoch 1739; row 1739 still shows the old curve."""
    a = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=3000, nb=100)
    b = a.with_(epochs=5000)
    _, lr = logged_lr_sessions([SessionPlan(0, 1739, a), SessionPlan(1739, 1745, b, resumed=True)], V5)
    w = lr[:, 1]
    assert w[1739] == pytest.approx(0.01 * float(a.lf(1738, V5)))
    assert w[1739] < w[1738]
    assert w[1740] == pytest.approx(0.01 * float(b.lf(1739, V5)))
    assert w[1740] / w[1739] - 1 == pytest.approx(0.54, abs=0.01)


def test_ultralytics_8147_first_resumed_row_follows_new_settings():
    a = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=100, nb=50)
    b = a.with_(epochs=200)
    for prof in (UL83, UL84):
        _, lr = logged_lr_sessions([SessionPlan(0, 40, a), SessionPlan(40, 45, b, resumed=True)], prof)
        assert lr[40, prof.reference_group] == pytest.approx(0.01 * float(b.lf(40, prof)))


def test_ultralytics_81_early_resumed_row_repeats_previous_lr():
    prof = get_profile("ultralytics-8.1-early")
    a = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=100, nb=50)
    _, lr = logged_lr_sessions([SessionPlan(0, 40, a), SessionPlan(40, 45, a, resumed=True)], prof)
    assert lr[40, 1] == lr[39, 1]
    assert lr[41, 1] < lr[40, 1]


def test_logged_lr_sessions_empty():
    ep, lr = logged_lr_sessions([], V5)
    assert ep.shape == (0,) and lr.shape == (0, 3)


@settings(max_examples=60, deadline=None)
@given(
    e=st.integers(min_value=5, max_value=600),
    nb=st.integers(min_value=1, max_value=400),
    lr0=st.floats(min_value=1e-4, max_value=0.1),
    lrf=st.floats(min_value=1e-3, max_value=0.5),
    cos=st.booleans(),
    name=st.sampled_from(["yolov5", "ultralytics-8.4", "ultralytics-8.3"]),
)
def test_logged_lr_positive_and_bounded(e, nb, lr0, lrf, cos, name):
    prof = get_profile(name)
    spec = ScheduleSpec(lr0=lr0, lrf=lrf, epochs=e, nb=nb, cos_lr=cos)
    lr = logged_lr(spec, prof, np.arange(e))
    ref = lr[:, prof.reference_group]
    assert np.all(ref >= 0)  # nb=1: the only batch of epoch 0 is iteration 0, LR 0
    assert np.all(ref[1:] > 0)
    assert np.all(ref <= lr0 * (1 + 1e-9))
