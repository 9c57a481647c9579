"""A trainer's checkpoint directory as the inspector reads it: which files hold what.

Some trainers save their training state as a directory of separate files (Accelerate's
``save_state``: ``model.safetensors``, ``optimizer.bin``, ``scheduler.bin``,
``random_states_<rank>.pkl``). The trainer names them (:meth:`lrguard.trainers.base.Trainer.state_dir`);
the inspector walks every pickled one without executing it, judges its security, and hands the
walked objects back to the trainer's :meth:`~lrguard.trainers.base.Trainer.resume_verdict`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class StateDir:
    """The files of one checkpoint directory.

    Attributes:
        kind: The trainer's name for the layout (passed to ``reads_checkpoint``), e.g. ``"accelerate"``.
        format: The ``format`` field of the ``ckpt show`` record (``"accelerate-state-dir"``).
        pickled: The pickled files to walk, by file name.
        has: Component -> present (``model``, ``optimizer``, ``scheduler``, ``rng``, ...).
        needs: The components a faithful resume needs (absent ones are reported as missing).
    """

    kind: str
    format: str
    pickled: tuple[Path, ...]
    has: dict[str, bool] = field(default_factory=dict)
    needs: tuple[str, ...] = ()
