"""The writer process of the last-good kill test: a trainer that overwrites last.pt in place, then calls the keeper."""

from __future__ import annotations

from typing import Any


def overwrite_forever(path: str, start: int, ready: Any) -> None:
    """``torch.save`` into ``path`` in place (truncate + rewrite, as YOLOv5/Ultralytics do) and publish each save."""
    import torch

    from lrguard.checkpoint.last_good import LastGood

    keeper = LastGood()
    weights = torch.arange(1 << 18, dtype=torch.float32)
    ready.set()
    epoch = start
    while True:  # until the test kills this process
        epoch += 1
        ckpt = {"epoch": epoch, "model": {"w": weights + epoch}, "optimizer": {"state": {}, "param_groups": []}}
        torch.save(ckpt, path)
        keeper.publish(path, epoch=epoch)
