"""The non-executing pickle reader: plain values round-trip for every protocol, placeholders for the rest."""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import pathlib
import pickle
import pickletools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrguard.checkpoint.pickle_walk import Limits, PickleReadError, read_pickle
from lrguard.checkpoint.placeholders import Call, GlobalRef

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**200), max_value=2**200)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.binary(max_size=20)
    | st.complex_numbers(allow_nan=False, allow_infinity=False)
)
hashables = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.binary(max_size=8),
    lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3),
    max_leaves=6,
)
plain = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.tuples(inner)
        | st.tuples(inner, inner, inner, inner)
        | st.dictionaries(hashables, inner, max_size=5)
        | st.sets(hashables, max_size=4)
        | st.frozensets(hashables, max_size=4)
        | st.builds(bytearray, st.binary(max_size=10))
    ),
    max_leaves=25,
)


@settings(max_examples=150, deadline=None)
@given(obj=plain, protocol=st.integers(min_value=0, max_value=5))
def test_plain_values_round_trip(obj, protocol):
    data = pickle.dumps(obj, protocol=protocol)
    result = read_pickle(data)
    assert result.value == obj
    assert type(result.value) is type(obj)
    assert result.end == len(data)


@pytest.mark.parametrize("protocol", range(6))
def test_shared_and_recursive_structures(protocol):
    shared = [1, 2]
    obj = {"a": shared, "b": shared, "t": (shared, "x")}
    got = read_pickle(pickle.dumps(obj, protocol=protocol)).value
    assert got == obj
    assert got["a"] is got["b"]
    loop: list = []
    loop.append(loop)
    got = read_pickle(pickle.dumps(loop, protocol=protocol)).value
    assert got[0] is got


@pytest.mark.parametrize("protocol", range(6))
def test_allowlist_rebuilt_as_plain_data(protocol):
    obj = {
        "od": collections.OrderedDict([("x", 1), ("y", 2)]),
        "ns": argparse.Namespace(epochs=3, p=pathlib.PurePosixPath("/a/b")),
        "path": pathlib.PurePosixPath("/data/x"),
        "np_scalar": np.float64(0.25),
        "np_int": np.int64(7),
        "arr": np.arange(6, dtype=np.float32).reshape(2, 3),
        "slice": slice(1, 5, 2),
        "c": complex(1, -2),
        "s": {1, 2},
    }
    got = read_pickle(pickle.dumps(obj, protocol=protocol)).value
    assert got["od"] == {"x": 1, "y": 2}
    assert got["ns"] == {"epochs": 3, "p": "/a/b"}
    assert got["path"] == "/data/x"
    assert got["np_scalar"] == 0.25 and isinstance(got["np_scalar"], float)
    assert got["np_int"] == 7
    assert isinstance(got["arr"], np.ndarray) and got["arr"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert got["slice"] == slice(1, 5, 2)
    assert got["c"] == complex(1, -2)
    assert got["s"] == {1, 2}


class Custom:
    def __init__(self):
        self.a = 1
        self.b = [1, 2]


@pytest.mark.parametrize("protocol", range(6))
def test_unknown_classes_become_placeholders(protocol):
    got = read_pickle(pickle.dumps({"k": Custom()}, protocol=protocol))
    obj = got.value["k"]
    assert isinstance(obj, Call)
    assert obj.type_name.endswith("Custom")
    assert obj.attrs() == {"a": 1, "b": [1, 2]}
    assert any(g.name == "Custom" for g in got.globals)


def test_globals_recorded_with_offsets():
    data = pickle.dumps(GlobalRef, protocol=4)  # a class pickles as a bare global
    res = read_pickle(data)
    assert isinstance(res.value, GlobalRef)
    offsets = {op.name: pos for op, _arg, pos in pickletools.genops(data)}
    assert res.globals[0].offset == offsets["STACK_GLOBAL"]
    assert res.globals[0].dotted == "lrguard.checkpoint.placeholders.GlobalRef"


@pytest.mark.parametrize(
    "data, problem",
    [
        (b"", "no STOP"),
        (b"\x80\x02}q\x00(X\x05\x00\x00\x00ab", "truncated"),
        (b"\x80\x02X\xff\xff\xff\x7f", "truncated"),
        (b"\x80\x09.", "protocol"),
        (b"\xff", "unknown opcode"),
        (b"\x80\x02h\x05.", "memo"),
        (b"\x80\x02t.", "underflow"),
        (b"I" + b"9" * 5000 + b"\n.", "digits"),
        (b"\x80\x02]K\x01K\x02s.", "SETITEMS on list"),
        (b"\x80\x02}(K\x01u.", "odd"),
    ],
)
def test_malformed_streams_raise(data, problem):
    with pytest.raises(PickleReadError, match=problem):
        read_pickle(data)


def test_limits_bound_memo_and_marks():
    with pytest.raises(PickleReadError, match="MARK nesting"):
        read_pickle(b"(" * 100 + b".", limits=Limits(max_marks=50))
    many = b"\x80\x04N" + b"\x94" * 100 + b"."
    with pytest.raises(PickleReadError, match="memo exceeds"):
        read_pickle(many, limits=Limits(max_memo=10))


def test_exponential_sharing_is_cheap():
    # 60 levels of [x, x] through the memo: 2**60 leaves if expanded; reading stays linear.
    obj: list = [0]
    for _ in range(60):
        obj = [obj, obj]
    res = read_pickle(pickle.dumps(obj, protocol=2))
    assert res.value[0] is res.value[1]
    from lrguard.checkpoint.plain import to_plain

    plain = to_plain(res.value, max_nodes=1000)
    text = json.dumps(plain)
    assert len(text) < 20_000 and '"..."' in text  # cut at max_nodes, not 2**60 leaves


def _sample_pickles():
    import numpy as np

    objs = [
        {"epoch": 3, "opt": argparse.Namespace(epochs=10, p=pathlib.PurePosixPath("/a")), "x": [1.5, b"ab"]},
        collections.OrderedDict(a=np.arange(4.0), b=np.float32(2.5), c={1, 2}, d=Custom()),
    ]
    return [pickle.dumps(o, protocol=p) for o in objs for p in range(6)]


SAMPLES = _sample_pickles()


@settings(max_examples=300, deadline=None)
@given(
    idx=st.integers(min_value=0, max_value=len(SAMPLES) - 1),
    edits=st.lists(st.tuples(st.integers(min_value=0, max_value=10_000), st.integers(0, 255)), max_size=4),
    cut=st.integers(min_value=0, max_value=10_000),
)
def test_mutated_pickles_fail_cleanly(idx, edits, cut):
    data = bytearray(SAMPLES[idx])
    for pos, byte in edits:
        data[pos % len(data)] = byte
    data = data[: max(1, len(data) - cut % len(data))]
    with contextlib.suppress(PickleReadError):
        read_pickle(bytes(data))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_fail_cleanly(data):
    with contextlib.suppress(PickleReadError):
        read_pickle(data)
