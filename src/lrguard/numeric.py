"""Small numeric helpers (``np.median`` pulls in ``numpy.ma`` at first use, which costs start-up time)."""

from __future__ import annotations

import numpy as np


def median(values: np.ndarray) -> float:
    """Median of the finite entries of a 1-D array (NaN when there are none)."""
    v = np.sort(np.asarray(values, dtype=float).ravel())
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan")
    mid = v.size // 2
    return float(v[mid]) if v.size % 2 else float((v[mid - 1] + v[mid]) / 2.0)


def row_medians(windows: np.ndarray) -> np.ndarray:
    """Median of every row of a 2-D array, ignoring NaN (NaN for an all-NaN row)."""
    w = np.sort(np.asarray(windows, dtype=float), axis=1)  # NaN sorts last
    counts = np.sum(np.isfinite(w), axis=1)
    out = np.full(w.shape[0], np.nan)
    ok = counts > 0
    rows = np.nonzero(ok)[0]
    c = counts[ok]
    lo = w[rows, (c - 1) // 2]
    hi = w[rows, c // 2]
    out[ok] = (lo + hi) / 2.0
    return out
