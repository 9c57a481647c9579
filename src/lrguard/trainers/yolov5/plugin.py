"""The YOLOv5 :class:`~lrguard.trainers.base.Trainer`: its files, options and commands."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lrguard import constants as C
from lrguard.trainers.base import RecipeParts, Trainer, g6
from lrguard.trainers.infer import FileEvidence
from lrguard.trainers.profile import Profile
from lrguard.trainers.yolov5 import profiles, versions

if TYPE_CHECKING:
    from lrguard.checkpoint.resume import ResumeReport, SavedState
    from lrguard.diagnosis.result import Diagnosis
    from lrguard.plan.continuation import Continuation

#: File name ``lrguard continue`` suggests for the continuation's hyp file.
CONTINUE_FILE = "hyp-continue.yaml"


def _last(run_path: Path) -> str:
    return "/".join([str(run_path), C.WEIGHTS_DIR, C.LAST_PT])


class YOLOv5(Trainer):
    """ultralytics/yolov5 ``train.py`` and the ``yolov5`` PyPI package."""

    name = "yolov5"
    label = "YOLOv5"
    profiles = profiles.PROFILES
    config_file = C.YOLOV5_OPT_YAML
    lr_prefix = C.YOLOV5_LR_PREFIX

    def candidate_profiles(self, evidence: FileEvidence, why: list[str]) -> tuple[Profile, ...]:
        return versions.candidate_profiles(evidence, why)

    def read_config(self, run_dir: Path, files: dict[str, Path], notes: list[str]) -> tuple[dict[str, Any], Any]:
        from lrguard.readers.yamlfile import load_yaml_mapping

        config: dict[str, Any] = {}
        opt_path = run_dir / C.YOLOV5_OPT_YAML
        if opt_path.is_file():
            files["opt"] = opt_path
            config = load_yaml_mapping(opt_path)
        else:
            notes.append(f"{C.YOLOV5_OPT_YAML} missing: using YOLOv5 defaults where the LR column does not say")
        hyp_file: dict[str, Any] | None = None
        hyp_path = run_dir / C.YOLOV5_HYP_YAML
        if hyp_path.is_file():
            files["hyp"] = hyp_path
            hyp_file = load_yaml_mapping(hyp_path)
        return config, hyp_file

    def hyp_from_config(
        self, config: Mapping[str, Any], extra: Any, checkpoint_args: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        return profiles.hyp_from_config(dict(config), extra)

    def starting_weights(self, config: Mapping[str, Any]) -> Any:
        return config.get("weights")

    def resume_command(self, last: str | None = None) -> str:
        return f"`python train.py --resume {last}`" if last else "`python train.py --resume`"

    def resume_verdict(self, state: SavedState) -> ResumeReport | None:
        from lrguard.checkpoint.epoch_resume import check_epoch_resume
        from lrguard.trainers.yolov5.resume import YOLOv5Resume, profile_of_checkpoint

        version = state.structure.framework_version if state.structure is not None else None
        return check_epoch_resume(state.facts, YOLOv5Resume(profile_of_checkpoint(version)), state.run_dir)

    def continuation(
        self,
        run_path: Path,
        config: Mapping[str, Any],
        lr_now: float,
        lrf: float,
        epochs_more: int,
        optimizer: str | None,
    ) -> str:
        data = config.get("data", "data.yaml")
        return (
            f"continue as a new run from the weights with the LR where it is: a hyp file with lr0: {g6(lr_now)}, "
            f"lrf: {g6(lrf)}, warmup_epochs: 0, warmup_bias_lr: {g6(lr_now)} (YOLOv5 still ramps the weight "
            f"groups over its hard-coded 100 warmup iterations), then `python train.py --weights "
            f"{_last(run_path)} --data {data} --epochs {epochs_more} --hyp hyp-continue.yaml` "
            "(`lrguard continue` writes these for you)"
        )

    def epochs_changed_head(self, run_path: Path, e_before: int) -> str:
        return (
            f"to resume on the original curve, set `epochs: {e_before}` back in "
            f"{'/'.join([str(run_path), C.YOLOV5_OPT_YAML])} and run {self.resume_command(_last(run_path))} "
            "(YOLOv5 takes every option, epochs included, from opt.yaml on --resume); "
        )

    def hyp_location(self, run_path: Path) -> str:
        return "/".join([str(run_path), C.YOLOV5_OPT_YAML]) + " (hyp:)"

    def separate_runs(self, run_path: Path) -> str:
        return (
            "give every new run its own directory (drop --exist-ok or change --name); to continue an interrupted "
            f"run use {self.resume_command(_last(run_path))}"
        )

    def instability(self, lower_lr0: float) -> str:
        return (
            f"lower lr0 (e.g. lr0: {g6(lower_lr0)} in the hyp file), keep warmup_epochs >= 3, use a larger "
            "--batch-size (YOLOv5 already clips gradients at max_norm=10); check the labels for NaN/inf; if it "
            "persists with AMP on, try without (`--device cpu` reproduces in fp32)"
        )

    def wrong_bias_group(self) -> str:
        return "update YOLOv5 to >= v6.2 (PR #8356); meanwhile set warmup_bias_lr equal to lr0"

    def resume_keeps_settings(self) -> str:
        return "YOLOv5 takes every option from opt.yaml on --resume: leave it unedited"

    plan_inputs = frozenset({"hyp", "opt"})

    def plan_settings(
        self, files: Mapping[str, str | None], kv: list[str], load: Callable[[str], dict[str, Any]]
    ) -> tuple[dict[str, Any], list[str], list[str]]:
        opt, hyp = files.get("opt"), files.get("hyp")
        opt_d = load(opt) if opt else {}
        hyp_d = load(hyp) if hyp else None
        merged = profiles.hyp_from_config(opt_d, hyp_d)
        if "batch_size" in opt_d:
            merged["batch"] = opt_d["batch_size"]
        merged["optimizer"] = opt_d.get("optimizer", "SGD")
        notes = []
        if hyp_d and opt_d.get("hyp"):
            notes.append("opt.yaml embeds a hyp: its values win over --hyp (that is what --resume uses)")
        return merged, [f for f in (opt, hyp) if f], notes

    def continuation_parts(self, d: Diagnosis, lr0: float, lrf: float, epochs: int) -> RecipeParts:
        run = d.run
        base: dict[str, Any] = dict(profiles.HYP_SCRATCH_LOW)
        hyp_file = run.files.get("hyp")
        if hyp_file is not None and hyp_file.is_file():
            from lrguard.readers.yamlfile import load_yaml_mapping

            base.update(load_yaml_mapping(hyp_file))
        embedded = run.config.get("hyp")
        if isinstance(embedded, dict):
            base.update(embedded)
        settings: dict[str, Any] = {
            **base,
            "lr0": float(f"{lr0:.6g}"),
            "lrf": float(f"{lrf:.6g}"),
            "warmup_epochs": 0.0,
            "warmup_bias_lr": float(f"{lr0:.6g}"),
            "warmup_momentum": float(base.get("momentum", 0.937)),
        }
        note = (
            "YOLOv5 still runs >= 100 warmup iterations: the weight groups ramp up from 0 to lr0 over them (below the "
            "old LR, never above); the bias group is held at lr0"
        )
        return RecipeParts(settings, str(run.config.get("optimizer", "SGD")), CONTINUE_FILE, [note])

    def resume_checkpoint(self, argv: list[str], cwd: Path) -> Path | None:
        from lrguard.trainers.yolov5.launch import resume_checkpoint

        return resume_checkpoint(argv, cwd)

    def resume_writes_elsewhere(self, run_dir: Path) -> Path | None:
        """YOLOv5's --resume trains into opt.yaml's ``save_dir``, which a moved run still names."""
        from lrguard.readers.yamlfile import load_yaml_mapping

        try:
            saved = load_yaml_mapping(run_dir / C.YOLOV5_OPT_YAML).get("save_dir")
        except Exception:  # a broken opt.yaml is reported by the resume check itself
            return None
        if not isinstance(saved, str) or not saved:
            return None
        target = Path(saved)
        try:
            same = target.resolve() == run_dir.resolve()
        except OSError:
            same = False
        return None if same else target

    def continuation_argv(self, argv: list[str], cont: Continuation, recipe: Path) -> list[str]:
        from lrguard.trainers.yolov5.launch import continuation_argv

        return continuation_argv(argv, cont, recipe, dict(cont._run_config))

    def continuation_command(self, cont: Continuation, path: str | Path) -> str:
        run_cfg = cont._run_config
        parts = [
            "python train.py",
            f"--weights {cont.weights}",
            f"--data {run_cfg.get('data', 'data.yaml')}",
            f"--hyp {path}",
            f"--epochs {cont.epochs}",
            f"--batch-size {run_cfg.get('batch_size', 16)}",
            f"--imgsz {run_cfg.get('imgsz', 640)}",
            f"--optimizer {cont.optimizer}",
        ]
        if cont.cos_lr:
            parts.append("--cos-lr")
        name = run_cfg.get("name")
        parts.append(f"--name {name}-continue" if name else "--name continue")
        return " ".join(str(p) for p in parts)

    def continuation_header(self) -> str:
        return " (YOLOv5 keeps >= 100 warmup iterations: the bias group is held flat with warmup_bias_lr = lr0)"

    def continuation_hint(self) -> str | None:
        return "(pip package yolov5: `yolov5 train` or `python -m yolov5.train` with the same options)"


TRAINER = YOLOv5()
