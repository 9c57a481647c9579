"""Benchmark the guard's overhead on real YOLOv5 and Ultralytics CPU trainings, and count its host reads.

Paired in one run: each trainer trains once with its guard adapter attached (the step hooks and the
EMA patch), and the guard is switched on for even epochs and off for odd ones (``enabled = False``
makes the hooks return at once). Every batch is timed from ``on_train_batch_start`` to
``on_train_batch_end`` (forward, backward, clip, optimizer step, EMA update); only batches that ran
an optimizer step are kept. The report is the median batch time of each side, their ratio, and the
guard's host reads per step (``Tensor.item``, ``.cpu``, ``.tolist``, ``.numpy``, ``bool()``,
``float()``, ``int()`` called from the guard's own source files during guarded steps). The ratio of
whole batches is at the mercy of a shared machine's noise (a few %), so the guard's own work is also
timed directly: the median time per guarded step spent in ``before_step`` + ``after_step``, in the
EMA wrapper (less the EMA's own update) and in the ``clip_grad_norm_`` wrapper that records the
trainer's clip for the guard (less the clip itself).

The trainings are the tests' tiny offline setups scaled up (synthetic images, yolov5n / yolov8n,
64 px, one CPU thread; validation runs but is not timed; YOLOv5 7.0.14 pip cannot run ``--noval``:
its epoch end reads ``map50s``, which only validation sets). This measures the guard's extra work on
CPU (on the CPU path: the finite flag from the norm of the trainer's own clip, reused when it
clipped exactly the optimizer's gradients, and a read of that CPU flag; on the device path also one
copy of parameters, optimizer state and EMA and a ``torch.where`` back), not GPU stream stalls.

``--device-path`` measures the snapshot-and-``torch.where`` path the guard takes on a GPU (copy every
step, no read between checks) on CPU too; the default is the CPU path (the flag, a CPU tensor, read at
each step; a copy only for a bad step).

Usage: python bench/bench_guard_yolo.py [--trainer yolov5|ultralytics|both] [--epochs N] [--images N]
[--imgsz N] [--device-path]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(_REPO / "src"), str(_REPO / "tests")]

GUARD_SOURCES = (
    str(_REPO / "src" / "lrguard" / "guard"),
    str(_REPO / "src" / "lrguard" / "trainers" / "yolov5" / "guard_adapter.py"),
    str(_REPO / "src" / "lrguard" / "trainers" / "ultralytics" / "guard_adapter.py"),
)
SYNC_NAMES = ("item", "cpu", "tolist", "numpy", "__bool__", "__float__", "__int__")


class _Recorder:
    """Per-batch times, optimizer steps and the guard's host reads, with the guard toggled per epoch."""

    def __init__(self) -> None:
        self.epoch = -1
        self.batches: list[dict[str, Any]] = []
        self.steps = 0
        self.syncs = 0
        self._t0 = 0.0
        self._steps0 = 0
        self._syncs0 = 0
        self.hooks: Any = None
        self.guard_seconds = 0.0
        self._guard0 = 0.0
        self.clip_inner = 0.0
        self.reused = 0
        self._reused0 = 0
        self.parts: dict[str, float] = {}
        self._parts0: dict[str, float] = {}

    def add(self, part: str, seconds: float) -> None:
        """Count ``seconds`` of the guard's own work, in ``part``."""
        self.guard_seconds += seconds
        self.parts[part] = self.parts.get(part, 0.0) + seconds

    @property
    def guarded(self) -> bool:
        return self.epoch % 2 == 0

    def epoch_start(self, *args: Any, **kwargs: Any) -> None:
        self.epoch += 1
        self._set()

    def _set(self) -> None:
        if self.hooks is not None:
            self.hooks.guard.enabled = self.guarded

    def batch_start(self, *args: Any, **kwargs: Any) -> None:
        self._set()
        self._steps0, self._syncs0, self._guard0 = self.steps, self.syncs, self.guard_seconds
        self._reused0 = self.reused
        self._parts0 = dict(self.parts)
        self._t0 = time.perf_counter()

    def batch_end(self, *args: Any, **kwargs: Any) -> None:
        dt = time.perf_counter() - self._t0
        self.batches.append(
            {
                "epoch": self.epoch,
                "guarded": self.guarded,
                "seconds": dt,
                "stepped": self.steps > self._steps0,
                "syncs": self.syncs - self._syncs0,
                "guard_seconds": self.guard_seconds - self._guard0,
                "reused": self.reused - self._reused0,
                "parts": {k: v - self._parts0.get(k, 0.0) for k, v in self.parts.items()},
            }
        )

    def install(self) -> None:
        import torch
        from torch.optim.optimizer import register_optimizer_step_post_hook

        def post(optimizer: Any, args: Any, kwargs: Any) -> None:
            self.steps += 1

        register_optimizer_step_post_hook(post)
        for name in SYNC_NAMES:
            setattr(torch.Tensor, name, self._wrap(getattr(torch.Tensor, name)))

    def _wrap(self, original: Any) -> Any:
        def wrapped(t: Any, *args: Any, **kwargs: Any) -> Any:
            if sys._getframe(1).f_code.co_filename.startswith(GUARD_SOURCES):
                self.syncs += 1
            return original(t, *args, **kwargs)

        return wrapped


def _time_clip_inner(rec: _Recorder) -> None:
    """Time the trainer's ``clip_grad_norm_`` itself (called inside the guard's recording wrapper, once installed)."""
    import torch

    original = torch.nn.utils.clip_grad_norm_

    def inner(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            rec.clip_inner += time.perf_counter() - t0

    torch.nn.utils.clip_grad_norm_ = inner


def _time_clip_wrapper(rec: _Recorder) -> None:
    """Count the guard's ``clip_grad_norm_`` wrapper (the call minus the original inside it) as the guard's work."""
    import torch

    wrapper = torch.nn.utils.clip_grad_norm_
    if getattr(wrapper, "_lrguard_original", None) is None or getattr(wrapper, "_bench_timed", False):
        return

    def outer(*args: Any, **kwargs: Any) -> Any:
        inner0, t0 = rec.clip_inner, time.perf_counter()
        try:
            return wrapper(*args, **kwargs)
        finally:
            rec.add("clip wrapper", time.perf_counter() - t0 - (rec.clip_inner - inner0))

    outer._bench_timed = True  # type: ignore[attr-defined]
    torch.nn.utils.clip_grad_norm_ = outer


def _set_path(hooks: Any, rec: _Recorder) -> None:
    """Choose the path and time the guard's own work (before_step + after_step + its clip wrapper) on the instance."""
    guard = hooks.guard
    _time_clip_wrapper(rec)
    from lrguard.guard import clipnorm_adapter

    if not getattr(clipnorm_adapter.take, "_bench_counted", False):
        take = clipnorm_adapter.take

        def counted(grads: Any) -> Any:
            known = take(grads)
            rec.reused += known is not None
            return known

        counted._bench_counted = True  # type: ignore[attr-defined]
        clipnorm_adapter.take = counted
    ema_update = hooks._ema_update

    def timed_ema(ema: Any, original: Any, args: Any, kwargs: Any) -> Any:
        inner = [0.0]

        def timed_original(*a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return original(*a, **k)
            finally:
                inner[0] += time.perf_counter() - t0

        t0 = time.perf_counter()
        try:
            return ema_update(ema, timed_original, args, kwargs)
        finally:
            rec.add("EMA wrapper", time.perf_counter() - t0 - inner[0])

    hooks._ema_update = timed_ema
    guard.read_cpu_flag = os.environ.get("BENCH_DEVICE_PATH") != "1"
    for name in ("before_step", "after_step"):
        original = getattr(guard, name)

        def timed(*args: Any, _original: Any = original, _name: str = name, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                rec.add(_name, time.perf_counter() - t0)

        setattr(guard, name, timed)


def _child_yolov5(out: Path, data: Path, epochs: int, rec: _Recorder) -> None:
    sys.argv = sys.argv[:1]
    from yolov5 import train
    from yolov5.utils.callbacks import Callbacks

    from lrguard.trainers.yolov5.guard_adapter import YOLOv5Guard

    guard = YOLOv5Guard(events=str(out / "events.jsonl"), console=None)
    original = guard._attached

    def attached(hooks: Any) -> None:
        original(hooks)
        _set_path(hooks, rec)
        rec.hooks = hooks
        rec._set()

    guard._attached = attached  # type: ignore[method-assign]
    callbacks = guard.register(Callbacks())
    callbacks.register_action("on_train_epoch_start", name="bench", callback=rec.epoch_start)
    callbacks.register_action("on_train_batch_start", name="bench", callback=rec.batch_start)
    callbacks.register_action("on_train_batch_end", name="bench", callback=rec.batch_end)
    opt = train.parse_opt(True)
    settings = {
        "data": str(data),
        "cfg": "yolov5n.yaml",
        "weights": "",
        "imgsz": int(os.environ.get("BENCH_IMGSZ", "64")),
        "batch_size": 16,
        "epochs": epochs,
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
    train.main(opt, callbacks)


def _child_ultralytics(out: Path, data: Path, epochs: int, rec: _Recorder) -> None:
    from ultralytics import YOLO

    from lrguard.trainers.ultralytics.guard_adapter import UltralyticsGuard

    yolo = YOLO("yolov8n.yaml")
    guard = UltralyticsGuard(events=str(out / "events.jsonl"), console=None)
    guard.register(yolo)

    def start(trainer: Any) -> None:
        _set_path(guard.hooks, rec)
        rec.hooks = guard.hooks
        rec._set()

    yolo.add_callback("on_train_start", start)
    yolo.add_callback("on_train_epoch_start", rec.epoch_start)
    yolo.add_callback("on_train_batch_start", rec.batch_start)
    yolo.add_callback("on_train_batch_end", rec.batch_end)
    yolo.train(
        data=str(data),
        imgsz=int(os.environ.get("BENCH_IMGSZ", "64")),
        batch=16,
        nbs=16,  # an optimizer step every batch
        epochs=epochs,
        workers=0,
        device="cpu",
        seed=0,
        deterministic=True,
        pretrained=False,
        optimizer="SGD",
        lr0=0.01,
        warmup_epochs=1,
        plots=False,
        amp=False,
        verbose=False,
        val=False,
        project=str(out / "runs"),
        name="exp",
    )


def child(trainer: str, out: Path, data: Path, epochs: int) -> None:
    """Train in this process and write ``out/bench.json``."""
    from harness.offline import install_network_guard

    install_network_guard()
    rec = _Recorder()
    rec.install()
    _time_clip_inner(rec)
    (_child_yolov5 if trainer == "yolov5" else _child_ultralytics)(out, data, epochs, rec)
    (out / "bench.json").write_text(json.dumps({"batches": rec.batches}), encoding="utf-8")


def summarize(trainer: str, batches: list[dict[str, Any]]) -> dict[str, Any]:
    """Median step-batch time of each side (the first epoch's first batches left out: warm-up of the process)."""
    kept = [b for b in batches if b["stepped"] and b["epoch"] >= 1]
    on = [b["seconds"] for b in kept if b["guarded"]]
    off = [b["seconds"] for b in kept if not b["guarded"]]
    guarded_steps = [b for b in kept if b["guarded"]]
    syncs = sum(b["syncs"] for b in guarded_steps)
    return {
        "trainer": trainer,
        "steps_with": len(on),
        "steps_without": len(off),
        "median_ms_with": 1e3 * statistics.median(on),
        "median_ms_without": 1e3 * statistics.median(off),
        "ratio": statistics.median(on) / statistics.median(off),
        "guard_ms_per_step": 1e3 * statistics.median(b["guard_seconds"] for b in guarded_steps),
        "host_reads_per_step": syncs / max(1, len(guarded_steps)),
        "steps_with_a_host_read": sum(1 for b in guarded_steps if b["syncs"]),
        "clip_norm_reused": sum(b["reused"] for b in guarded_steps),
        "parts_ms": {
            part: 1e3 * statistics.median(b["parts"].get(part, 0.0) for b in guarded_steps)
            for part in sorted({p for b in guarded_steps for p in b["parts"]})
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trainer", choices=("yolov5", "ultralytics", "both"), default="both")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--imgsz", type=int, default=64, help="training image size (the images are drawn at 64 px)")
    parser.add_argument("--device-path", action="store_true", help="the GPU path on CPU (copy + where every step)")
    parser.add_argument("--child", nargs=3, metavar=("TRAINER", "OUT", "DATA"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        trainer, out, data = args.child
        child(trainer, Path(out), Path(data), args.epochs)
        return
    from harness.offline import prepare_offline
    from harness.synthetic_data import make_dataset

    trainers = ("yolov5", "ultralytics") if args.trainer == "both" else (args.trainer,)
    with tempfile.TemporaryDirectory(prefix="lrguard-bench-") as tmp:
        root = Path(tmp)
        env = {**os.environ, **prepare_offline(root / "cache"), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        env["WANDB_MODE"] = "disabled"
        env["BENCH_DEVICE_PATH"] = "1" if args.device_path else "0"
        env["BENCH_IMGSZ"] = str(args.imgsz)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(_REPO / "src"), str(_REPO / "tests"), env.get("PYTHONPATH", "")) if p
        )
        for trainer in trainers:
            out = root / trainer
            data = make_dataset(out / "data", n_train=args.images, n_val=4)
            cmd = [sys.executable, __file__, "--epochs", str(args.epochs), "--child", trainer, str(out), str(data)]
            proc = subprocess.run(cmd, env=env, cwd=out, capture_output=True, text=True)
            if proc.returncode:
                sys.exit(f"{trainer} training failed:\n{proc.stdout[-2000:]}{proc.stderr[-4000:]}")
            result = summarize(trainer, json.loads((out / "bench.json").read_text())["batches"])
            path = ("device path" if args.device_path else "CPU path") + f", {args.imgsz} px"
            print(
                f"{trainer:12s} ({path}) step batches {result['steps_with']} with / {result['steps_without']} without the guard: "
                f"median {result['median_ms_with']:.1f} ms vs {result['median_ms_without']:.1f} ms, "
                f"ratio {result['ratio']:.3f}; the guard's own work {result['guard_ms_per_step']:.2f} ms per step "
                f"({result['guard_ms_per_step'] / result['median_ms_without']:.1%}); host reads per guarded step {result['host_reads_per_step']:.3f} "
                f"({result['steps_with_a_host_read']} steps with one); the trainer's clip norm reused at "
                f"{result['clip_norm_reused']} of {result['steps_with']} steps; medians per step (ms): "
                + ", ".join(f"{k} {v:.3f}" for k, v in result["parts_ms"].items())
            )


if __name__ == "__main__":
    main()
