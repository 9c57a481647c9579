"""Planned LR curves: per iteration and as logged per results.csv row, for every param group.

All functions are pure: they take a :class:`ScheduleSpec`, a :class:`Profile` and epoch indices
(0-based, counted from the start of the schedule) and return numpy arrays of shape
``(len(epochs), n_groups)`` (or ``(n_iterations, n_groups)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from lrguard.schedules.spec import ScheduleSpec
from lrguard.schedules.warmup import warmup_iterations, warmup_lr
from lrguard.trainers.profile import Profile


def group_bases(spec: ScheduleSpec, profile: Profile, n_groups: int | None = None) -> np.ndarray:
    """Return every group's ``initial_lr`` (``lr0`` times the group's scale)."""
    n = profile.n_groups if n_groups is None else n_groups
    return np.array([spec.lr0 * profile.lr_scale(j) for j in range(n)], dtype=float)


def warmup_starts(spec: ScheduleSpec, profile: Profile, n_groups: int | None = None) -> np.ndarray:
    """Return every group's warmup start value (``warmup_bias_lr`` for the warmed-down group)."""
    n = profile.n_groups if n_groups is None else n_groups
    starts = np.zeros(n, dtype=float)
    if profile.warmup_bias_group < n:
        starts[profile.warmup_bias_group] = spec.warmup_bias_lr
    return starts


def nw_of(spec: ScheduleSpec, profile: Profile) -> int:
    """Warmup iterations of ``spec`` (0 when ``nb`` is unknown or warmup is off)."""
    if spec.nb is None:
        return 0
    return warmup_iterations(spec.warmup_epochs, spec.nb, spec.epochs, profile)


def warmup_rows(spec: ScheduleSpec, profile: Profile) -> int:
    """Number of leading epochs that contain warmup iterations (0 when none or ``nb`` unknown)."""
    nw = nw_of(spec, profile)
    if nw <= 0 or spec.nb is None:
        return 0
    return nw // spec.nb + 1


def logged_lr(spec: ScheduleSpec, profile: Profile, epochs: ArrayLike, n_groups: int | None = None) -> np.ndarray:
    """The LR each group shows in results.csv for 0-based schedule epochs ``epochs``.

    Both trainers log the LR after the last batch of the epoch. During warmup that is the
    interpolated value at the epoch's last iteration; in the epoch where warmup ends it is
    ``initial_lr * lf(e)``; afterwards ``initial_lr * lf(e - log_lag)`` (YOLOv5 steps the
    scheduler at the end of the epoch, so a row shows the previous epoch's ``lf``).

    Args:
        spec: Schedule inputs; ``nb`` may be ``None``, then warmup is ignored.
        profile: The trainer version's rules.
        epochs: 0-based epoch indices within this schedule.
        n_groups: Number of groups (defaults to the profile's).

    Returns:
        Array ``(len(epochs), n_groups)``.
    """
    e = np.atleast_1d(np.asarray(epochs, dtype=float))
    bases = group_bases(spec, profile, n_groups)
    after = spec.lf(np.maximum(e - profile.log_lag, 0.0), profile)[:, None] * bases[None, :]
    nw = nw_of(spec, profile)
    if nw <= 0 or spec.nb is None:
        return after
    nb = spec.nb
    in_warmup = nb * e <= nw
    if not in_warmup.any():
        return after
    target = spec.lf(e, profile)[:, None] * bases[None, :]
    last_ni = nb * e + nb - 1
    starts = warmup_starts(spec, profile, n_groups)
    ramp = warmup_lr(np.minimum(last_ni, nw)[:, None], nw, starts[None, :], target)
    during = np.where((last_ni <= nw)[:, None], ramp, target)
    return np.where(in_warmup[:, None], during, after)


def iteration_lr(
    spec: ScheduleSpec, profile: Profile, epochs: int, start_epoch: int = 0, n_groups: int | None = None
) -> np.ndarray:
    """The LR of every group at every training iteration of epochs ``start_epoch .. epochs-1``.

    Requires ``spec.nb``. Row ``k`` is iteration ``ni = start_epoch * nb + k``.

    Raises:
        ValueError: If ``spec.nb`` is unknown.
    """
    if spec.nb is None:
        raise ValueError("batches per epoch (nb) is needed for a per-iteration curve")
    nb = spec.nb
    ni = np.arange(start_epoch * nb, epochs * nb, dtype=float)
    e = np.floor(ni / nb)
    bases = group_bases(spec, profile, n_groups)
    train_epoch = np.maximum(e - profile.log_lag, 0.0)
    lr = spec.lf(train_epoch, profile)[:, None] * bases[None, :]
    nw = nw_of(spec, profile)
    if nw > 0:
        target = spec.lf(e, profile)[:, None] * bases[None, :]
        starts = warmup_starts(spec, profile, n_groups)
        ramp = warmup_lr(np.minimum(ni, nw)[:, None], nw, starts[None, :], target)
        # After the last warmup iteration the LR stays at the warmup target until the epoch ends.
        handoff = (ni > nw) & (e * nb <= nw)
        lr = np.where((ni <= nw)[:, None], ramp, np.where(handoff[:, None], target, lr))
    return lr


@dataclass(frozen=True)
class SessionPlan:
    """One training session of a run that may be resumed with changed settings.

    Attributes:
        start_epoch: 0-based first epoch the session trains (0 for a fresh run).
        stop_epoch: 0-based epoch where it stops (exclusive).
        spec: The settings this session's scheduler is built with.
        resumed: True for ``--resume`` (optimizer and epoch restored from the checkpoint of
            epoch ``start_epoch - 1``).
    """

    start_epoch: int
    stop_epoch: int
    spec: ScheduleSpec
    resumed: bool = False


def logged_lr_sessions(
    sessions: list[SessionPlan], profile: Profile, n_groups: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Logged LR of a run made of several sessions, in the order results.csv would show it.

    When the profile restores the checkpoint's LR for the first resumed epoch (YOLOv5,
    Ultralytics < 8.1.47), that row repeats what the previous session's schedule had set and the
    new settings take effect one row later; otherwise the first resumed row already follows the
    new settings.

    Args:
        sessions: Sessions in the order they ran.
        profile: Trainer version rules.
        n_groups: Number of groups.

    Returns:
        ``(epoch_index, lr)``: the 0-based epoch of every row and the ``(rows, n_groups)`` LR.
    """
    epoch_parts: list[np.ndarray] = []
    lr_parts: list[np.ndarray] = []
    for k, sess in enumerate(sessions):
        epochs = np.arange(sess.start_epoch, sess.stop_epoch)
        if epochs.size == 0:
            continue
        lr = logged_lr(sess.spec, profile, epochs, n_groups)
        if sess.resumed and k > 0 and profile.resume_row_restored:
            prev = sessions[k - 1].spec
            lr[0] = logged_lr(prev, profile, np.array([sess.start_epoch - profile.checkpoint_lr_lag]), n_groups)[0]
        epoch_parts.append(epochs)
        lr_parts.append(lr)
    if not lr_parts:
        n = profile.n_groups if n_groups is None else n_groups
        return np.zeros(0, dtype=int), np.zeros((0, n))
    return np.concatenate(epoch_parts), np.vstack(lr_parts)
