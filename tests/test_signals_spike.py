"""The spike statistic shared by the diagnosis and the live guard."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lrguard.signals.spike import SpikeDetector, SpikeRule, candidate_rows, judge, scan

positive = st.floats(min_value=1e-3, max_value=1e3, allow_nan=False, allow_infinity=False)
series = st.lists(st.one_of(positive, st.just(float("nan"))), min_size=0, max_size=60)


def test_a_clear_spike_and_an_explosion():
    flat = np.array([1.0, 1.02, 0.98, 1.01, 0.99, 1.0])
    v = judge(flat, 2.0)
    assert v is not None and not v.explosion and v.ratio == pytest.approx(2.0) and v.history == 6
    assert judge(flat, 1.3) is None  # below ratio 1.5
    boom = judge(flat[:1], 12.0)
    assert boom is not None and boom.explosion  # an explosion needs only one value of history
    assert judge(flat[:2], 2.0) is None  # a spike needs min_history values


def test_noisy_history_raises_the_bar():
    rng = np.random.default_rng(0)
    noisy = np.exp(rng.normal(0, 0.4, 8))
    assert judge(noisy, 1.6 * np.median(noisy)) is None
    assert judge(np.full(8, 1.0), 1.6) is not None


def test_nothing_is_judged_without_a_meaningful_ratio():
    assert judge(np.array([]), 5.0) is None
    assert judge(np.array([1.0, 0.0, 1.0]), 5.0) is None  # a non-positive history
    assert judge(np.array([1.0, 1.0, 1.0]), float("nan")) is None
    assert judge(np.array([np.nan, np.nan]), 50.0) is None


def test_rule_validation():
    with pytest.raises(ValueError):
        SpikeRule(ratio=1.0)
    with pytest.raises(ValueError):
        SpikeRule(window=0)


def test_a_lasting_level_change_stops_being_a_spike():
    d = SpikeDetector()
    calls = [d.update(x) is not None for x in [1.0] * 8 + [3.0] * 8]
    assert calls[8] and not any(calls[13:])


def test_reset_starts_a_new_lineage():
    d = SpikeDetector()
    for x in [1.0] * 8:
        d.update(x)
    d.reset()
    assert d.update(5.0) is None  # no history after a restart


@given(series)
def test_scan_is_the_streaming_detector(values):
    d = SpikeDetector()
    streamed = {i: v for i, x in enumerate(values) if (v := d.update(x)) is not None}
    assert scan(np.array(values, dtype=float)) == streamed


@given(series)
def test_every_spike_is_a_vectorised_candidate(values):
    v = np.array(values, dtype=float)
    assert set(scan(v)) <= set(candidate_rows(v).tolist())


@given(series, st.sets(st.integers(min_value=0, max_value=59), max_size=4))
def test_resets_equal_a_fresh_detector_per_lineage(values, resets):
    v = np.array(values, dtype=float)
    got = scan(v, resets=frozenset(resets))
    bounds = sorted({0, *(r for r in resets if r < len(values)), len(values)})
    expected = {}
    for a, b in itertools.pairwise(bounds):
        expected.update({a + i: s for i, s in scan(v[a:b]).items()})
    assert got == expected
