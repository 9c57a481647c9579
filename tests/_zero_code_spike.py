"""A plain torch script that knows nothing of lrguard (run by tests/test_cli_run_actions.py).

``python _zero_code_spike.py OUT SPIKE_STEP``: plain SGD (no momentum) on a tiny linear model and a
loss linear in its weights, 30 steps; the input of SPIKE_STEP is multiplied by 1000 (a gradient-norm explosion). Writes
``OUT/lr.json``: the LR each step really applied, measured from the update (``-delta w / grad``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch


def main() -> None:
    out, spike = Path(sys.argv[1]), int(sys.argv[2])
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1, bias=False)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    applied = []
    for step in range(30):
        x = torch.randn(16, 4) + 1.0
        if step == spike:
            x = x * 1000.0
        model(x).mean().backward()  # linear in the weights: the gradient is the batch mean, a spike does not compound
        before, grad = model.weight.detach().clone(), model.weight.grad.detach().clone()
        opt.step()
        opt.zero_grad()
        applied.append(float(((before - model.weight.detach()) / grad).mean()))
    (out / "lr.json").write_text(json.dumps(applied), encoding="utf-8")


if __name__ == "__main__":
    main()
