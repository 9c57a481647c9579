"""A plain torch training script that knows nothing of lrguard (run by tests/test_guard_zero_code.py).

``python _zero_code_script.py OUT NAN_STEP [NAN_RANK]``: SGD with momentum on a tiny linear model; the
input of step NAN_STEP (on rank NAN_RANK only, under torchrun) holds a NaN. Under torchrun the model is
wrapped in DDP over gloo. Writes ``OUT/rank<r>.json``: whether the weights ended finite.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch


def main() -> None:
    out, nan_step = Path(sys.argv[1]), int(sys.argv[2])
    nan_rank = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    distributed = "RANK" in os.environ
    if distributed:
        torch.distributed.init_process_group("gloo")
    rank = torch.distributed.get_rank() if distributed else 0
    torch.manual_seed(0)
    model: torch.nn.Module = torch.nn.Linear(4, 1)
    if distributed:
        model = torch.nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = torch.randn(16, 4), torch.randn(16, 1)
    for step in range(10):
        xb = x.clone()
        if step == nan_step and rank == nan_rank:
            xb[0, 0] = float("nan")
        torch.nn.functional.mse_loss(model(xb), y).backward()
        opt.step()
        opt.zero_grad()
    finite = all(bool(torch.isfinite(p).all()) for p in model.parameters())
    (out / f"rank{rank}.json").write_text(json.dumps({"finite": finite}), encoding="utf-8")
    if distributed:  # both ranks done before teardown (without it gloo sometimes aborts rank 0 at exit)
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
