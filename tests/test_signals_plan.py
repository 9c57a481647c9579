"""LR against plan, per step (the guard) and over a run (the diagnosis)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lrguard.signals.plan import check, off_plan, relative_error

lr = st.floats(min_value=0, max_value=10, allow_nan=False)


def test_relative_error_edges():
    assert relative_error(0.011, 0.01) == pytest.approx(0.1)
    assert relative_error(0.0, 0.0) == 0.0
    assert relative_error(1e-5, 0.0) == math.inf
    assert math.isnan(relative_error(math.nan, 0.01))


def test_check_names_the_group():
    devs = check([0.01, 0.02, 0.0], [0.01, 0.01, 0.0], rel_tol=1e-3)
    assert [(d.group, round(d.rel, 6)) for d in devs] == [(1, 1.0)]
    with pytest.raises(ValueError):
        check([0.01], [0.01, 0.02], 1e-3)


@given(st.lists(st.tuples(lr, lr), min_size=1, max_size=8), st.floats(min_value=0, max_value=1))
def test_batch_equals_per_step(pairs, tol):
    lrs = np.array([[a for a, _ in pairs]])
    planned = np.array([[b for _, b in pairs]])
    mask = off_plan(lrs, planned, tol)[0]
    per_step = {d.group for d in check([a for a, _ in pairs], [b for _, b in pairs], tol)}
    assert set(np.nonzero(mask)[0].tolist()) == per_step
