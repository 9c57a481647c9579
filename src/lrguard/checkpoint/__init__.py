"""Inspect training checkpoints without executing them and without torch.

:func:`read_facts` is what the diagnosis consumes; :func:`load` gives the whole walked checkpoint.
Submodules, one concept each: ``pickle_walk`` (the non-executing pickle reader), ``rebuild`` (the
plain-data allowlist), ``archive`` (zip / legacy / plain pickle files), ``facts`` (the
:class:`~lrguard.model.CheckpointFacts` record), ``plain`` (bounded conversion to plain values).
"""

from __future__ import annotations

from pathlib import Path

from lrguard.checkpoint.archive import Loaded, load
from lrguard.checkpoint.facts import facts_from_root
from lrguard.model import CheckpointFacts

__all__ = ["Loaded", "load", "read_facts"]


def read_facts(path: str | Path) -> CheckpointFacts:
    """Read the plain training facts of a checkpoint file without executing it.

    Args:
        path: A torch zip (``.pt``/``.pth``/``.ckpt``), legacy torch file or plain pickle.

    Returns:
        Epoch, optimizer presence and per-group ``lr``/``initial_lr``/tags, EMA ``updates``, version,
        date, ``opt``/``train_args`` and ``train_results`` as plain values.

    Raises:
        lrguard.errors.InputError: The file is unreadable, truncated or not a checkpoint.
    """
    loaded = load(path)
    return facts_from_root(path, loaded.root)
