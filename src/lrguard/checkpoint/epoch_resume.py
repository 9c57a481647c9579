"""The resume check of trainers that save no scheduler and rebuild their epoch ``lf`` from the stored epoch.

YOLOv5 and Ultralytics work this way (verified against real YOLOv5 7.0.14 and Ultralytics 8.4.190
files): the checkpoint stores ``epoch`` (the 0-based index of the last finished epoch) and the
optimizer, whose param groups hold ``initial_lr`` and, after warmup, ``lr = initial_lr ·
lf(epoch − checkpoint_lr_lag)``; a resume restores the optimizer and rebuilds the scheduler at
``last_epoch = epoch``, so the LR continues where the stored position says. During warmup the
stored ``lr`` is the last warmup-iteration value instead, and the ratio check is skipped.

Everything version-dependent comes from the trainer version's
:class:`~lrguard.trainers.profile.Profile` (``lf`` with its clamp and offset through
:meth:`lrguard.schedules.ScheduleSpec.lf`, the log and checkpoint lags, the warmup floor, the
epoch numbering); everything that names the trainer's files, options and behaviour on resume comes
from its :class:`EpochRules` (``trainers/yolov5/resume.py``, ``trainers/ultralytics/resume.py``).

Epoch numbers in the texts are the trainer's own (``profile.epoch_base``); the JSON numbers
(``schedule.epoch``, ``jump.epoch``) stay 0-based schedule indices. A checkpoint older than the
run's results.csv (a stale ``last.pt``) rewinds the run: the epochs after it are trained and
logged again, at the higher LR of the earlier schedule position (``resume-from-older-checkpoint``),
so it is a ``jump``, not ``seamless``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lrguard import constants as C
from lrguard.checkpoint.resume import JUMP, REFUSE, REL_TOL, SEAMLESS, UNKNOWN, ResumeReport, num, results_epochs
from lrguard.checkpoint_facts import CheckpointFacts
from lrguard.trainers.profile import Profile


@dataclass(frozen=True)
class ConfigEffect:
    """What the run directory's configuration file does on resume.

    Attributes:
        epochs: Total epochs the resumed schedule spans.
        lr0: Its initial LR.
        lrf: Its final LR factor.
        cos_lr: Cosine instead of linear.
        reason: Why the schedule changes (empty when it does not).
        broken: Why the resume fails on the file (``None`` when it does not).
    """

    epochs: float | None
    lr0: float | None
    lrf: float | None
    cos_lr: bool
    reason: str = ""
    broken: str | None = None


class EpochRules:
    """What one trainer of this kind says and does on resume; subclassed in its trainer package.

    Attributes:
        label: The trainer's name in the texts (``"YOLOv5"``).
        command: The resume option as the user writes it (``"--resume"``).
        batch_key: The training-argument key of the batch size.
        profile: The trainer version's rules (set by :meth:`for_checkpoint`).
    """

    label: str = ""
    command: str = ""
    batch_key: str = "batch"

    def __init__(self, profile: Profile) -> None:
        """Bind the rules to the profile of the version that wrote the checkpoint."""
        self.profile = profile

    def schedule_args(self, args: dict[str, Any]) -> dict[str, Any]:
        """``{"epochs", "lr0", "lrf", "warmup_epochs", "cos_lr", "time"}`` from training arguments."""
        raise NotImplementedError

    def nbs(self, args: dict[str, Any]) -> float:
        """The nominal batch size the gradient accumulation is computed from."""
        return float(self.profile.fixed_nbs) if self.profile.fixed_nbs else (num(args.get("nbs")) or 64.0)

    def stripped(self, args: dict[str, Any], sched: dict[str, Any]) -> ResumeReport:
        """The verdict on a stripped file (finished training: no optimizer, epoch -1)."""
        raise NotImplementedError

    def replans_epochs(self, sched: dict[str, Any]) -> bool:
        """Whether the trainer re-plans the total epochs while training (a time budget)."""
        return False

    def read_config(self, run_dir: Path, sched: dict[str, Any], report: ResumeReport) -> ConfigEffect | None:
        """Read the run directory's configuration file; add details to ``report``; say what it changes.

        Returns:
            The schedule the resume runs with, or ``None`` when it keeps the checkpoint's.
        """
        return None

    def extension(self, effect: ConfigEffect, start: int) -> bool:
        """Whether an edited ``epochs`` below the start epoch turns the resume into a fine-tune extension."""
        return False

    def before_resume(self, sched: dict[str, Any], report: ResumeReport) -> None:
        """Add the trainer's notes about the resumed schedule (e.g. a moving time budget)."""
        return None

    def edited_after_save(
        self, report: ResumeReport, ratio: float, epoch: int, sched: dict[str, Any], base: float
    ) -> bool:
        """Explain a stored ``lr / initial_lr`` that the training arguments' schedule does not give.

        Called after warmup, when every group agrees on ``ratio`` and results.csv does not rewind.
        A trainer whose training arguments can be edited inside the checkpoint after it was saved
        recognises that here, sets the verdict on ``report`` and returns ``True``.
        """
        return False

    def lf(self, x: float, epochs: float, lrf: float, cos: bool) -> float:
        """The profile's ``lf(x)`` of a schedule over ``epochs`` (the diagnosis' own maths)."""
        from lrguard.schedules.spec import ScheduleSpec

        spec = ScheduleSpec(lr0=1.0, lrf=lrf, epochs=epochs, cos_lr=cos)  # type: ignore[arg-type]  # float E
        return float(spec.lf(x, self.profile))

    def trained_at(self, epoch: int, epochs: float, lrf: float, cos: bool) -> float:
        """``lf`` of the LR that 0-based epoch ``epoch`` trains at (the logged value: ``log_lag``)."""
        return self.lf(epoch - self.profile.log_lag, epochs, lrf, cos)

    def first_resumed(self, start: int, epochs: float, lrf: float, cos: bool) -> float:
        """``lf`` of the LR the first resumed epoch ``start`` trains at.

        A trainer that steps its scheduler at the end of the epoch (``resume_row_restored``) trains
        it at the LR restored with the optimizer, ``lf(start - 1 - checkpoint_lr_lag)``; one that
        steps first trains it at the schedule's own value.
        """
        if self.profile.resume_row_restored:
            return self.lf(start - 1 - self.profile.checkpoint_lr_lag, epochs, lrf, cos)
        return self.trained_at(start, epochs, lrf, cos)

    def trainer_epoch(self, i: int) -> int:
        """A 0-based epoch as the trainer numbers it in results.csv and its log."""
        return i + self.profile.epoch_base


def implied_epochs(ratio: float, x: int, lrf: float, cos: bool, offset: int = 0) -> float | None:
    """The total epochs ``E`` for which ``lf(x) = ratio`` (:func:`lrguard.schedules.fit.implied_epochs`)."""
    if x <= 0 or lrf >= 1:
        return None
    from lrguard.schedules.fit import implied_epochs as fit

    got = float(fit(ratio, x, lrf, cos_lr=cos, offset=offset))
    return got if math.isfinite(got) else None


def check_epoch_resume(facts: CheckpointFacts, rules: EpochRules, run_dir: Path | None) -> ResumeReport:
    """Say what resuming from this checkpoint does to the LR, with the evidence.

    Args:
        facts: The checkpoint's facts.
        rules: The trainer's rules, bound to the profile of the version that wrote the file.
        run_dir: The run directory around the file, to read its configuration and results.csv.

    Returns:
        The report; a ``jump`` holds ``epoch`` (0-based schedule index) and ``trainer_epoch`` (the
        same epoch as the trainer numbers it in results.csv: what events and fixes name).
    """
    report = _check(facts, rules, run_dir)
    if report.jump and isinstance(report.jump.get("epoch"), int):
        report.jump["trainer_epoch"] = rules.trainer_epoch(report.jump["epoch"])
    return report


def _check(facts: CheckpointFacts, rules: EpochRules, run_dir: Path | None) -> ResumeReport:
    cmd = rules.command
    args = facts.train_args
    sched = rules.schedule_args(args)
    if facts.stripped or not facts.has_optimizer:
        return rules.stripped(args, sched)
    report = ResumeReport(UNKNOWN, "")
    epoch = facts.epoch if facts.epoch is not None else -1
    E, lrf, cos = sched["epochs"], sched["lrf"], sched["cos_lr"]
    te = rules.trainer_epoch
    report.schedule = {
        **sched,
        "epoch": epoch,
        "lrs": list(facts.lrs),
        "initial_lrs": list(facts.initial_lrs),
        "group_tags": list(facts.group_tags),
    }
    if E is None or lrf is None:
        report.summary = "the checkpoint lacks epochs/lrf in its training arguments; schedule not checked"
        report.problems.append("training arguments missing")
        return report
    if any(i is None for i in facts.initial_lrs) or not facts.lrs:
        report.problems.append("param groups lack initial_lr: the scheduler cannot be restored exactly")
    ratios = [lr / i if i else None for lr, i in zip(facts.lrs, facts.initial_lrs, strict=False)]
    stored_at = epoch - rules.profile.checkpoint_lr_lag
    expected = rules.lf(stored_at, E, lrf, cos)
    report.schedule["expected_ratio"] = expected
    report.schedule["ratios"] = ratios
    good = [r for r in ratios if r is not None]
    agree = bool(good) and all(math.isclose(r, good[0], rel_tol=REL_TOL, abs_tol=1e-12) for r in good)
    matches = agree and math.isclose(good[0], expected, rel_tol=REL_TOL, abs_tol=1e-12)
    warm = sched["warmup_epochs"] or 0.0
    floor = rules.profile.warmup_floor
    warm_why = []
    if not matches:
        if not agree:
            shown_ratios = ", ".join(f"{r:.4g}" for r in good)
            warm_why.append(f"the groups' lr/initial_lr differ ({shown_ratios}), as only warmup makes them")
        if epoch + 1 <= math.ceil(warm):
            warm_why.append(f"epoch {te(epoch)} is within warmup_epochs {warm:g}")
        elif floor > 0 and good and good[0] < expected:
            warm_why.append(
                f"lr/initial_lr {good[0]:.6g} is below lf({stored_at}) = {expected:.6g}: {rules.label} warms up for at "
                f"least {floor} iterations, which runs past warmup_epochs when an epoch has few batches"
            )
    in_warmup = bool(warm_why)
    report.schedule["in_warmup"] = in_warmup
    if matches:
        report.details.append(
            f"lr/initial_lr = {good[0]:.6g} in every group = lf({stored_at}) of a "
            f"{'cosine' if cos else 'linear'} "
            f"schedule over {E:g} epochs (lrf={lrf:g}): the schedule position matches the stored epoch."
        )
    elif in_warmup:
        report.details.append(
            f"saved during warmup ({'; '.join(warm_why)}): "
            "the stored lr is "
            "the last warmup-iteration value; the ratio check does not apply and resume continues the "
            "warmup from the same iteration."
        )
    else:
        imp = [implied_epochs(r, stored_at, lrf, cos, rules.profile.linear_offset) for r in good]
        report.schedule["implied_epochs"] = imp
        shown = ", ".join(f"{x:.4g}" if x else "?" for x in imp)
        report.problems.append(
            f"lr/initial_lr = {good[0]:.6g} does not equal lf({stored_at}) = {expected:.6g} for {E:g} epochs; "
            f"it implies a schedule of {shown} total epochs (the optimizer state was saved by a differently "
            "configured schedule)"
        )
    if facts.updates is not None and epoch >= 0:
        _updates(facts.updates, epoch, warm, args, rules, report)
    if epoch + 1 >= E and not rules.replans_epochs(sched):
        report.verdict = REFUSE
        report.summary = (
            f"{cmd}: the run already finished all {E:g} epochs (epoch {te(epoch)}); there is nothing to resume."
        )
        return report

    effect: ConfigEffect | None = None
    rewind: tuple[int, int] | None = None  # (last epoch results.csv logs, checkpoint epoch), 0-based
    if run_dir is not None:
        effect = rules.read_config(run_dir, sched, report)
        rewind = _results(run_dir, epoch, rules, report)
    if effect is not None and effect.broken is not None:
        report.verdict = REFUSE
        report.problems.append(effect.broken)
        report.summary = (
            f"{cmd} from this file fails: {effect.broken}, and {rules.label} reads every option from it on resume. "
            f"Restore it, or remove it so that {cmd} falls back to the options stored in the checkpoint."
        )
        return report
    rules.before_resume(sched, report)
    start = epoch + 1
    base = facts.initial_lrs[0] if facts.initial_lrs and facts.initial_lrs[0] else sched["lr0"] or 0.0
    if effect is not None and effect.reason and effect.epochs is not None:
        _changed_schedule(report, rules, effect, sched, base, epoch, rewind)
        return report
    if (
        not matches
        and not in_warmup
        and good
        and rewind is None
        and rules.edited_after_save(report, good[0], epoch, sched, base)
    ):
        return report
    if rewind is not None:
        last_logged = rewind[0]
        # the LR the last logged epoch trained at vs the one the resumed process trains with first
        before = base * rules.trained_at(last_logged, E, lrf, cos)
        after = base * rules.first_resumed(start, E, lrf, cos)
        report.verdict = JUMP
        report.jump = {
            "epoch": start,
            "lr_before": before,
            "lr_after": after,
            "reason": f"the checkpoint is older than results.csv: epochs {te(start)}-{te(last_logged)} are "
            "trained and logged again",
            "cause": "resume-from-older-checkpoint",
        }
        report.summary = (
            f"{cmd} from this file rewinds the run: it holds epoch {te(epoch)} but results.csv already logs "
            f"epoch {te(last_logged)}, so epochs {te(start)}-{te(last_logged)} are trained again (LR back up "
            f"to {after:.6g} from {before:.6g}) and logged twice (resume-from-older-checkpoint). Resume from the "
            "checkpoint of the last logged epoch if you have it."
        )
        return report
    if report.problems:
        report.verdict = UNKNOWN
        report.summary = f"{cmd} restores the optimizer, but the stored LR state is inconsistent (see problems)."
        return report
    report.verdict = SEAMLESS
    if rules.profile.checkpoint_lr_lag:
        report.details.append(
            f"{rules.profile.label} saved the optimizer before its scheduler step: the first resumed epoch "
            f"{te(start)} trains again at the stored lr, {rules.profile.checkpoint_lr_lag} epoch behind the schedule."
        )
    nxt = base * rules.first_resumed(start, E, lrf, cos)
    report.summary = (
        f"{cmd} continues seamlessly at epoch {te(start)} of {E:g}: the optimizer, EMA and schedule position "
        f"are restored (epoch {te(start)} trains at lr {nxt:.6g} after warmup)."
    )
    return report


def _updates(
    updates: int, epoch: int, warm: float, args: dict[str, Any], rules: EpochRules, report: ResumeReport
) -> None:
    """What the EMA ``updates`` counter says about the optimizer steps per epoch."""
    steps = updates / (epoch + 1)
    batch = num(args.get(rules.batch_key))
    nbs = rules.nbs(args)
    text = f"EMA updates = {updates} ≈ {steps:.4g} optimizer steps per epoch"
    # only well past warmup: warmup ramps accumulate up from 1 (for at least the warmup floor)
    if batch and batch > 0 and steps > 0 and epoch + 1 > 2 * warm + 1:
        accumulate = max(round(nbs / batch), 1)
        text += (
            f"; with accumulate = {accumulate} (nbs {nbs:g} / batch {batch:g}) that is about "
            f"{steps * accumulate:.4g} batches per epoch (an upper bound: warmup epochs step more often)"
        )
    report.details.append(text + ".")
    if updates == 0:
        report.details.append(
            "EMA updates = 0: no optimizer step yet (fewer batches than the gradient-accumulation "
            "count); the EMA still equals the initial weights."
        )


def _results(run_dir: Path, epoch: int, rules: EpochRules, report: ResumeReport) -> tuple[int, int] | None:
    """Compare the checkpoint's epoch with results.csv's last; ``(last logged, epoch)`` when it rewinds."""
    te = rules.trainer_epoch
    rows = results_epochs(run_dir / C.RESULTS_CSV)
    if not rows:
        return None
    last_logged = rows[-1] - rules.profile.epoch_base
    if last_logged > epoch:
        report.details.append(
            f"results.csv already logs epoch {te(last_logged)} but this checkpoint holds epoch "
            f"{te(epoch)}: resuming trains epochs {te(epoch + 1)}-{te(last_logged)} again and logs "
            f"them twice (resume-from-older-checkpoint)."
        )
        return (last_logged, epoch)
    if last_logged < epoch:
        report.details.append(f"results.csv ends at epoch {te(last_logged)}, before the checkpoint's {te(epoch)}.")
    else:
        report.details.append(f"results.csv ends at the checkpoint's epoch {te(epoch)}.")
    return None


def _changed_schedule(
    report: ResumeReport,
    rules: EpochRules,
    effect: ConfigEffect,
    sched: dict[str, Any],
    base: float,
    epoch: int,
    rewind: tuple[int, int] | None,
) -> None:
    """The verdict when the configuration file changes the schedule the resume runs with."""
    te = rules.trainer_epoch
    cmd = rules.command
    E, lrf, cos = sched["epochs"], sched["lrf"], sched["cos_lr"]
    start = epoch + 1
    new_E = effect.epochs
    assert new_E is not None
    new_lrf = effect.lrf if effect.lrf is not None else lrf
    reason = effect.reason
    extension = rules.extension(effect, start)
    eff_E = new_E + epoch if extension and not effect.cos_lr else new_E
    if extension:
        reason += (
            f"; epochs {new_E:g} < start epoch {start}, so {rules.label} fine-tunes for {new_E:g} more "
            f"epochs (linear schedule now over {eff_E:g} epochs)"
        )
    # The first resumed epoch runs at the stored lr; the scheduler step that follows it applies the
    # new lf, so the epoch after it trains at lr0' * lf' instead of initial_lr * lf.
    at = start + 1
    before = base * rules.trained_at(at, E, lrf, cos)
    after = (effect.lr0 or base) * rules.trained_at(at, eff_E, new_lrf, effect.cos_lr)
    if math.isclose(before, after, rel_tol=1e-3):
        report.verdict = SEAMLESS
        report.summary = f"{cmd} continues the LR schedule without a jump (options changed but the LR agrees)."
    else:
        report.verdict = JUMP
        direction = "up" if after > before else "down"
        report.jump = {"epoch": at, "lr_before": before, "lr_after": after, "reason": reason}
        report.summary = (
            f"{cmd} from this file jumps the LR {direction} to {after:.6g} (instead of {before:.6g}) at "
            f"epoch {te(at)}: {reason}."
        )
    if rewind is not None:
        report.problems.append(
            f"the checkpoint (epoch {te(rewind[1])}) is older than results.csv (epoch {te(rewind[0])})"
        )
