"""The SVG chart helpers (reports.svgchart): min/max decimation and path data."""

from __future__ import annotations

import itertools
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lrguard.reports.svgchart import _path, decimate


def _decimate_by_loop(x: np.ndarray, y: np.ndarray, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """The definition, one bucket at a time: first row of the min and of the max, in x order."""
    n = x.shape[0]
    if n <= 2 * buckets:
        return x, y
    edges = np.linspace(0, n, buckets + 1).astype(int)
    xs: list[float] = []
    ys: list[float] = []
    for a, b in itertools.pairwise(edges):
        if b <= a:
            continue
        seg = y[a:b]
        fin = np.isfinite(seg)
        if not fin.any():
            xs.append(float(x[a]))
            ys.append(math.nan)
            continue
        vals = np.where(fin, seg, np.nan)
        i_min, i_max = a + int(np.nanargmin(vals)), a + int(np.nanargmax(vals))
        for i in sorted({i_min, i_max}):
            xs.append(float(x[i]))
            ys.append(float(y[i]))
    return np.array(xs), np.array(ys)


values = st.one_of(
    st.floats(-1e3, 1e3, allow_nan=False), st.just(math.nan), st.just(math.inf), st.sampled_from([0.0, 1.0])
)


@settings(max_examples=300, deadline=None)
@given(arrays(np.float64, st.integers(0, 400), elements=values), st.integers(1, 60))
def test_decimate_equals_the_per_bucket_definition(y, buckets):
    x = np.arange(y.size, dtype=float) * 0.5
    got_x, got_y = decimate(x, y, buckets)
    want_x, want_y = _decimate_by_loop(x, y, buckets)
    np.testing.assert_array_equal(got_x, want_x)
    np.testing.assert_array_equal(got_y, want_y)  # NaN positions compared too


def test_decimate_keeps_a_one_row_jump_and_bounds_the_points():
    n = 5000
    y = np.linspace(0.01, 0.0001, n)
    y[1741] = 0.05
    x = np.arange(n, dtype=float)
    dx, dy = decimate(x, y, 800)
    assert dy.max() == 0.05 and 1741.0 in dx
    assert dx.size <= 1600 and np.all(np.diff(dx) > 0)


def test_path_lifts_the_pen_at_gaps():
    px = np.array([0.0, 1.0, np.nan, 3.0, 4.0])
    py = np.array([0.0, 1.0, 2.0, np.inf, 4.0])
    assert _path(px, py) == "M0.0 0.0L1.0 1.0M4.0 4.0"
    assert _path(np.array([]), np.array([])) == ""
