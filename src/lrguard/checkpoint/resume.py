"""Resume check: what ``--resume`` (YOLOv5) or ``resume=True`` (Ultralytics) from a file does to the LR.

Facts both trainers share, verified against real YOLOv5 7.0.14 and Ultralytics 8.4.190 files: the
stored ``epoch`` is the 0-based index of the last finished epoch, and after warmup every param group
stores ``lr = initial_lr · lf(epoch)``. YOLOv5 steps its scheduler at the end of the epoch with
``last_epoch`` starting at ``start_epoch − 1``; Ultralytics ≥ 8.1.47 steps at the start of the epoch;
both leave ``lf(epoch)`` in the optimizer when the checkpoint is written. During warmup the stored
``lr`` is the last warmup-iteration value instead (bias group falling from ``warmup_bias_lr``, others
rising from 0), so the ratio check is skipped there.

The schedules (``E`` total epochs, ``lrf`` final factor):

* YOLOv5 linear ``lf(x) = (1 − x/E)(1 − lrf) + lrf`` (no clamp); Ultralytics linear the same with
  ``max(1 − x/E, 0)``;
* cosine ``lf(x) = ((1 − cos(xπ/E))/2)(lrf − 1) + 1``.

What resume does: YOLOv5 replaces every option by the run's ``opt.yaml`` (falling back to the
checkpoint's ``opt``), restores the optimizer (so the first resumed epoch runs at the stored lr) and
applies the new ``lf`` from the next scheduler step — editing ``epochs``/``lr0``/``lrf`` in opt.yaml
therefore jumps the LR one epoch after resuming; an ``epochs`` below ``epoch + 1`` becomes a
"fine-tune extension" to ``epochs + epoch``. Ultralytics takes ``train_args`` from the checkpoint
(args.yaml edits are ignored), so a resume is seamless unless ``time=`` re-plans epochs. A stripped file
is refused by both (YOLOv5 asserts "nothing to resume"; Ultralytics starts a new training).

Epoch numbers in the texts are the trainer's own: YOLOv5 counts from 0 (its results.csv and its
"Resuming training from ... from epoch N" agree with the stored value), Ultralytics from 1 (results.csv
and its log say ``stored + 1``). The JSON numbers (``schedule.epoch``, ``jump.epoch``) stay 0-based
schedule indices. A checkpoint older than the run's results.csv (a stale ``last.pt``) rewinds the run:
the epochs after it are trained and logged again, at the higher LR of the earlier schedule position
(``resume-from-older-checkpoint``), so it is a ``jump``, not ``seamless``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lrguard import constants as C
from lrguard.checkpoint.structure import ULTRALYTICS, YOLOV5, Structure
from lrguard.checkpoint_facts import CheckpointFacts

REL_TOL = 1e-4

SEAMLESS = "seamless"
JUMP = "jump"
REFUSE = "refuse"
UNKNOWN = "unknown"


def lf(x: float, epochs: float, lrf: float, cos: bool, clamp: bool) -> float:
    """The LR factor at epoch ``x`` of a YOLO schedule (see the module docstring)."""
    if cos:
        return ((1 - math.cos(x * math.pi / epochs)) / 2) * (lrf - 1) + 1
    lin = 1 - x / epochs
    return (max(lin, 0.0) if clamp else lin) * (1.0 - lrf) + lrf


def implied_epochs(ratio: float, x: int, lrf: float, cos: bool) -> float | None:
    """The total epochs ``E`` for which ``lf(x) = ratio``; ``None`` when not determined.

    Args:
        ratio: Stored ``lr / initial_lr``.
        x: Schedule position (the stored epoch).
        lrf: Final LR factor.
        cos: Cosine instead of linear.
    """
    if x <= 0 or lrf >= 1:
        return None
    frac = (1 - ratio) / (1 - lrf)  # how far along the decay: 0 at start, 1 at the end
    if cos:
        c = 1 - 2 * frac
        if not -1 <= c < 1:
            return None
        return x * math.pi / math.acos(c)
    if frac <= 0:
        return None
    return x / frac


@dataclass
class ResumeReport:
    """What resuming from one checkpoint does to the learning rate.

    Attributes:
        verdict: ``seamless``, ``jump``, ``refuse`` or ``unknown``.
        summary: One plain sentence for users.
        details: Supporting facts and checks, one sentence each.
        problems: Checks that failed (each makes the file "incomplete" for the CLI's exit code).
        schedule: Numbers behind the check (epochs, lrf, cos, expected/stored ratios, implied epochs).
        jump: When ``verdict == "jump"``: ``{"epoch", "lr_before", "lr_after", "reason"}``, plus
            ``"cause": "resume-from-older-checkpoint"`` when the file is older than the run's results.csv.
    """

    verdict: str
    summary: str
    details: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    schedule: dict[str, Any] = field(default_factory=dict)
    jump: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain representation for ``--json``."""
        return {
            "verdict": self.verdict,
            "summary": self.summary,
            "details": self.details,
            "problems": self.problems,
            "schedule": self.schedule,
            "jump": self.jump,
        }


def run_dir_of(path: Path) -> Path | None:
    """The run directory of a checkpoint in ``<run>/weights/``, else ``None``."""
    path = Path(path)
    if path.parent.name == C.WEIGHTS_DIR:
        return path.parent.parent
    return None


def _num(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, int | float):
        return None
    return float(x) if math.isfinite(x) else None


def _show(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _load_yaml(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """``(mapping, None)``, or ``(None, why not)``: ``"missing"``, or what is wrong with the file."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None, "missing"
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"cannot be read ({exc.__class__.__name__})"
    import yaml  # only when the run's opt.yaml/args.yaml exists: `ckpt show` of a lone file stays off it

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None, "does not parse as YAML"
    if data is None:
        return None, "is empty"
    if not isinstance(data, dict):
        return None, f"holds a {type(data).__name__}, not the options mapping"
    return data, None


def _results_epochs(path: Path) -> list[int]:
    import csv  # only when the run's results.csv is read

    try:
        with path.open(newline="") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error):
        return []
    if not rows:
        return []
    header = [h.strip() for h in rows[0]]
    if C.EPOCH_COLUMN not in header:
        return []
    col = header.index(C.EPOCH_COLUMN)
    out = []
    for row in rows[1:]:
        try:
            out.append(int(float(row[col].strip())))
        except (IndexError, ValueError):
            continue
    return out


def _schedule_args(framework: str, args: dict[str, Any]) -> dict[str, Any]:
    raw_hyp = args.get("hyp")
    hyp: dict[str, Any] = raw_hyp if isinstance(raw_hyp, dict) else {}
    src = hyp if framework == YOLOV5 else args
    return {
        "epochs": _num(args.get("epochs")),
        "lr0": _num(src.get("lr0")),
        "lrf": _num(src.get("lrf")),
        "warmup_epochs": _num(src.get("warmup_epochs")),
        "cos_lr": bool(args.get("cos_lr", False)),
        "time": _num(args.get("time")),
    }


def _saved_schedule(
    ratio: float, epoch: int, sched: dict[str, Any], cfg: dict[str, Any] | None
) -> tuple[dict[str, Any], str] | None:
    """The schedule an Ultralytics optimizer state was saved by, when train_args no longer says it.

    The stored ``lr / initial_lr`` is ``lf(epoch)`` of the schedule that trained the run. When it is not
    the one train_args describe, train_args were edited after the save (Ultralytics writes both from the
    same arguments). args.yaml, written when the run started, names the original schedule when its
    ``lf(epoch)`` gives the stored ratio; else a whole number of total epochs that gives it does.

    Returns:
        The saved schedule (``epochs``, ``lr0``, ``lrf``, ``cos_lr``) and where it was read, or ``None``.
    """
    if cfg is not None and cfg.get("epochs") and cfg.get("lrf") is not None:
        old = {k: cfg[k] if cfg.get(k) is not None else sched[k] for k in ("epochs", "lr0", "lrf", "cos_lr")}
        if math.isclose(ratio, lf(epoch, old["epochs"], old["lrf"], old["cos_lr"], True), rel_tol=REL_TOL):
            return old, C.ULTRALYTICS_ARGS_YAML
    implied = implied_epochs(ratio, epoch, sched["lrf"], sched["cos_lr"])
    if implied is not None and round(implied) > epoch + 1 and math.isclose(implied, round(implied), rel_tol=1e-3):
        return {**sched, "epochs": float(round(implied))}, "the optimizer's lr/initial_lr"
    return None


def _edited_train_args(
    report: ResumeReport,
    saved: tuple[dict[str, Any], str],
    sched: dict[str, Any],
    epoch: int,
    base: float,
    cmd: str,
    trainer_epoch: Any,
) -> ResumeReport:
    """The verdict on an Ultralytics checkpoint whose train_args were edited after it was saved."""
    old, where = saved
    keys = ("epochs", "lr0", "lrf", "cos_lr")
    diffs = [f"{k}: {where} {_show(old[k])} -> train_args {_show(sched[k])}" for k in keys if old[k] != sched[k]]
    reason = (
        "the checkpoint's train_args were edited after it was saved (" + "; ".join(diffs) + "); resume=True "
        "takes every schedule setting from them"
    )
    report.problems.clear()  # the inconsistency is explained: the edit
    start = epoch + 1
    # Ultralytics steps the scheduler at the start of each epoch: epoch `start` trains at lf(start)
    # of the rebuilt schedule, whose base LR is train_args' lr0.
    before = (old["lr0"] or base) * lf(start, old["epochs"], old["lrf"], old["cos_lr"], True)
    after = (sched["lr0"] or base) * lf(start, sched["epochs"], sched["lrf"], sched["cos_lr"], True)
    if math.isclose(before, after, rel_tol=1e-3):
        report.verdict = SEAMLESS
        report.summary = f"{cmd} continues the LR schedule without a jump (train_args edited but the LR agrees)."
        return report
    report.verdict = JUMP
    direction = "up" if after > before else "down"
    report.jump = {"epoch": start, "lr_before": before, "lr_after": after, "reason": reason}
    report.summary = (
        f"{cmd} from this file jumps the LR {direction} to {after:.6g} (instead of {before:.6g}) at "
        f"epoch {trainer_epoch(start)}: {reason}."
    )
    return report


def check_resume(facts: CheckpointFacts, structure: Structure, path: Path | None = None) -> ResumeReport:
    """Say what resuming from this checkpoint does to the LR, with the evidence.

    Args:
        facts: The checkpoint's facts (:func:`lrguard.checkpoint.read_facts`).
        structure: Its structure report.
        path: The file, to look for the run's opt.yaml/args.yaml/results.csv in ``<run>/weights/..``.

    Returns:
        The verdict, a one-sentence summary, details and failed checks.
    """
    fw = structure.framework
    if fw not in (YOLOV5, ULTRALYTICS):
        if structure.has.get("optimizer"):
            return ResumeReport(
                UNKNOWN,
                "optimizer state present; lrguard models the LR schedule of YOLOv5 and Ultralytics only",
                schedule={"lrs": list(facts.lrs)},
            )
        return ResumeReport(
            UNKNOWN,
            "no optimizer state: a resume would restart the optimizer",
            problems=["no optimizer state"] if fw != "plain" else [],
        )
    cmd = "--resume" if fw == YOLOV5 else "resume=True"
    base_no = 0 if fw == YOLOV5 else 1  # the trainer's own epoch numbering in results.csv and its log

    def trainer_epoch(i: int) -> int:
        return i + base_no

    args = facts.train_args
    sched = _schedule_args(fw, args)
    if facts.stripped or not facts.has_optimizer:
        epochs = sched["epochs"]
        how = (
            f"YOLOv5 refuses: 'training to {int(epochs) if epochs else '?'} epochs is finished, nothing to resume'"
            if fw == YOLOV5
            else "Ultralytics says it is not resumable and starts a NEW training"
        )
        rep = ResumeReport(
            REFUSE,
            f"{cmd} from this file will not continue the run: it is stripped (finished training). {how}.",
        )
        wbl = _num((args.get("hyp") or {}).get("warmup_bias_lr") if fw == YOLOV5 else args.get("warmup_bias_lr"))
        lr0 = sched["lr0"]
        rep.details.append(
            "Training on from these weights (--weights / YOLO(file).train()) starts a fresh schedule with "
            f"warmup: the bias group restarts at warmup_bias_lr={wbl if wbl is not None else 0.1:g} and the "
            f"other groups ramp up to lr0={lr0 if lr0 is not None else 0.01:g}."
        )
        return rep
    report = ResumeReport(UNKNOWN, "")
    epoch = facts.epoch if facts.epoch is not None else -1
    E, lrf, cos = sched["epochs"], sched["lrf"], sched["cos_lr"]
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
    clamp = fw == ULTRALYTICS
    expected = lf(epoch, E, lrf, cos, clamp)
    report.schedule["expected_ratio"] = expected
    report.schedule["ratios"] = ratios
    good = [r for r in ratios if r is not None]
    agree = bool(good) and all(math.isclose(r, good[0], rel_tol=REL_TOL, abs_tol=1e-12) for r in good)
    matches = agree and math.isclose(good[0], expected, rel_tol=REL_TOL, abs_tol=1e-12)
    warm = sched["warmup_epochs"] or 0.0
    warm_why = []
    if not matches:
        if not agree:
            shown_ratios = ", ".join(f"{r:.4g}" for r in good)
            warm_why.append(f"the groups' lr/initial_lr differ ({shown_ratios}), as only warmup makes them")
        if epoch + 1 <= math.ceil(warm):
            warm_why.append(f"epoch {trainer_epoch(epoch)} is within warmup_epochs {warm:g}")
        elif fw == YOLOV5 and good and good[0] < expected:
            warm_why.append(
                f"lr/initial_lr {good[0]:.6g} is below lf({epoch}) = {expected:.6g}: YOLOv5 warms up for at least "
                "100 iterations, which runs past warmup_epochs when an epoch has few batches"
            )
    in_warmup = bool(warm_why)
    report.schedule["in_warmup"] = in_warmup
    if matches:
        report.details.append(
            f"lr/initial_lr = {good[0]:.6g} in every group = lf({epoch}) of a "
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
        imp = [implied_epochs(r, epoch, lrf, cos) for r in good]
        report.schedule["implied_epochs"] = imp
        shown = ", ".join(f"{x:.4g}" if x else "?" for x in imp)
        report.problems.append(
            f"lr/initial_lr = {good[0]:.6g} does not equal lf({epoch}) = {expected:.6g} for {E:g} epochs; "
            f"it implies a schedule of {shown} total epochs (the optimizer state was saved by a differently "
            "configured schedule)"
        )
    if facts.updates is not None and epoch >= 0:
        steps = facts.updates / (epoch + 1)
        batch = _num(args.get("batch" if fw == ULTRALYTICS else "batch_size"))
        nbs = _num(args.get("nbs")) or 64.0  # YOLOv5 hard-codes nbs = 64
        text = f"EMA updates = {facts.updates} ≈ {steps:.4g} optimizer steps per epoch"
        # only well past warmup: warmup ramps accumulate up from 1 (YOLOv5: for at least 100 iterations)
        if batch and batch > 0 and steps > 0 and epoch + 1 > 2 * warm + 1:
            accumulate = max(round(nbs / batch), 1)
            text += (
                f"; with accumulate = {accumulate} (nbs {nbs:g} / batch {batch:g}) that is about "
                f"{steps * accumulate:.4g} batches per epoch (an upper bound: warmup epochs step more often)"
            )
        report.details.append(text + ".")
        if facts.updates == 0:
            report.details.append(
                "EMA updates = 0: no optimizer step yet (fewer batches than the gradient-accumulation "
                "count); the EMA still equals the initial weights."
            )
    if epoch + 1 >= E and not (fw == ULTRALYTICS and sched["time"]):
        report.verdict = REFUSE
        report.summary = f"{cmd}: the run already finished all {E:g} epochs (epoch {trainer_epoch(epoch)}); there is nothing to resume."
        return report

    run = run_dir_of(path) if path else None
    new_E, new_lr0, new_lrf, new_cos = E, sched["lr0"], lrf, cos
    reason = ""
    rewind: tuple[int, int] | None = None  # (last epoch results.csv logs, checkpoint epoch), 0-based
    ul_cfg: dict[str, Any] | None = None  # Ultralytics: args.yaml's schedule (written when the run started)
    broken_cfg: str | None = None
    if run is not None:
        cfg_name = C.YOLOV5_OPT_YAML if fw == YOLOV5 else C.ULTRALYTICS_ARGS_YAML
        cfg, why_not = _load_yaml(run / cfg_name)
        if cfg is None and fw == YOLOV5 and why_not != "missing":
            broken_cfg = f"{cfg_name} in the run directory {why_not}"
        elif cfg is None and fw == YOLOV5:
            report.details.append(
                f"{cfg_name} is not in the run directory: --resume takes the options stored in the checkpoint."
            )
        elif cfg is None:
            report.details.append(
                f"{cfg_name} in the run directory {why_not}; resume=True uses the checkpoint's train_args anyway."
            )
        else:
            cfg_sched = _schedule_args(fw, cfg)
            if fw == YOLOV5:
                hyp_file = cfg.get("hyp")
                if isinstance(hyp_file, str):
                    report.details.append("opt.yaml names a hyp file; lrguard compares the checkpoint's hyp.")
                    cfg_sched["lr0"], cfg_sched["lrf"] = sched["lr0"], sched["lrf"]
                diffs = [
                    f"{k}: checkpoint {_show(sched[k])} -> opt.yaml {_show(cfg_sched[k])}"
                    for k in ("epochs", "lr0", "lrf", "cos_lr")
                    if cfg_sched[k] is not None and cfg_sched[k] != sched[k]
                ]
                if diffs:
                    new_E = cfg_sched["epochs"] or E
                    new_lr0 = cfg_sched["lr0"] or sched["lr0"]
                    new_lrf = cfg_sched["lrf"] if cfg_sched["lrf"] is not None else lrf
                    new_cos = cfg_sched["cos_lr"]
                    reason = "opt.yaml was edited (" + "; ".join(diffs) + "); --resume takes every option from it"
            else:
                ul_cfg = cfg_sched
                diffs = [
                    f"{k}: checkpoint {_show(sched[k])} vs args.yaml {_show(cfg_sched[k])}"
                    for k in ("epochs", "lr0", "lrf", "cos_lr")
                    if cfg_sched[k] is not None and cfg_sched[k] != sched[k]
                ]
                if diffs and (matches or in_warmup):
                    report.details.append(
                        "args.yaml differs from the checkpoint (" + "; ".join(diffs) + "); resume=True uses the "
                        "checkpoint's train_args, so these edits are ignored."
                    )
        results = run / C.RESULTS_CSV
        rows = _results_epochs(results)
        if rows:
            last_logged = rows[-1] - base_no
            if last_logged > epoch:
                rewind = (last_logged, epoch)
                report.details.append(
                    f"results.csv already logs epoch {trainer_epoch(last_logged)} but this checkpoint holds epoch "
                    f"{trainer_epoch(epoch)}: resuming trains epochs {trainer_epoch(epoch + 1)}-{trainer_epoch(last_logged)} again and logs "
                    f"them twice (resume-from-older-checkpoint)."
                )
            elif last_logged < epoch:
                report.details.append(
                    f"results.csv ends at epoch {trainer_epoch(last_logged)}, before the checkpoint's {trainer_epoch(epoch)}."
                )
            else:
                report.details.append(f"results.csv ends at the checkpoint's epoch {trainer_epoch(epoch)}.")
    if broken_cfg is not None:
        report.verdict = REFUSE
        report.problems.append(broken_cfg)
        report.summary = (
            f"{cmd} from this file fails: {broken_cfg}, and YOLOv5 reads every option from it on resume. Restore "
            f"it, or remove it so that --resume falls back to the options stored in the checkpoint."
        )
        return report
    if fw == ULTRALYTICS and sched["time"]:
        report.details.append(
            f"time={sched['time']:g} h: Ultralytics re-plans epochs from the measured epoch time "
            "after every epoch, so the LR follows a moving schedule after resuming."
        )
    start = epoch + 1
    base = facts.initial_lrs[0] if facts.initial_lrs and facts.initial_lrs[0] else sched["lr0"] or 0.0
    if fw == ULTRALYTICS and not matches and not in_warmup and good and rewind is None:
        saved = _saved_schedule(good[0], epoch, sched, ul_cfg)
        if saved is not None:
            return _edited_train_args(report, saved, sched, epoch, base, cmd, trainer_epoch)
    if reason and new_E is not None:
        extension = fw == YOLOV5 and new_E < start
        eff_E = new_E + epoch if extension and not new_cos else new_E
        if extension:
            reason += (
                f"; epochs {new_E:g} < start epoch {start}, so YOLOv5 fine-tunes for {new_E:g} more "
                f"epochs (linear schedule now over {eff_E:g} epochs)"
            )
        # The first resumed epoch runs at the stored lr; its end-of-epoch step applies the new lf, so
        # epoch start + 1 trains at lr0' * lf'(start) instead of initial_lr * lf(start).
        at = start + 1
        before = base * lf(start, E, lrf, cos, False)
        after = (new_lr0 or base) * lf(start, eff_E, new_lrf, new_cos, False)
        if math.isclose(before, after, rel_tol=1e-3):
            report.verdict = SEAMLESS
            report.summary = f"{cmd} continues the LR schedule without a jump (options changed but the LR agrees)."
        else:
            report.verdict = JUMP
            direction = "up" if after > before else "down"
            report.jump = {"epoch": at, "lr_before": before, "lr_after": after, "reason": reason}
            report.summary = (
                f"{cmd} from this file jumps the LR {direction} to {after:.6g} (instead of {before:.6g}) at "
                f"epoch {trainer_epoch(at)}: {reason}."
            )
        if rewind is not None:
            report.problems.append(
                f"the checkpoint (epoch {trainer_epoch(rewind[1])}) is older than results.csv (epoch {trainer_epoch(rewind[0])})"
            )
        return report
    if rewind is not None:
        last_logged = rewind[0]
        # the LR the last logged epoch trained at vs the one the resumed process trains with first
        # (YOLOv5 trains epoch e at lf(e - 1), Ultralytics at lf(e))
        before = base * (
            lf(last_logged - 1, E, lrf, cos, False) if fw == YOLOV5 else lf(last_logged, E, lrf, cos, True)
        )
        after = base * (lf(epoch, E, lrf, cos, False) if fw == YOLOV5 else lf(start, E, lrf, cos, True))
        report.verdict = JUMP
        report.jump = {
            "epoch": start,
            "lr_before": before,
            "lr_after": after,
            "reason": f"the checkpoint is older than results.csv: epochs {trainer_epoch(start)}-{trainer_epoch(last_logged)} are "
            "trained and logged again",
            "cause": "resume-from-older-checkpoint",
        }
        report.summary = (
            f"{cmd} from this file rewinds the run: it holds epoch {trainer_epoch(epoch)} but results.csv already logs "
            f"epoch {trainer_epoch(last_logged)}, so epochs {trainer_epoch(start)}-{trainer_epoch(last_logged)} are trained again (LR back up "
            f"to {after:.6g} from {before:.6g}) and logged twice (resume-from-older-checkpoint). Resume from the "
            "checkpoint of the last logged epoch if you have it."
        )
        return report
    if report.problems:
        report.verdict = UNKNOWN
        report.summary = f"{cmd} restores the optimizer, but the stored LR state is inconsistent (see problems)."
        return report
    report.verdict = SEAMLESS
    # YOLOv5 trains epoch `start` at the stored lf(epoch) (one-epoch lag); Ultralytics steps first: lf(start).
    nxt = base * (lf(epoch, E, lrf, cos, False) if fw == YOLOV5 else lf(start, E, lrf, cos, True))
    report.summary = (
        f"{cmd} continues seamlessly at epoch {trainer_epoch(start)} of {E:g}: the optimizer, EMA and schedule position "
        f"are restored (epoch {trainer_epoch(start)} trains at lr {nxt:.6g} after warmup)."
    )
    return report
