"""Deep copies of training state and a bit-exact comparison, for the trainer callbacks' rollback tests."""

from __future__ import annotations

import copy
import random

import numpy as np
import torch


def snapshot(**objects):
    """Deep copies of each object's ``state_dict()`` and of the torch, NumPy and Python generators."""
    out = {name: obj.state_dict() for name, obj in objects.items() if obj is not None}
    out.update(torch_rng=torch.get_rng_state(), np_rng=np.random.get_state(), py_rng=random.getstate())
    return copy.deepcopy(out)


def assert_equal(a, b, where=""):
    """``a`` and ``b`` hold the same values, tensors compared with ``torch.equal`` (dtype too)."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, np.ndarray):
        assert np.array_equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_equal(a[k], b[k], f"{where}/{k}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_equal(x, y, f"{where}[{i}]")
    elif callable(a):
        assert callable(b), where  # a LambdaLR's lambdas: not state
    else:
        assert a == b, where
