"""Inspect training checkpoints without executing them and without torch.

:func:`read_facts` is what the diagnosis consumes; :func:`load` gives the whole walked checkpoint.
Submodules, one concept each:

* ``pickle_walk``: the non-executing pickle reader (protocols 0-5); ``placeholders``: what globals
  and calls become; ``rebuild``: the small allowlist rebuilt as plain data; ``plain``: bounded
  conversion to JSON-friendly values;
* ``archive``: torch zip / legacy / plain pickle files; ``zipdir``: lean zip central directory;
* ``facts``: the :class:`~lrguard.model.CheckpointFacts` record; ``tensors``: tensor records and
  counts; ``structure``: trainer, version, what is present/missing for resume;
* ``resume``: the resume verdict record and its dispatch to the trainer that wrote the file
  (``Trainer.resume_verdict``); ``epoch_resume`` and ``scheduler_resume``: the shared checks the
  trainers build their verdicts on; ``hfdir``: HF Trainer directories; ``safetensors``: header checks;
* ``integrity``: CRCs, sizes, storages, NaN/Inf scan, sidecar manifest; ``security``: the verdict on
  every global; ``atomic``: verified atomic saving; ``inspect``: one record per path for the CLI.
"""

from __future__ import annotations

from pathlib import Path

from lrguard.checkpoint.archive import Loaded, load
from lrguard.checkpoint.facts import facts_from_root
from lrguard.checkpoint.resume import ResumeReport, check_resume
from lrguard.checkpoint.structure import describe
from lrguard.checkpoint_facts import CheckpointFacts

__all__ = ["Loaded", "ResumeReport", "load", "read_facts", "resume_report"]


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


def resume_report(path: str | Path) -> ResumeReport:
    """What resuming from a checkpoint file does to the LR (evidence for diagnose), as its trainer says.

    Uses the run's opt.yaml/args.yaml and results.csv when the file sits in ``<run>/weights/``.

    Raises:
        lrguard.errors.InputError: The file is unreadable, truncated or not a checkpoint.
    """
    loaded = load(path)
    facts = facts_from_root(path, loaded.root)
    return check_resume(facts, describe(loaded.root, loaded.storages), Path(path), loaded.root)
