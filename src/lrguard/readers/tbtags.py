"""Which TensorBoard tags of a hand-written loop hold the LR, the loss and the gradient norm (by name)."""

from __future__ import annotations

import re
from collections.abc import Iterable

#: An LR tag: ``lr``, ``learning_rate``, ``train/lr``, ``lr/<group>``, ``lr-<optimizer>`` (Lightning
#: ``LearningRateMonitor`` style), ``lr-SGD/pg1``; case-insensitive.
LR_TAG = re.compile(r"^(?:(?:train|training|optim|optimizer)[/_])?(?:lr|learning[_-]?rate)(?:$|[/_-].*)", re.I)
LOSS_TAG = re.compile(r"^(?:(?:train|training)[/_])?(?:train[_-])?loss(?:$|[/_-].*)", re.I)
GRAD_NORM_TAG = re.compile(r"(?:^|[/_-])grad[_-]?norm(?:$|[/_-])", re.I)


def lr_tags(tags: Iterable[str]) -> list[str]:
    """The LR tags, one per param group, in the order they first appear."""
    return [t for t in tags if LR_TAG.match(t)]


def loss_tag(tags: Iterable[str]) -> str | None:
    """The training loss tag (the shortest name that looks like one), if any."""
    found = [t for t in tags if LOSS_TAG.match(t) and not re.search(r"val|eval|test", t, re.I)]
    return min(found, key=len) if found else None


def grad_norm_tag(tags: Iterable[str]) -> str | None:
    """The gradient-norm tag, if any."""
    found = [t for t in tags if GRAD_NORM_TAG.search(t)]
    return min(found, key=len) if found else None


__all__ = ["GRAD_NORM_TAG", "LOSS_TAG", "LR_TAG", "grad_norm_tag", "loss_tag", "lr_tags"]
