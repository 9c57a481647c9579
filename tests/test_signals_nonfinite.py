"""Non-finite values, including the ones HF's logging_nan_inf_filter hides."""

from __future__ import annotations

import numpy as np

from lrguard.signals.nonfinite import first_nonfinite, hidden_nonfinite


def test_first_nonfinite_ignores_empty_cells():
    v = np.array([1.0, np.nan, 2.0, np.inf])
    assert first_nonfinite(v) == 1
    assert first_nonfinite(v, missing=np.array([False, True, False, False])) == 3
    assert first_nonfinite(np.array([1.0, 2.0])) is None


def test_hidden_nonfinite_is_a_finite_loss_with_a_nonfinite_grad_norm():
    loss = np.array([2.0, 0.0, 1.9, np.nan])
    grad = np.array([1.0, np.nan, 1.2, np.nan])
    assert hidden_nonfinite(loss, grad).tolist() == [1]
    assert hidden_nonfinite(loss, grad, grad_logged=np.array([True, False, True, True])).tolist() == []
