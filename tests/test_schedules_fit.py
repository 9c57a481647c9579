"""Inverse problems (schedules.fit): nb from warmup rows, integer total epochs, implied lr0."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrguard.schedules import ScheduleSpec, logged_lr
from lrguard.schedules.curve import warmup_rows
from lrguard.schedules.fit import best_integer_epochs, estimate_nb, implied_lr0
from lrguard.trainers import get_profile


def round_sig(a: np.ndarray, digits: int) -> np.ndarray:
    """Round like ``'%.{digits}g'`` printing does."""
    return np.array([float(f"{v:.{digits}g}") for v in np.ravel(a)]).reshape(np.shape(a))


@settings(max_examples=40, deadline=None)
@given(
    nb=st.integers(min_value=1, max_value=3000),
    name=st.sampled_from(["yolov5", "ultralytics-8.3", "ultralytics-8.4"]),
    e=st.integers(min_value=50, max_value=1000),
)
def test_estimate_nb_recovers_nb_from_rows_rounded_to_5_digits(nb, name, e):
    prof = get_profile(name)
    spec = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=e, nb=nb)
    n_rows = max(warmup_rows(spec, prof), 1) + 1
    rows = round_sig(logged_lr(spec, prof, np.arange(n_rows)), 5)
    got, err = estimate_nb(rows, spec.with_(nb=None), prof, n_rows)
    assert err <= 1e-4
    # Distinct nb values can give identical rounded rows only when they also give the same LR curve.
    if got != nb:
        np.testing.assert_allclose(logged_lr(spec.with_(nb=got), prof, np.arange(n_rows)), rows, rtol=1e-4)


@pytest.mark.parametrize("nb", [250, 1000, 2500, 7329])
def test_estimate_nb_large_nb_closed_form_guess(nb):
    prof = get_profile("yolov5")
    spec = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=300, nb=nb)
    rows = round_sig(logged_lr(spec, prof, np.arange(5)), 5)
    got, err = estimate_nb(rows, spec.with_(nb=None), prof, 5)
    assert err <= 1e-4
    # Large nb is only weakly identifiable from 5-digit rows (row 0 is (nb-1)/(3nb) * lr0): any nb
    # that reproduces the printed rows is a right answer, and it stays within a few percent.
    assert abs(got - nb) <= 0.02 * nb
    np.testing.assert_allclose(logged_lr(spec.with_(nb=got), prof, np.arange(5)), rows, rtol=1e-4)


def test_estimate_nb_empty_rows():
    prof = get_profile("yolov5")
    spec = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=300)
    assert estimate_nb(np.zeros((0, 3)), spec, prof, 3) == (None, float("inf"))


@settings(max_examples=60, deadline=None)
@given(
    e=st.integers(min_value=20, max_value=6000),
    lrf=st.floats(min_value=0.001, max_value=0.3),
    cos=st.booleans(),
    start=st.floats(min_value=0.05, max_value=0.8),
    name=st.sampled_from(["yolov5", "ultralytics-8.4"]),
)
def test_best_integer_epochs_recovers_e(e, lrf, cos, start, name):
    prof = get_profile(name)
    spec = ScheduleSpec(lr0=0.01, lrf=lrf, epochs=e, cos_lr=cos)
    x0 = max(int(start * e), 1)
    x = np.arange(x0, min(x0 + 20, e - 1)).astype(float)
    if x.size < 3:
        return
    digits = prof.significant_digits
    lr = round_sig(0.01 * spec.lf(x, prof), digits)
    guess = spec.with_(epochs=max(e // 3, 2))  # the fit must not depend on the configured E
    got, err = best_integer_epochs(lr, x, guess, prof)
    assert err <= 2 * 10.0 ** (1 - digits)
    pred = 0.01 * spec.with_(epochs=got).lf(x, prof)
    np.testing.assert_allclose(pred, lr, rtol=2 * 10.0 ** (1 - digits))
    if e <= 2000:
        assert got == e


def test_best_integer_epochs_nothing_constrains():
    prof = get_profile("yolov5")
    spec = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=100)
    assert best_integer_epochs([0.01, 0.01], [0, 0], spec, prof) == (None, float("inf"))


def test_best_integer_epochs_seed_case():
    prof = get_profile("yolov5")
    spec = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=300)
    x = np.arange(1700, 1739, dtype=float)
    lr = round_sig(0.01 * spec.with_(epochs=3000).lf(x, prof), 5)
    assert best_integer_epochs(lr, x, spec, prof)[0] == 3000
    x2 = np.arange(1739, 1800, dtype=float)
    lr2 = round_sig(0.01 * spec.with_(epochs=5000).lf(x2, prof), 5)
    assert best_integer_epochs(lr2, x2, spec, prof)[0] == 5000


def test_implied_lr0():
    prof = get_profile("yolov5")
    spec = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=300)
    x = np.arange(10, 20, dtype=float)
    np.testing.assert_allclose(implied_lr0(0.02 * spec.lf(x, prof), x, spec, prof), 0.02)


def test_best_integer_epochs_never_divides_by_zero_with_the_v6_0_offset():
    """YOLOv5 <= v6.0 divides by E - 1: a candidate E = 1 used to print a numpy RuntimeWarning."""
    import warnings

    prof = get_profile("yolov5-v6.0")
    spec = ScheduleSpec(lr0=0.0625, lrf=0.5, epochs=3)
    x = np.array([1.0])
    lr = 0.0625 * spec.lf(x, prof)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got, err = best_integer_epochs(lr, x, spec, prof)
    assert got == 3 and err < 1e-9
