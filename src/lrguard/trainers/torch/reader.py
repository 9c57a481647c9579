"""Read a plain PyTorch run directory: event files (:mod:`lrguard.readers.tbrun`) plus ``torch.save`` files."""

from __future__ import annotations

from pathlib import Path

from lrguard.model import Run
from lrguard.readers.tbrun import checkpoint_files, read_tb_run, torch_checkpoint_facts


def read_torch_run(path: Path) -> Run:
    """Read a plain PyTorch run directory (event files plus ``torch.save`` checkpoints).

    Raises:
        NotARunError: No event file below ``path``.
        InputError: An event file is malformed, or none holds an LR tag.
    """
    notes: list[str] = []
    facts = [f for p in checkpoint_files(path) if (f := torch_checkpoint_facts(p, notes)) is not None]
    return read_tb_run(path, "torch", checkpoints=facts, config={"num_processes": 1}, notes=notes)


__all__ = ["read_torch_run"]
