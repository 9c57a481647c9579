"""The Ultralytics :class:`~lrguard.trainers.base.Trainer`: its files, options and commands."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lrguard import constants as C
from lrguard.trainers.base import AutoChoice, RecipeParts, Trainer, g6
from lrguard.trainers.infer import FileEvidence
from lrguard.trainers.profile import Profile
from lrguard.trainers.ultralytics import profiles, versions

if TYPE_CHECKING:
    from lrguard.checkpoint.resume import ResumeReport, SavedState
    from lrguard.diagnosis.result import Diagnosis
    from lrguard.plan.continuation import Continuation

#: File name ``lrguard continue`` suggests for the continuation's arguments.
CONTINUE_FILE = "args-continue.yaml"

# Arguments worth carrying over from args.yaml into the continuation (besides the schedule):
# training from a .pt without resume resets every argument not given to its default.
CONTINUE_CARRY = (
    "data", "imgsz", "batch", "momentum", "weight_decay", "nbs", "close_mosaic", "box", "cls", "dfl", "single_cls",
    "rect", "cache", "workers", "device", "amp", "seed", "deterministic", "patience", "project",
)  # fmt: skip


def _used_optimizer(d: Diagnosis) -> tuple[str, str | None]:
    """The optimizer the run really used, and a note when it had to be inferred."""
    run = d.run
    for c in run.checkpoints:
        name = (c.train_args or {}).get("optimizer")
        if name and str(name).lower() != "auto":
            return str(name), None
    name = run.config.get("optimizer")
    if name and str(name).lower() != "auto":
        return str(name), None
    if run.n_groups == 8:
        return "MuSGD", "optimizer=auto: 8 param groups mean MuSGD"
    lr0 = d.epoch_spec.lr0
    if lr0 >= 0.005:
        return "SGD", f"optimizer=auto: lr0 {lr0:.3g} read off the curve suggests SGD/MuSGD; SGD named explicitly"
    return "AdamW", f"optimizer=auto: lr0 {lr0:.3g} read off the curve means AdamW"


def _last(run_path: Path) -> str:
    return "/".join([str(run_path), C.WEIGHTS_DIR, C.LAST_PT])


def _auto(hyp: Mapping[str, Any]) -> bool:
    return str(hyp.get("optimizer", "")).lower() == "auto"


class Ultralytics(Trainer):
    """The ``ultralytics`` package (YOLOv8 / YOLO11 / YOLO26), ``yolo train`` and ``model.train()``."""

    name = "ultralytics"
    label = "Ultralytics"
    profiles = profiles.PROFILES
    config_file = C.ULTRALYTICS_ARGS_YAML
    lr_prefix = C.ULTRALYTICS_LR_PREFIX

    def candidate_profiles(self, evidence: FileEvidence, why: list[str]) -> tuple[Profile, ...]:
        return versions.candidate_profiles(evidence, why)

    def profile_for_version(self, version: str, n_groups: int, first_epoch: int) -> Profile | None:
        prof = profiles.profile_for_version(version, n_groups)
        if prof is profiles.V8_0 and first_epoch == 0:
            return profiles.V8_0_ZERO_BASED  # before PR #4491 the epoch column was 0-based
        return prof

    def read_config(self, run_dir: Path, files: dict[str, Path], notes: list[str]) -> tuple[dict[str, Any], Any]:
        from lrguard.readers.yamlfile import load_yaml_mapping

        args_path = run_dir / C.ULTRALYTICS_ARGS_YAML
        if args_path.is_file():
            files["args"] = args_path
            return load_yaml_mapping(args_path), None
        notes.append(f"{C.ULTRALYTICS_ARGS_YAML} missing: using Ultralytics defaults where the LR column does not say")
        return {}, None

    def hyp_from_config(
        self, config: Mapping[str, Any], extra: Any, checkpoint_args: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        return profiles.hyp_from_config(dict(config), None if checkpoint_args is None else dict(checkpoint_args))

    def starting_weights(self, config: Mapping[str, Any]) -> Any:
        pre = config.get("pretrained")
        return pre if isinstance(pre, str) and pre.strip() else config.get("model")

    @property
    def weights_key(self) -> str:
        return "model"

    def trainer_chooses_lr0(self, hyp: Mapping[str, Any]) -> bool:
        return _auto(hyp)

    def time_budget(self, hyp: Mapping[str, Any]) -> bool:
        return bool(hyp.get("time"))

    def close_mosaic_epochs(self, hyp: Mapping[str, Any]) -> int:
        try:
            return max(int(hyp.get("close_mosaic", profiles.DEFAULTS["close_mosaic"]) or 0), 0)
        except (TypeError, ValueError):
            return 0

    def resume_command(self, last: str | None = None) -> str:
        return f"`yolo train resume model={last}`" if last else "`yolo train resume`"

    def resume_verdict(self, state: SavedState) -> ResumeReport | None:
        from lrguard.checkpoint.epoch_resume import check_epoch_resume
        from lrguard.trainers.ultralytics.resume import UltralyticsResume

        profile = self.default_profile
        with contextlib.suppress(ValueError):  # not a version string: the current release's rules
            profile = self.profile_for_version(state.facts.version or "", len(state.facts.lrs), 1) or profile
        return check_epoch_resume(state.facts, UltralyticsResume(profile), state.run_dir)

    def continuation(
        self,
        run_path: Path,
        config: Mapping[str, Any],
        lr_now: float,
        lrf: float,
        epochs_more: int,
        optimizer: str | None,
    ) -> str:
        requested = config.get("optimizer", "auto")
        opt = optimizer or (requested if str(requested).lower() != "auto" else "SGD")
        data = config.get("data", "data.yaml")
        return (
            f"continue as a new run with the LR where it is: `yolo train model={_last(run_path)} "
            f"data={data} epochs={epochs_more} lr0={g6(lr_now)} lrf={g6(lrf)} warmup_epochs=0 optimizer={opt}` "
            "(name the optimizer explicitly: optimizer=auto may pick another one and ignore lr0)"
        )

    def epochs_changed_head(self, run_path: Path, e_before: int) -> str:
        return (
            f"Ultralytics cannot change epochs on resume: do not patch train_args in last.pt; resume with the "
            f"original epochs={e_before} ({self.resume_command(_last(run_path))}); "
        )

    def hyp_location(self, run_path: Path) -> str:
        return "the checkpoint's train_args"

    def separate_runs(self, run_path: Path) -> str:
        return (
            "give every new run its own directory (a new name=, without exist_ok=True); to continue an interrupted "
            f"run use {self.resume_command(_last(run_path))}"
        )

    def instability(self, lower_lr0: float) -> str:
        return (
            f"lower lr0 (e.g. lr0={g6(lower_lr0)}), keep warmup_epochs>=3, use a larger batch= (Ultralytics already "
            "clips gradients at max_norm=10 and reloads last.pt on NaN); try amp=False; check the labels for NaN/inf"
        )

    def wrong_bias_group(self) -> str:
        return (
            "upgrade Ultralytics past 8.4.0 (`pip install -U ultralytics`, fixed by PR #23234); meanwhile set "
            "warmup_bias_lr equal to lr0"
        )

    def resume_keeps_settings(self) -> str:
        return "Ultralytics restores them from the checkpoint: do not patch train_args"

    plan_inputs = frozenset({"args", "kv"})
    resume_ignores_changes = (
        "Ultralytics takes every schedule setting from the checkpoint's train_args on resume and ignores "
        "epochs=/lr0=/lrf= given with resume=True; this scenario models a patched checkpoint or trainer"
    )
    from_weights_note = (
        "Ultralytics resets every argument except imgsz/data/task/single_cls to its default when you train "
        "from a .pt without resume: pass every setting you rely on explicitly"
    )

    def plan_settings(
        self, files: Mapping[str, str | None], kv: list[str], load: Callable[[str], dict[str, Any]]
    ) -> tuple[dict[str, Any], list[str], list[str]]:
        from lrguard.plan.config import parse_kv

        args = files.get("args")
        args_d = load(args) if args else {}
        args_d.update(parse_kv(kv))
        merged = dict(profiles.DEFAULTS)
        merged.update({k: v for k, v in args_d.items() if v is not None})
        return merged, [args] if args else [], []

    def auto_optimizer(self, images: int, batch: int, epochs: int, nc: int, nbs: int) -> AutoChoice | None:
        name, lr0 = profiles.auto_optimizer(images, batch, epochs, nc, nbs)
        its = math.ceil(images / max(batch, nbs)) * epochs
        detail = f"{its} nominal iterations ({'>' if its > 10000 else '<='} 10000): {name} with lr0={lr0:g}"
        return AutoChoice(name, lr0, detail)

    def continuation_parts(self, d: Diagnosis, lr0: float, lrf: float, epochs: int) -> RecipeParts:
        run = d.run
        optimizer, why = _used_optimizer(d)
        settings = {k: run.config[k] for k in CONTINUE_CARRY if run.config.get(k) is not None}
        settings.update(
            {
                "epochs": int(epochs),
                "optimizer": optimizer,
                "lr0": float(f"{lr0:.6g}"),
                "lrf": float(f"{lrf:.6g}"),
                "cos_lr": bool(d.epoch_spec.cos_lr),
                "warmup_epochs": 0.0,
                "warmup_bias_lr": float(f"{lr0:.6g}"),
                "warmup_momentum": float(run.config.get("momentum", 0.937) or 0.937),
            }
        )
        notes = [why] if why else []
        notes.append(
            "Ultralytics resets every argument not given to its default when training from a .pt without resume: "
            "the file carries the run's data, imgsz, batch and loss settings"
        )
        return RecipeParts(settings, optimizer, CONTINUE_FILE, notes)

    def resume_checkpoint(self, argv: list[str], cwd: Path) -> Path | None:
        """``yolo train ... resume model=last.pt`` / ``resume=last.pt``: the checkpoint it resumes."""
        if not argv or Path(argv[0]).name not in ("yolo", "ultralytics") or "train" not in argv[1:3]:
            return None
        opts = dict(a.split("=", 1) for a in argv[1:] if "=" in a)
        flag = opts.get("resume", "resume" if "resume" in argv[1:] else "")
        if flag.lower() in ("", "false", "0", "no"):
            return None
        target = flag if flag.lower() not in ("resume", "true", "1", "yes") else opts.get("model", "")
        if not target.endswith(".pt"):
            return None
        return Path(target) if Path(target).is_absolute() else (cwd / target).resolve()

    def continuation_command(self, cont: Continuation, path: str | Path) -> str:
        return f"yolo train model={cont.weights} cfg={path}" + ("" if "data" in cont.settings else " data=DATA.yaml")

    def resume_total_epochs(self, config: Mapping[str, Any], train_args: Mapping[str, Any] | None) -> Any:
        """A resume trains to train_args' epochs (args.yaml, written at the start, is not read)."""
        if train_args and train_args.get("epochs") is not None:
            return train_args.get("epochs")
        return config.get("epochs")

    def resume_notes(self, argv: list[str]) -> list[str]:
        from lrguard.trainers.ultralytics.launch import ignored_on_resume

        notes = []
        dropped = ignored_on_resume(argv)
        if dropped:
            given = " ".join(a for a in argv if a.split("=", 1)[0] in dropped)
            notes.append(
                f"Ultralytics ignores {given} on resume (it warns 'Resume ignores {dropped}') and trains on with "
                "the checkpoint's train_args; to train to other settings continue as a new run: "
                "`lrguard continue RUN --epochs N`"
            )
        budget = next((a.split("=", 1)[1] for a in argv[1:] if a.startswith("time=")), None)
        if budget is not None and budget.lower() not in ("", "none", "0", "0.0"):
            notes.append(
                f"time={budget} is applied on resume: Ultralytics then re-plans the total epochs from the measured "
                "epoch time after every epoch and rebuilds the scheduler, so the LR leaves the curve it was on"
            )
        return notes

    def resume_writes_elsewhere(self, run_dir: Path) -> Path | None:
        """A resume trains into the checkpoint's ``train_args['save_dir']``, which a moved run still names."""
        from lrguard.checkpoint import read_facts
        from lrguard.errors import LrguardError
        from lrguard.trainers.ultralytics.launch import resume_save_dir

        try:
            facts = read_facts(run_dir / C.WEIGHTS_DIR / C.LAST_PT)
        except (LrguardError, OSError):
            return None
        target = resume_save_dir(dict(facts.train_args or {}))
        if target is None:
            return None
        try:
            same = target.resolve() == run_dir.resolve()
        except OSError:
            same = False
        return None if same else target

    def continuation_argv(self, argv: list[str], cont: Continuation, recipe: Path) -> list[str]:
        from lrguard.trainers.ultralytics.launch import continuation_argv

        return continuation_argv(argv, cont, recipe, dict(cont._run_config))


TRAINER = Ultralytics()
