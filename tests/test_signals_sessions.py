"""Session boundaries of a step-counted log."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from lrguard.signals.sessions import SessionSplitter, split


def test_rewind_and_new_source():
    steps = [1, 2, 3, 2, 3, 4, 10]
    sources = [0, 0, 0, 0, 0, 0, 1]
    got = [(b.row, b.reason, b.step_before, b.step_after) for b in split(np.array(steps), np.array(sources))]
    assert got == [(3, "step-rewind", 3, 2), (6, "new-source", 4, 10)]


def test_a_repeated_step_is_a_rewind():
    assert [b.row for b in split(np.array([5, 6, 6, 7]))] == [2]


@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 2)), max_size=40))
def test_vectorised_split_is_the_streaming_splitter(rows):
    splitter = SessionSplitter()
    streamed = [b for s, src in rows if (b := splitter.update(s, src)) is not None]
    steps = np.array([s for s, _ in rows], dtype=np.int64)
    sources = np.array([src for _, src in rows], dtype=np.int64)
    assert split(steps, sources) == streamed
