"""Non-finite values (NaN, inf) in a series, and the ones a trainer hides."""

from __future__ import annotations

import numpy as np


def first_nonfinite(values: np.ndarray, missing: np.ndarray | None = None) -> int | None:
    """Row of the first NaN/inf in ``values``, ignoring rows flagged in ``missing`` (empty cells).

    Returns:
        The row index, or ``None`` when every (present) value is finite.
    """
    bad = ~np.isfinite(np.asarray(values, dtype=float))
    if missing is not None:
        bad &= ~np.asarray(missing, dtype=bool)
    return int(np.argmax(bad)) if bad.any() else None


def hidden_nonfinite(loss: np.ndarray, grad_norm: np.ndarray, grad_logged: np.ndarray | None = None) -> np.ndarray:
    """Rows where the gradient norm is NaN/inf but the logged loss is a finite number.

    HF Trainer's default ``logging_nan_inf_filter=True`` logs a non-finite step loss as the mean of
    the finite ones (``0.0`` with ``logging_steps=1``); only ``grad_norm`` still shows the step.

    Args:
        loss: Logged loss per row.
        grad_norm: Logged gradient norm per row.
        grad_logged: True where the row logged a gradient norm at all (default: every row), so a
            row without one is not read as non-finite.
    """
    loss = np.asarray(loss, dtype=float)
    grad = np.asarray(grad_norm, dtype=float)
    logged = np.ones(grad.shape, dtype=bool) if grad_logged is None else np.asarray(grad_logged, dtype=bool)
    return np.nonzero(np.isfinite(loss) & logged & ~np.isfinite(grad))[0]
