"""The guard under ``torch.distributed``: one rank's spike makes every rank take the same decision at the same step.

Two gloo ranks on the CPU (:mod:`_guard_ddp_rollback`, a ``DistributedDataParallel`` model with
BatchNorm and dropout, AdamW, LambdaLR, a CPU GradScaler, an EMA, per-rank random streams); the
loss spike is on rank 1's data only. The ranks write their results to files and the test judges
those (gloo's teardown at exit sometimes aborts a rank after the work is done).
"""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest

from _needs import needs

torch = needs("torch")

import _guard_ddp_rollback as ddp_worker
from test_guard_rollback import _equal


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(tmp_path: Path, mode: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Spawn the two ranks, wait at most 150 s, and read what each wrote."""
    import torch.multiprocessing as mp

    ctx = mp.spawn(ddp_worker.worker, args=(2, _free_port(), str(tmp_path), mode), nprocs=2, join=False)
    deadline = time.monotonic() + 150
    failure: Exception | None = None
    while True:
        try:
            if ctx.join(timeout=1):
                break
        except Exception as exc:  # a rank exited non-zero: judged by its file below
            failure = exc
            for p in ctx.processes:
                p.join(timeout=30)
            break
        if time.monotonic() > deadline:
            for p in ctx.processes:
                p.kill()
            pytest.fail("a rank hung")
    files = [tmp_path / f"rank{r}.pt" for r in (0, 1)]
    if not all(f.exists() for f in files):
        pytest.fail(f"a rank wrote no result: {failure}")
    r0, r1 = (torch.load(f, weights_only=False) for f in files)
    return r0, r1


def _without_rank(events):
    return [e[:-1] for e in events]


def _weights(result):
    """The final parameters (BatchNorm running statistics are per rank: DDP broadcasts rank 0's before each forward)."""
    return {k: v for k, v in result["final"]["model"].items() if k.endswith(("weight", "bias"))}


def test_a_spike_on_one_rank_rolls_back_every_rank_at_the_same_step_bit_exactly(tmp_path):
    r0, r1 = _launch(tmp_path, "rollback")
    # the same rollback on both ranks, at the step of the single-process test
    assert r0["windows"] == r1["windows"]
    (window,) = r0["windows"]
    assert (window["trigger_step"], window["from_step"], window["to_step"]) == (34, 30, 35)
    assert (window["first_batch"], window["end_batch"]) == (30, 37)
    assert r0["global_step"] == r1["global_step"] == ddp_worker.N - 7 and r0["batches"] == r1["batches"] == 60
    assert _without_rank(r0["events"]) == _without_rank(r1["events"])  # same events, values and messages
    kinds = [(e[0], e[1], e[2]) for e in r0["events"]]
    assert (33, "loss-spike", "log") in kinds and (34, "loss-spike", "rollback") in kinds
    assert (35, "rollback", "restore") in kinds
    assert [e[-1] for e in r0["events"]] == [0] * len(kinds) and {e[-1] for e in r1["events"]} == {1}
    for rank, r in enumerate((r0, r1)):
        # each rank restored its own state of step 30 (model, optimizer, scheduler, scaler, EMA, RNG)
        first, again = r["at30"]
        _equal(again, first, f"rank {rank} restored")
        # and ends bit-identical to the DDP run that never saw data positions 30..36
        _equal(r["final"], r["reference"], f"rank {rank} final")
    _equal(_weights(r0), _weights(r1), "ranks agree")
    with pytest.raises(AssertionError):  # per-rank generators: the ranks' streams differ, so the test sees them
        _equal(r0["final"]["torch_rng"], r1["final"]["torch_rng"])


def test_a_spike_on_one_rank_is_the_same_decision_on_every_rank(tmp_path):
    r0, r1 = _launch(tmp_path, "ladder")
    # log (the default): the same events, values and messages on both ranks
    assert r0["windows"] == r1["windows"] == []
    assert _without_rank(r0["events"]) == _without_rank(r1["events"])
    loss = [e for e in r0["events"] if e[1] == "loss-spike"]
    assert [(e[0], e[2]) for e in loss] == [(33, "log")]  # rank 0's own loss never spiked
    _equal(_weights(r0), _weights(r1), "ranks agree")
    # lower-lr: both ranks lower the same steps, so their weights stay equal
    low0, low1 = r0["lower-lr"], r1["lower-lr"]
    assert _without_rank(low0["events"]) == _without_rank(low1["events"])
    assert [(e[0], e[2]) for e in low0["events"] if e[1] == "loss-spike"] == [(33, "lower-lr")]
    _equal(_weights(low0), _weights(low1), "lower-lr: ranks agree")
    with pytest.raises(AssertionError):  # and the lowered LR did change the training
        _equal(_weights(low0), _weights(r0))
    # stop: every rank stops at the same host read (step 35, the read of steps 30-34)
    assert r0["stop"]["stopped"] == r1["stop"]["stopped"] and r0["stop"]["stopped"][0] == 35
    assert "loss" in r0["stop"]["stopped"][1]

    # the reduction itself, on windows made up per rank: the maximum, and a non-finite value on any
    # rank wins over the finite ones (NaN over +inf over -inf); the flag is the minimum
    nan, inf = float("nan"), float("inf")
    expected = torch.tensor([[4.0, 2.0, 1.0], [nan, inf, 0.0], [6.0, nan, 0.0], [-inf, -inf, 0.0], [1.0, 7.0, 1.0]])
    for r in (r0, r1):
        assert torch.equal(r["agreed"].isnan(), expected.isnan())
        assert torch.equal(r["agreed"].nan_to_num(), expected.nan_to_num())
