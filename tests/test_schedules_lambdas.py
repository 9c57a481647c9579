"""Property tests of the lf multipliers (schedules.lambdas) and of their inverse (schedules.fit)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from lrguard.schedules.fit import implied_epochs
from lrguard.schedules.lambdas import cosine_lf, linear_lf

epochs_st = st.integers(min_value=2, max_value=10_000)
lrf_st = st.floats(min_value=1e-4, max_value=0.5)
frac_st = st.floats(min_value=0.0, max_value=1.0)


@given(epochs_st, lrf_st)
def test_linear_endpoints(e, lrf):
    assert float(linear_lf(0, e, lrf)) == 1.0
    assert math.isclose(float(linear_lf(e, e, lrf)), lrf, rel_tol=1e-9, abs_tol=1e-12)


@given(epochs_st, lrf_st)
def test_cosine_endpoints(e, lrf):
    assert math.isclose(float(cosine_lf(0, e, lrf)), 1.0, rel_tol=1e-12)
    assert math.isclose(float(cosine_lf(e, e, lrf)), lrf, rel_tol=1e-9, abs_tol=1e-12)


@given(epochs_st, lrf_st)
def test_monotonic_decrease_within_schedule(e, lrf):
    x = np.linspace(0, e, 257)
    for lf in (linear_lf(x, e, lrf), linear_lf(x, e, lrf, clamp=True), cosine_lf(x, e, lrf)):
        assert np.all(np.diff(lf) <= 1e-12)
        assert lf[0] > lf[-1]


@given(epochs_st, lrf_st, frac_st)
def test_cosine_is_periodic_and_symmetric_about_e(e, lrf, f):
    x = f * e
    assert math.isclose(float(cosine_lf(x, e, lrf)), float(cosine_lf(2 * e - x, e, lrf)), rel_tol=1e-9, abs_tol=1e-12)
    assert math.isclose(float(cosine_lf(x, e, lrf)), float(cosine_lf(x + 2 * e, e, lrf)), rel_tol=1e-9, abs_tol=1e-12)


@given(epochs_st, lrf_st, st.floats(min_value=1.01, max_value=3.0))
def test_linear_past_end_unclamped_keeps_falling_clamped_holds_lrf(e, lrf, k):
    x = k * e
    assert float(linear_lf(x, e, lrf)) < lrf
    assert math.isclose(float(linear_lf(x, e, lrf, clamp=True)), lrf, rel_tol=1e-12)


@given(st.integers(min_value=3, max_value=5000), lrf_st, frac_st)
def test_linear_offset_divides_by_e_minus_one(e, lrf, f):
    x = f * (e - 1)
    assert math.isclose(
        float(linear_lf(x, e, lrf, offset=1)), float(linear_lf(x, e - 1, lrf)), rel_tol=1e-12, abs_tol=1e-15
    )


@settings(max_examples=200)
@given(
    st.integers(min_value=2, max_value=20_000),
    st.floats(min_value=1e-4, max_value=0.2),
    st.floats(min_value=0.01, max_value=0.99),
    st.booleans(),
    st.integers(min_value=0, max_value=1),
)
def test_implied_epochs_inverts_lf(e, lrf, f, cos, offset):
    """implied_epochs(lf(x)) == E over random E, lrf and x inside the schedule."""
    if cos:
        offset = 0
    x = f * (e - offset)
    assume(x >= 1)
    ratio = cosine_lf(x, e, lrf) if cos else linear_lf(x, e, lrf, offset=offset)
    got = float(implied_epochs(ratio, x, lrf, cos_lr=cos, offset=offset))
    assert math.isclose(got, e, rel_tol=1e-6), (got, e)


@given(lrf_st)
def test_implied_epochs_undefined_rows_are_nan(lrf):
    out = implied_epochs([1.0, 1.2, 0.5, 0.5], [10, 10, 0, -3], lrf)
    assert np.all(np.isnan(out))
    out_cos = implied_epochs([lrf, 1.0], [10, 10], lrf, cos_lr=True)
    assert np.all(np.isnan(out_cos))


def test_implied_epochs_scale_independent_of_lr0():
    """The seed case: linear, lrf 0.01, a row at epoch 1740 of E=5000."""
    r = float(linear_lf(1739, 5000, 0.01))
    assert math.isclose(float(implied_epochs(r, 1739, 0.01)), 5000, rel_tol=1e-9)
    assert math.isclose(0.01 * float(linear_lf(1738, 3000, 0.01)), 0.00426, rel_tol=2e-3)
    assert math.isclose(0.01 * float(linear_lf(1739, 5000, 0.01)), 0.00656, rel_tol=2e-3)
