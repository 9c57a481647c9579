"""Property tests of :mod:`lrguard.schedules.infer`: curves from the library's closed forms, family and parameters recovered."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lrguard.schedules.infer import fit_family, infer_schedule
from lrguard.schedules.library.constant import ConstantLR
from lrguard.schedules.library.exponential import ExponentialLR
from lrguard.schedules.library.hf import HFCosine, HFLinear
from lrguard.schedules.library.step import StepLR

peaks = st.floats(1e-5, 1.0)
offsets = st.integers(0, 1)  # a loop logs the position (0) or the step after it (1)


def curve(schedule, n: int, offset: int) -> tuple[np.ndarray, np.ndarray]:
    pos = np.arange(n)
    return pos + offset, np.array([schedule.lrs(int(p))[0] for p in pos])


@settings(max_examples=40, deadline=None)
@given(peaks, st.integers(2, 50), offsets)
def test_constant_recovered(peak, n, offset):
    got = infer_schedule(*curve(ConstantLR((peak,), factor=1.0, total_iters=0), n, offset))
    assert got is not None and got.family == "constant"
    assert got.params["peak"] == peak


@settings(max_examples=40, deadline=None)
@given(peaks, st.integers(0, 30), st.integers(20, 400), st.floats(0.0, 1.0), offsets)
def test_linear_with_warmup_recovered(peak, warmup, decay, past, offset):
    total = warmup + decay
    n = int(total * (1 + past * 0.5)) + 1
    s, lr = curve(HFLinear((peak,), warmup, total), n, offset)
    got = infer_schedule(s, lr)
    assert got is not None and got.family == "linear", got
    assert abs(got.params["total"] - total) < 1e-6 * total
    assert abs(got.params["warmup"] - warmup) < 1e-6 * max(warmup, 1)
    np.testing.assert_allclose(got.lr_at(s), lr, atol=1e-9 * peak)


@settings(max_examples=40, deadline=None)
@given(peaks, st.integers(0, 30), st.integers(20, 400), st.floats(0.0, 0.9), offsets)
def test_cosine_with_warmup_recovered(peak, warmup, decay, past, offset):
    total = warmup + decay
    n = int(total + decay * past) + 1
    s, lr = curve(HFCosine((peak,), warmup, total), n, offset)
    got = infer_schedule(s, lr)
    assert got is not None and got.family == "cosine", got
    assert abs(got.params["total"] - total) < 1e-4 * total
    assert abs(got.params["warmup"] - warmup) < 1e-6 * max(warmup, 1)
    np.testing.assert_allclose(got.lr_at(s), lr, atol=1e-4 * peak)


@settings(max_examples=40, deadline=None)
@given(peaks, st.integers(2, 40), st.floats(0.05, 0.9), st.integers(2, 6), offsets)
def test_step_decay_recovered(peak, k, gamma, decays, offset):
    s, lr = curve(StepLR((peak,), k, gamma), k * decays + 1, offset)
    got = infer_schedule(s, lr)
    assert got is not None and got.family == "step", got
    assert got.params["step_size"] == k
    assert abs(got.params["gamma"] - gamma) < 1e-9
    np.testing.assert_allclose(got.lr_at(s), lr, rtol=1e-9)


@settings(max_examples=40, deadline=None)
@given(peaks, st.floats(0.8, 0.999), st.integers(10, 300), offsets)
def test_exponential_recovered(peak, gamma, n, offset):
    s, lr = curve(ExponentialLR((peak,), gamma), n, offset)
    got = infer_schedule(s, lr)
    assert got is not None and got.family == "exponential", got
    assert abs(got.params["gamma"] - gamma) < 1e-9
    assert got.describe().endswith("(inferred from the logged LR)")


def test_noise_is_not_a_schedule():
    rng = np.random.default_rng(0)
    assert infer_schedule(np.arange(50), rng.uniform(0.1, 1.0, 50)) is None


def test_too_few_points():
    assert infer_schedule(np.arange(1), np.array([0.1])) is None
    assert fit_family("cosine", np.arange(2), np.array([0.1, 0.05])) is None
