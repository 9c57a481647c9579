"""One tiny real YOLOv5 or Ultralytics training with a NaN loss at one batch, guarded or not.

``python -m _guard_yolo TRAINER OUT DATA_YAML --nan-batch K --guard {none,adapter,env}`` (the offline
environment of :mod:`harness.offline` set by the caller). The trainer is unmodified: the NaN comes
from the test's own patch of the trainer's loss function (the loss of batch ``K``, counted from 0 over
the whole run by an ``on_train_batch_start`` callback, is multiplied by NaN, so every gradient of
that step is NaN too). ``--guard adapter`` registers the trainer's guard adapter; ``env`` relies on the
zero-code injection already armed in this process (``lrguard run``); ``none`` trains unguarded.
Writes ``OUT/result.json``: whether the live model's parameters and buffers and the saved EMA are
finite, the results.csv rows, the run directory, the number of optimizer steps, the EMA's update
count at the last checkpoint save, and how the run ended.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import traceback
from pathlib import Path
from typing import Any

from harness.offline import install_network_guard

_RAISED: list[BaseException] = []  # what the training raised (--reraise: raised again after result.json)


def _finite_module(module: Any) -> dict[str, bool]:
    import torch

    return {
        "params": all(bool(torch.isfinite(p).all()) for p in module.parameters()),
        "buffers": all(bool(torch.isfinite(b).all()) for b in module.buffers() if b.is_floating_point()),
    }


def _results(run_dir: Path) -> list[dict[str, str]]:
    path = run_dir / "results.csv"
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").strip().splitlines()
    header = [h.strip() for h in lines[0].split(",")]
    return [dict(zip(header, (c.strip() for c in line.split(",")), strict=False)) for line in lines[1:]]


def _saved(run_dir: Path) -> dict[str, Any]:
    """What ``weights/last.pt`` holds: whether its EMA and optimizer state are finite, the EMA's share of zeros."""
    import torch

    last = run_dir / "weights" / "last.pt"
    if not last.is_file():
        return {"ema_finite": None}
    ckpt = torch.load(last, map_location="cpu", weights_only=False)
    module = ckpt.get("ema") or ckpt.get("model")
    values = [v for v in module.float().state_dict().values() if v.is_floating_point()] if module is not None else []
    state = (ckpt.get("optimizer") or {}).get("state", {})
    return {
        "ema_finite": all(bool(torch.isfinite(v).all()) for v in values) if values else None,
        "ema_zero_fraction": sum(int((v == 0).sum()) for v in values) / max(1, sum(v.numel() for v in values)),
        "optimizer_finite": all(
            bool(torch.isfinite(v).all()) for s in state.values() for v in s.values() if torch.is_tensor(v)
        )
        if state
        else None,
    }


class _Counter:
    def __init__(self, nan_batch: int, opts: argparse.Namespace | None = None) -> None:
        self.batch = -1
        self.nan_batch = nan_batch
        self.poisoned: list[int] = []
        self.steps = 0
        self.steps_before_poison: list[int] = []  # optimizer steps of this process before the poisoned batch's step
        self.ema_updates: int | None = None  # the EMA's update count at the last checkpoint save
        self.opts = opts or argparse.Namespace(truncate_epoch=None, stop_after_epoch=None)
        self.last_good_epochs: list[Any] = []  # after each save: the epoch in the last-good manifest
        self.digests: list[Any] = []  # per batch (--rollback): (state digest, EMA updates, epoch)

    def before_save_hooks(self, last: Path, epoch: int, *args: Any) -> None:
        """Registered before the guard: tear ``last.pt`` at ``--truncate-epoch`` (a writer killed mid-save)."""
        if epoch == self.opts.truncate_epoch:
            data = Path(last).read_bytes()
            Path(last).write_bytes(data[: len(data) // 2])

    def after_save_hooks(self, last: Path, epoch: int, *args: Any) -> None:
        """Registered after the guard: what the last-good file is now; stop at ``--stop-after-epoch``."""
        from lrguard import constants as C

        manifest = Path(last).parent / (C.LAST_GOOD_PT + C.MANIFEST_SUFFIX)
        self.last_good_epochs.append(json.loads(manifest.read_text())["epoch"] if manifest.is_file() else None)
        if epoch == self.opts.stop_after_epoch:
            raise KeyboardInterrupt(f"the test interrupts the run after epoch {epoch}")

    def start_batch(self, *args: Any) -> None:
        self.batch += 1

    def poison(self, loss: Any) -> Any:
        if self.batch == self.nan_batch and self.batch not in self.poisoned:
            self.poisoned.append(self.batch)
            self.steps_before_poison.append(self.steps)
            return loss * math.nan
        if self.batch in (getattr(self.opts, "spike_batches", None) or ()):
            return loss * 1000.0  # a persistent loss spike (the test's, --spike-batches)
        return loss

    def digest(self, trainer: Any) -> None:
        """At a batch start, after the guard's boundary: a digest of the model, the EMA and the optimizer state."""
        import hashlib

        import torch

        h = hashlib.sha256()
        tensors = [*trainer.model.state_dict().values(), *trainer.ema.ema.state_dict().values()]
        tensors += [v for s in trainer.optimizer.state.values() for v in s.values() if torch.is_tensor(v)]
        for t in tensors:
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
        self.digests.append((h.hexdigest()[:16], trainer.ema.updates, trainer.epoch))

    def digest_yolov5(self, *args: Any) -> None:
        """The same digest in YOLOv5, whose ``on_train_batch_start`` has no arguments: from ``train()``'s locals."""
        import inspect
        import types

        frame = inspect.currentframe()
        while frame is not None and not (frame.f_code.co_name == "train" and "ema" in frame.f_locals):
            frame = frame.f_back
        assert frame is not None, "YOLOv5's train() is not on the stack"
        local = frame.f_locals
        self.digest(
            types.SimpleNamespace(
                model=local["model"], ema=local["ema"], optimizer=local["optimizer"], epoch=local["epoch"]
            )
        )


def _count_steps(counter: _Counter) -> None:
    from torch.optim.optimizer import register_optimizer_step_post_hook

    def post(optimizer: Any, args: Any, kwargs: Any) -> None:
        counter.steps += 1

    register_optimizer_step_post_hook(post)


def _last_good(run_dir: Path) -> dict[str, Any] | None:
    """The last-good file after training: whether it verifies against its manifest, loads, and its epoch."""
    import torch

    from lrguard import constants as C
    from lrguard.checkpoint.integrity import verify

    path = run_dir / "weights" / C.LAST_GOOD_PT
    if not path.is_file():
        return None
    report = verify(path)
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    manifest = json.loads(path.with_name(path.name + C.MANIFEST_SUFFIX).read_text())
    return {
        "verifies": report.ok,
        "problems": report.problems,
        "epoch": ckpt["epoch"],
        "has_optimizer": ckpt.get("optimizer") is not None,
        "updates": ckpt.get("updates"),
        "manifest": {k: manifest.get(k) for k in ("epoch", "step", "source", "verified")},
    }


def _updates_in(path: Path) -> int | None:
    import torch

    return torch.load(path, map_location="cpu", weights_only=False).get("updates") if path.is_file() else None


def train_yolov5(
    out: Path, data: Path, nan_batch: int, guard: str, events: Path, opts: argparse.Namespace | None = None
) -> dict[str, Any]:
    sys.argv = sys.argv[:1]
    from yolov5 import train as yolov5_train
    from yolov5.utils import loss as yolov5_loss
    from yolov5.utils.callbacks import Callbacks

    counter = _Counter(nan_batch, opts)
    original = yolov5_loss.ComputeLoss.__call__

    def poisoned_call(self: Any, p: Any, targets: Any) -> Any:
        loss, items = original(self, p, targets)
        return counter.poison(loss), items

    yolov5_loss.ComputeLoss.__call__ = poisoned_call  # the test's NaN, not a change to the trainer
    model_ref: dict[str, Any] = {}
    callbacks = Callbacks()
    callbacks.register_action("on_train_batch_start", name="test-count", callback=counter.start_batch)
    callbacks.register_action(
        "on_train_batch_end", name="test-model", callback=lambda model, *a: model_ref.setdefault("model", model)
    )

    def saved(last: Path, *args: Any) -> None:  # last.pt before YOLOv5 strips it at the end
        import torch

        counter.ema_updates = torch.load(last, map_location="cpu", weights_only=False)["updates"]

    callbacks.register_action("on_model_save", name="test-ema", callback=saved)
    callbacks.register_action("on_model_save", name="test-tear", callback=counter.before_save_hooks)
    if guard == "adapter":
        from lrguard.trainers.yolov5.guard_adapter import YOLOv5Guard

        YOLOv5Guard(events=str(events), config=_config(opts)).register(callbacks)
    callbacks.register_action("on_model_save", name="test-after", callback=counter.after_save_hooks)
    if opts is not None and opts.rollback:
        callbacks.register_action("on_train_batch_start", name="test-digest", callback=counter.digest_yolov5)
    _count_steps(counter)
    opt = yolov5_train.parse_opt(True)
    resume = out / "runs" / "exp" / "weights" / "last.pt"
    updates_at_start = _updates_in(resume) if opts is not None and opts.resume else 0
    settings = {
        "data": str(data),
        "cfg": "yolov5n.yaml",
        "weights": "",
        "imgsz": 64,
        "batch_size": 8,
        "epochs": opts.epochs if opts is not None else 3,
        "workers": 0,
        "device": "cpu",
        "seed": 0,
        "noplots": True,
        "noautoanchor": True,
        "project": str(out / "runs"),
        "name": "exp",
    }
    for key, value in settings.items():
        setattr(opt, key, value)
    if opts is not None and opts.resume:
        opt.resume = str(resume)
    outcome = "finished"
    try:
        yolov5_train.main(opt, callbacks)
    except (Exception, KeyboardInterrupt) as exc:
        outcome = f"raised {type(exc).__name__}: {exc}"
        _RAISED.append(exc)
        traceback.print_exc()
    run_dir = out / "runs" / "exp"
    model = model_ref.get("model")
    return {
        "outcome": outcome,
        "run_dir": str(run_dir),
        "model": _finite_module(model) if model is not None else None,
        "saved_ema_finite": (saved := _saved(run_dir))["ema_finite"],
        "saved": saved,
        "rows": _results(run_dir),
        "poisoned_batches": counter.poisoned,
        "optimizer_steps": counter.steps,
        "ema_updates": counter.ema_updates,
        "updates_at_start": updates_at_start,
        "steps_before_poison": counter.steps_before_poison,
        "last_good_epochs": counter.last_good_epochs,
        "last_good": _last_good(run_dir),
        "digests": counter.digests,
    }


def train_ultralytics(
    out: Path, data: Path, nan_batch: int, guard: str, events: Path, opts: argparse.Namespace | None = None
) -> dict[str, Any]:
    from ultralytics import YOLO
    from ultralytics.nn import tasks

    counter = _Counter(nan_batch, opts)
    original = tasks.BaseModel.loss

    def poisoned_loss(self: Any, batch: Any, preds: Any = None) -> Any:
        loss, items = original(self, batch, preds)
        return (counter.poison(loss) if self.training else loss), items

    tasks.BaseModel.loss = poisoned_loss  # the test's NaN, not a change to the trainer
    resume = out / "runs" / "exp" / "weights" / "last.pt"
    resuming = opts is not None and opts.resume
    yolo = YOLO(str(resume) if resuming else "yolov8n.yaml")
    trainer_ref: dict[str, Any] = {}
    start: dict[str, Any] = {}
    yolo.add_callback("on_train_start", lambda trainer: start.update(updates=trainer.ema.updates))
    yolo.add_callback("on_train_batch_start", lambda trainer: (counter.start_batch(), trainer_ref.update(t=trainer)))
    yolo.add_callback("on_model_save", lambda trainer: setattr(counter, "ema_updates", trainer.ema.updates))
    yolo.add_callback("on_model_save", lambda trainer: counter.before_save_hooks(trainer.last, trainer.epoch))
    if guard == "adapter":
        from lrguard.trainers.ultralytics.guard_adapter import UltralyticsGuard

        UltralyticsGuard(events=str(events), config=_config(opts)).register(yolo)
    yolo.add_callback("on_model_save", lambda trainer: counter.after_save_hooks(trainer.last, trainer.epoch))
    if opts is not None and opts.rollback:
        yolo.add_callback("on_train_batch_start", counter.digest)
    _count_steps(counter)
    settings = {
        "data": str(data),
        "imgsz": 64,
        "batch": 8,
        "nbs": opts.nbs if opts is not None else 8,  # 8: no gradient accumulation, an optimizer step every batch
        "epochs": opts.epochs if opts is not None else 3,
        "workers": 0,
        "device": "cpu",
        "seed": 0,
        "deterministic": True,
        "pretrained": False,
        "optimizer": "SGD",
        "lr0": 0.01,
        "warmup_epochs": 1,
        "plots": False,
        "amp": False,
        "verbose": False,
        "project": str(out / "runs"),
        "name": "exp",
    }
    if resuming:
        settings = {"resume": True, "workers": 0, "device": "cpu"}
    outcome = "finished"
    try:
        yolo.train(**settings)
    except (Exception, KeyboardInterrupt) as exc:
        outcome = f"raised {type(exc).__name__}: {exc}"
        _RAISED.append(exc)
        traceback.print_exc()
    trainer = trainer_ref.get("t")
    run_dir = Path(trainer.save_dir) if trainer is not None else out / "runs" / "exp"
    return {
        "outcome": outcome,
        "run_dir": str(run_dir),
        "model": _finite_module(trainer.model) if trainer is not None else None,
        "saved_ema_finite": (saved := _saved(run_dir))["ema_finite"],
        "saved": saved,
        "rows": _results(run_dir),
        "poisoned_batches": counter.poisoned,
        "optimizer_steps": counter.steps,
        "ema_updates": counter.ema_updates,
        "updates_at_start": start.get("updates"),
        "steps_before_poison": counter.steps_before_poison,
        "last_good_epochs": counter.last_good_epochs,
        "last_good": _last_good(run_dir),
        "digests": counter.digests,
    }


def _config(opts: argparse.Namespace | None) -> Any:
    """``--rollback``: a persistent loss spike (2 within 50 steps) rolls back; snapshots every 4 steps."""
    from lrguard.guard.config import GuardConfig

    if opts is None or not opts.rollback:
        return None
    return GuardConfig(actions={"loss-spike": "rollback"}, check_every=2, snapshot_every=4, rollback_patience=2)


def run_child(
    trainer: str,
    out: Path,
    cache: Path,
    nan_batch: int,
    guard: str,
    lrguard_run: list[str] | None = None,
    extra: list[str] | None = None,
    n_train: int = 16,
    returncode: int = 0,
) -> tuple[dict[str, Any], str]:
    """Train in a subprocess (offline, one thread); return its result.json and its output.

    ``lrguard_run``: the training command goes through ``lrguard run [options] --`` (zero-code).
    ``extra``: more options of the child (``--epochs``, ``--resume``, ``--truncate-epoch``, ...).
    ``returncode``: the exit code the command must end with.
    """
    import os
    import subprocess

    from harness.offline import prepare_offline
    from harness.synthetic_data import make_dataset

    tests = Path(__file__).resolve().parent
    src = tests.parent / "src"
    data = make_dataset(out / "data", n_train=n_train, n_val=4)
    env = {**os.environ, **prepare_offline(cache), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env["WANDB_MODE"] = "disabled"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(src), str(tests), env.get("PYTHONPATH", "")) if p)
    cmd = [sys.executable, "-m", "_guard_yolo", trainer, str(out), str(data), "--nan-batch", str(nan_batch)]
    cmd += ["--guard", guard, *(extra or [])]
    if lrguard_run is not None:
        cmd = [sys.executable, "-m", "lrguard", "run", *lrguard_run, "--", *cmd]
    proc = subprocess.run(cmd, cwd=out, env=env, capture_output=True, text=True, timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode == returncode, output[-3000:]
    return json.loads((out / "result.json").read_text(encoding="utf-8")), output


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("trainer", choices=("yolov5", "ultralytics"))
    parser.add_argument("out", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("--nan-batch", type=int, default=-1)
    parser.add_argument("--guard", choices=("none", "adapter", "env"), default="none")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--nbs", type=int, default=8, help="Ultralytics' nominal batch size (16: accumulate 2)")
    parser.add_argument("--resume", action="store_true", help="resume OUT/runs/exp/weights/last.pt")
    parser.add_argument("--truncate-epoch", type=int, help="tear last.pt right after its save at this epoch")
    parser.add_argument("--stop-after-epoch", type=int, help="interrupt the run after this epoch's save")
    parser.add_argument("--spike-batches", type=lambda v: [int(x) for x in v.split(",")], default=[])
    parser.add_argument("--rollback", action="store_true", help="the adapter rolls back on a persistent loss spike")
    parser.add_argument("--reraise", action="store_true", help="raise what the training raised, after result.json")
    args = parser.parse_args()
    install_network_guard()
    args.out = args.out.resolve()  # Ultralytics puts a relative project under its own runs_dir
    args.out.mkdir(parents=True, exist_ok=True)
    events = args.out / "events.jsonl"
    run = train_yolov5 if args.trainer == "yolov5" else train_ultralytics
    result = run(args.out, args.data.resolve(), args.nan_batch, args.guard, events, args)
    (args.out / "result.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    if args.reraise and _RAISED:
        raise _RAISED[0]


if __name__ == "__main__":
    main()
