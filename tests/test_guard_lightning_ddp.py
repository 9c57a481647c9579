"""The Lightning guard under real ``strategy="ddp"`` (two gloo ranks on CPU, launched by torchrun).

A NaN loss on rank 1 only: every rank skips the same step, nothing hangs, the final weights are
finite and identical on both ranks; without the guard both ranks end with NaN weights.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from _needs import needs
from _torchrun import torchrun_two_ranks

torch = needs("torch")
needs("lightning")

pytestmark = pytest.mark.trainers
TESTS = Path(__file__).resolve().parent
SCRIPT = TESTS / "_lightning_ddp_script.py"
NAN_STEP = 3  # batch 3 of the first epoch (8 optimizer steps per epoch and rank)


def _launch(tmp_path: Path, guarded: bool) -> Path:
    return torchrun_two_ranks(SCRIPT, tmp_path / ("guarded" if guarded else "bare"), "1" if guarded else "0")


def _result(out: Path, rank: int) -> dict:
    return json.loads((out / f"result-{rank}.json").read_text())


def test_every_rank_skips_the_nan_step_and_ends_identical(tmp_path):
    out = _launch(tmp_path, guarded=True)
    r0, r1 = _result(out, 0), _result(out, 1)
    assert r0["skipped"] == r1["skipped"] == [NAN_STEP]
    assert r0["global_step"] == r1["global_step"] == 16
    assert r0["finite"] and r1["finite"]
    w0, w1 = (torch.load(out / f"weights-{r}.pt", weights_only=True) for r in (0, 1))
    assert w0.keys() == w1.keys() and all(torch.equal(w0[k], w1[k]) for k in w0)
    for rank in (0, 1):
        (event,) = [json.loads(line) for line in (out / f"events-{rank}.jsonl").read_text().splitlines()]
        got = (event["action"], event["signal"], event["step"], event["epoch"], event["rank"])
        assert got == ("skip", "nonfinite", NAN_STEP, 0, rank)


def test_without_the_guard_both_ranks_end_with_nan_weights(tmp_path):
    out = _launch(tmp_path, guarded=False)
    assert not _result(out, 0)["finite"] and not _result(out, 1)["finite"]
