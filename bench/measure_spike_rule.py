"""Measure candidate spike statistics for the live guard: false alarms on clean real runs, detection of injected spikes.

Usage::

    python bench/measure_spike_rule.py [--wild DIR] [--steps 2000] [--json OUT] [--yolo [--yolo-cache DIR]]

Series (every value positive):

- per-step loss and total gradient norm of real training, run here on the CPU with real
  optimizers and schedules (a small CNN with SGD + momentum + warmup/cosine on noisy synthetic
  images; an MLP regression with AdamW; a one-layer character transformer with AdamW + warmup on
  lrguard's own docs). Mini-batch noise, warmup and decay are real; the models are small;
- per-step loss and grad norm of the bundled Hugging Face Trainer examples (``examples/hf``);
- the per-epoch train-loss columns of real users' YOLOv5 / Ultralytics ``results.csv`` files whose
  LR is clean (``--wild``: a folder of run folders with ``expected.json``; read in place);
- ``--yolo``: the per-step total training loss of real YOLOv5 and Ultralytics CPU trainings (tiny
  synthetic images, 64 px, yolov5n / yolov8n from their yaml, the tests' offline setup), exactly as the
  guard judges it: each value is what the trainer's guard adapter hands to the guard's judge at that
  optimizer step (``GuardCore.observe``), so warmup, accumulation and the trainer's own loss scaling
  are the trainer's. Trained once in child processes and kept in a JSON file under ``--yolo-cache``
  (default: the user's cache folder), so a rerun only measures. Reported with the warmup steps (what
  the guard judges: every step) and without them (the trainer's warmup iterations left out).

False alarms: every call on an unmodified series, per 1000 values judged. Detection: at sampled
positions (after 32 values of history), the value is multiplied by ``k`` and the detector, in the
state the clean prefix left it, judges it (``single``); ``persistent`` multiplies 4 consecutive
values by ``k`` and counts a call at any of them (what a rule with patience needs).
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import math
import os
import random
import subprocess
import sys
import tempfile
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from lrguard.signals.spike import SpikeDetector, SpikeRule  # noqa: E402

KS = (1.5, 2.0, 3.0, 5.0, 10.0)
WARM = 32


# -- candidate statistics (streaming: update(value) -> called) ---------------------------------------
class MedianMad:
    """lrguard's SpikeRule (median of a window, log-MAD z, ratio floor, explosion)."""

    def __init__(self, rule: SpikeRule) -> None:
        self.d = SpikeDetector(rule)

    def update(self, x: float) -> bool:
        return self.d.update(x) is not None


class LightningRtol:
    """Lightning's SpikeDetection: not an improvement on the last value and >= (1 + rtol) x the running mean of ``window``; calls stay out of the mean."""

    def __init__(self, window: int = 10, rtol: float = 2.0, warmup: int = 1) -> None:
        self.h: deque[float] = deque(maxlen=window)
        self.rtol, self.warmup, self.n, self.last = rtol, warmup, 0, math.inf

    def update(self, x: float) -> bool:
        self.n += 1
        spike = (
            bool(self.h)
            and self.n > self.warmup
            and x > self.last
            and abs(x - np.mean(self.h)) >= self.rtol * np.mean(self.h)
        )
        if not spike:
            self.h.append(x)
            self.last = x
        return spike


class MeanSigma:
    """OLMo-core style: value > mean + z * std of the last ``window`` values (at least ``min_history``)."""

    def __init__(self, window: int = 128, z: float = 6.0, min_history: int = 16) -> None:
        self.h: deque[float] = deque(maxlen=window)
        self.z, self.min = z, min_history

    def update(self, x: float) -> bool:
        spike = len(self.h) >= self.min and x > np.mean(self.h) + self.z * np.std(self.h)
        self.h.append(x)
        return bool(spike)


class RatioPatience:
    """llm-foundry style: ``patience`` consecutive values above ``mult`` x the mean of the last ``window``."""

    def __init__(self, window: int = 100, mult: float = 2.0, patience: int = 4, min_history: int = 16) -> None:
        self.h: deque[float] = deque(maxlen=window)
        self.mult, self.patience, self.min, self.run = mult, patience, min_history, 0

    def update(self, x: float) -> bool:
        out = len(self.h) >= self.min and x > self.mult * np.mean(self.h)
        self.run = self.run + 1 if out else 0
        self.h.append(x)
        return self.run >= self.patience


class EwmRatio:
    """metaseq style: value / exponentially weighted mean of the earlier values > ``ratio``."""

    def __init__(self, alpha: float = 0.02, ratio: float = 1.5, min_history: int = 16) -> None:
        self.alpha, self.ratio, self.min, self.n, self.m = alpha, ratio, min_history, 0, 0.0

    def update(self, x: float) -> bool:
        spike = self.n >= self.min and x > self.ratio * self.m
        self.m = x if self.n == 0 else (1 - self.alpha) * self.m + self.alpha * x
        self.n += 1
        return bool(spike)


CANDIDATES: dict[str, Callable[[], object]] = {
    "median/MAD w8 (SpikeRule default)": lambda: MedianMad(SpikeRule()),
    "median/MAD w32 z5 r1.5": lambda: MedianMad(SpikeRule(window=32)),
    "median/MAD w32 z6 r2 (LIVE_RULE)": lambda: MedianMad(SpikeRule(window=32, mad_z=6.0, ratio=2.0)),
    "median/MAD w64 z6 r2": lambda: MedianMad(SpikeRule(window=64, mad_z=6.0, ratio=2.0)),
    "median/MAD w32 z8 r2": lambda: MedianMad(SpikeRule(window=32, mad_z=8.0, ratio=2.0)),
    "median/MAD w64 z8 r1.5": lambda: MedianMad(SpikeRule(window=64, mad_z=8.0, ratio=1.5)),
    "Lightning rtol 2 / w10": lambda: LightningRtol(),
    "mean+6sd / w128": lambda: MeanSigma(),
    "mean+4sd / w128": lambda: MeanSigma(z=4.0),
    "2x mean w100 / patience 4": lambda: RatioPatience(),
    "EWM ratio 1.5 (a=0.02)": lambda: EwmRatio(),
    "EWM ratio 2 (a=0.02)": lambda: EwmRatio(ratio=2.0),
}


# -- series -------------------------------------------------------------------------------------------
def _train(kind: str, steps: int, seed: int, easy: bool = False) -> tuple[list[float], list[float]]:
    import torch

    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    if kind == "cnn-sgd":
        model: torch.nn.Module = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
            torch.nn.Linear(16, 2),
        )  # fmt: skip
        opt: torch.optim.Optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)

        def batch() -> tuple[torch.Tensor, torch.Tensor]:
            y = torch.randint(0, 2, (16,), generator=g)
            x = torch.randn(16, 3, 16, 16, generator=g) * (0.8 if easy else 1.5)
            side, lift = (8, 1.5) if easy else (4, 0.6)  # easy: the loss saturates near 0 (heavy-tailed)
            for i in range(16):
                r, c = torch.randint(0, 8, (2,), generator=g).tolist()
                x[i, int(y[i]), r : r + side, c : c + side] += lift
            return x, y

        loss_fn: Callable[..., torch.Tensor] = torch.nn.functional.cross_entropy
    elif kind == "mlp-adamw":
        w = torch.randn(32, 1, generator=g)
        model = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.GELU(), torch.nn.Linear(64, 1))
        opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)

        def batch() -> tuple[torch.Tensor, torch.Tensor]:
            x = torch.randn(32, 32, generator=g)
            return x, torch.tanh(x @ w) + 0.3 * torch.randn(32, 1, generator=g)

        loss_fn = torch.nn.functional.mse_loss
    else:  # char transformer on lrguard's docs
        text = "\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "docs").glob("*.md")))
        data = torch.tensor([min(ord(ch), 127) for ch in text])

        class CharLM(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.emb = torch.nn.Embedding(128, 64)
                self.pos = torch.nn.Parameter(torch.zeros(64, 64))
                self.block = torch.nn.TransformerEncoderLayer(64, 4, 128, dropout=0.1, batch_first=True)
                self.head = torch.nn.Linear(64, 128)

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                mask = torch.nn.Transformer.generate_square_subsequent_mask(x.shape[1])
                return self.head(self.block(self.emb(x) + self.pos[: x.shape[1]], src_mask=mask, is_causal=True))

        model = CharLM()
        opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)

        def batch() -> tuple[torch.Tensor, torch.Tensor]:
            idx = torch.randint(0, len(data) - 65, (16,), generator=g)
            seq = torch.stack([data[i : i + 65] for i in idx.tolist()])
            return seq[:, :-1], seq[:, 1:]

        def loss_fn(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.cross_entropy(out.reshape(-1, 128), y.reshape(-1))

    warm = steps // 20
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps))
    )
    losses, norms = [], []
    for _ in range(steps):
        x, y = batch()
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), math.inf)))
        losses.append(float(loss.detach()))
        opt.step()
        sched.step()
    return losses, norms


def saturated_series(steps: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for seed in (0, 1):
        loss, gnorm = _train("cnn-sgd", steps, seed, easy=True)
        out[f"cnn-sgd-easy/s{seed}/loss"] = loss
        out[f"cnn-sgd-easy/s{seed}/grad"] = gnorm
    return out


def step_series(steps: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for kind in ("cnn-sgd", "mlp-adamw", "charlm-adamw"):
        for seed in (0, 1):
            loss, gnorm = _train(kind, steps, seed)
            out[f"{kind}/s{seed}/loss"] = loss
            out[f"{kind}/s{seed}/grad"] = gnorm
    for state in sorted((ROOT / "examples" / "hf").glob("*/checkpoint-*/trainer_state.json")):
        hist = json.loads(state.read_text())["log_history"]
        by_run = f"hf-{state.parent.parent.name}"
        for key, name in (("loss", "loss"), ("grad_norm", "grad")):
            vals = [float(h[key]) for h in hist if key in h]
            if len(vals) > len(out.get(f"{by_run}/{name}", [])):
                out[f"{by_run}/{name}"] = vals
    return out


def wild_series(folder: Path) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for run in sorted(p for p in folder.iterdir() if (p / "expected.json").is_file()):
        if not json.loads((run / "expected.json").read_text()).get("clean"):
            continue
        with (run / "results.csv").open(encoding="utf-8", errors="replace") as fh:
            rows = list(csv.reader(line.replace("\0", "") for line in fh))
        head = [h.strip() for h in rows[0]]
        for j, name in enumerate(head):
            if not name.startswith("train/"):
                continue
            vals = []
            for r in rows[1:]:
                try:
                    v = float(r[j])
                except (ValueError, IndexError):
                    continue
                if math.isfinite(v) and v > 0:
                    vals.append(v)
            if len(vals) >= 40:
                out[f"{run.name}/{name}"] = vals
    return out


# -- per-step YOLO losses (--yolo) ----------------------------------------------------------------------
#: (trainer, seed) pairs, images, batch, epochs: YOLOv5 at batch 64 (its nominal batch: no accumulation),
#: Ultralytics at batch 16 with ``nbs=16`` (an optimizer step every batch).
YOLO_RUNS = {
    "yolov5": {"images": 256, "batch": 64, "epochs": 100},
    "ultralytics": {"images": 128, "batch": 16, "epochs": 50},
}
YOLO_SEEDS = (0, 1)
YOLO_IMGSZ = 64


def _yolo_child(trainer: str, out: Path, data: Path, seed: int) -> None:
    """Train in this process; write ``out/series.json``: the guard's judged loss and grad norm per step, the batch of each step."""
    import torch
    from torch.optim.optimizer import register_optimizer_step_post_hook

    sys.path.insert(0, str(ROOT / "tests"))
    from harness.offline import install_network_guard
    from lrguard.guard.core import GuardCore

    install_network_guard()
    torch.set_num_threads(1)
    cfg = YOLO_RUNS[trainer]
    rec: dict[str, list[Any]] = {"loss": [], "grad": [], "step": [], "batch_of_step": []}
    batch = [-1]
    observe = GuardCore.observe

    def recording(self: GuardCore, step: int, loss: Any = None, grad_norm: Any = None, **kw: Any) -> Any:
        rec["step"].append(step)
        rec["loss"].append(loss)
        rec["grad"].append(grad_norm)
        return observe(self, step, loss, grad_norm, **kw)

    GuardCore.observe = recording  # type: ignore[method-assign]
    register_optimizer_step_post_hook(lambda *a: rec["batch_of_step"].append(batch[0]))

    def batch_start(*args: Any, **kwargs: Any) -> None:
        batch[0] += 1

    nb = math.ceil(cfg["images"] / cfg["batch"])
    if trainer == "yolov5":
        sys.argv = sys.argv[:1]
        from yolov5 import train
        from yolov5.utils.callbacks import Callbacks

        from lrguard.trainers.yolov5.guard_adapter import YOLOv5Guard

        callbacks = YOLOv5Guard(events=str(out / "events.jsonl"), console=None).register(Callbacks())
        callbacks.register_action("on_train_batch_start", name="bench", callback=batch_start)
        opt = train.parse_opt(True)
        settings = {
            "data": str(data), "cfg": "yolov5n.yaml", "weights": "", "imgsz": YOLO_IMGSZ,
            "batch_size": cfg["batch"], "epochs": cfg["epochs"], "workers": 0, "device": "cpu", "seed": seed,
            "noplots": True, "noautoanchor": True, "project": str(out / "runs"), "name": "exp",
        }  # fmt: skip
        for key, value in settings.items():
            setattr(opt, key, value)
        train.main(opt, callbacks)
        warmup = max(round(3.0 * nb), 100)  # hyp.scratch-low warmup_epochs 3, at least 100 iterations
    else:
        from ultralytics import YOLO

        from lrguard.trainers.ultralytics.guard_adapter import UltralyticsGuard

        yolo = YOLO("yolov8n.yaml")
        UltralyticsGuard(events=str(out / "events.jsonl"), console=None).register(yolo)
        yolo.add_callback("on_train_batch_start", batch_start)
        yolo.train(
            data=str(data), imgsz=YOLO_IMGSZ, batch=cfg["batch"], nbs=cfg["batch"], epochs=cfg["epochs"],
            workers=0, device="cpu", seed=seed, deterministic=True, pretrained=False, optimizer="SGD",
            lr0=0.01, plots=False, amp=False, verbose=False, val=False, project=str(out / "runs"), name="exp",
        )  # fmt: skip
        warmup = round(3.0 * nb)  # warmup_epochs 3 (default)
    rec["warmup_batches"] = [warmup]
    (out / "series.json").write_text(json.dumps(rec), encoding="utf-8")


def yolo_cache_file(cache_dir: Path) -> Path:
    """The cache file of the YOLO series, named after everything that changes them."""
    key = "-".join(f"{t}{c['images']}x{c['batch']}e{c['epochs']}" for t, c in YOLO_RUNS.items())
    return cache_dir / f"yolo-loss-{YOLO_IMGSZ}px-{key}-s{''.join(map(str, YOLO_SEEDS))}.json"


def yolo_series(cache_dir: Path) -> dict[str, Any]:
    """Train (or read from the cache) every YOLO run; ``{name: {"loss": [...], "grad": [...], "warmup_steps": n}}``."""
    path = yolo_cache_file(cache_dir)
    if path.is_file():
        cached: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return cached
    sys.path.insert(0, str(ROOT / "tests"))
    from harness.offline import prepare_offline
    from harness.synthetic_data import make_dataset

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="lrguard-spikes-") as tmp:
        root = Path(tmp)
        env = {**os.environ, **prepare_offline(root / "cache"), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        env["WANDB_MODE"] = "disabled"
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(ROOT / "src"), str(ROOT / "tests"), env.get("PYTHONPATH", "")) if p
        )
        jobs = []
        for trainer, cfg in YOLO_RUNS.items():
            for seed in YOLO_SEEDS:
                run = root / f"{trainer}-s{seed}"
                data = make_dataset(run / "data", n_train=cfg["images"], n_val=4, seed=seed)
                cmd = [sys.executable, __file__, "--yolo-child", trainer, str(run), str(data), str(seed)]
                log = (run / "log.txt").open("w")
                jobs.append((trainer, seed, run, log, subprocess.Popen(cmd, env=env, cwd=run, stdout=log, stderr=log)))
                print(f"training {trainer} seed {seed} ...", file=sys.stderr)
        for trainer, seed, run, log, proc in jobs:
            code = proc.wait()
            log.close()
            if code:
                sys.exit(f"{trainer} seed {seed} failed:\n{(run / 'log.txt').read_text()[-4000:]}")
            rec = json.loads((run / "series.json").read_text())
            if len(rec["step"]) != len(rec["batch_of_step"]) or rec["step"] != sorted(rec["step"]):
                sys.exit(
                    f"{trainer} seed {seed}: {len(rec['step'])} judged steps, {len(rec['batch_of_step'])} optimizer steps"
                )
            warm = sum(1 for b in rec["batch_of_step"] if b < rec["warmup_batches"][0])
            out[f"{trainer}/s{seed}"] = {"loss": rec["loss"], "grad": rec["grad"], "warmup_steps": warm}
    cache_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out), encoding="utf-8")
    return out


def _default_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "lrguard-bench"


# -- measurement --------------------------------------------------------------------------------------
def measure(make: Callable[[], object], series: dict[str, list[float]], rng: random.Random) -> dict[str, float]:
    calls = judged = 0
    hits = {f"single {k:g}x": [0, 0] for k in KS} | {"persistent 2x": [0, 0], "persistent 3x": [0, 0]}
    for values in series.values():
        det = make()
        n = len(values)
        positions = set(rng.sample(range(WARM, n - 4), min(25, max(0, n - 4 - WARM))))
        for i, x in enumerate(values):
            if i in positions:
                for k in KS:
                    trial = copy.deepcopy(det)
                    hits[f"single {k:g}x"][0] += bool(trial.update(x * k))  # type: ignore[attr-defined]
                    hits[f"single {k:g}x"][1] += 1
                for k in (2.0, 3.0):
                    trial = copy.deepcopy(det)
                    got = [trial.update(values[i + j] * k) for j in range(4)]  # type: ignore[attr-defined]
                    hits[f"persistent {k:g}x"][0] += any(got)
                    hits[f"persistent {k:g}x"][1] += 1
            calls += bool(det.update(x))  # type: ignore[attr-defined]
            judged += i >= 1
    out = {"false_per_1000": 1000.0 * calls / max(judged, 1)}
    out.update({name: 100.0 * h / max(t, 1) for name, (h, t) in hits.items()})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wild", type=Path, default=ROOT.parent / "shared" / "realruns-wild")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--series-cache", type=Path, help="keep the trained per-step series in this JSON file")
    ap.add_argument("--by-series", action="store_true", help="also print the default rule's calls per series")
    ap.add_argument("--yolo", action="store_true", help="add per-step losses of real YOLOv5 / Ultralytics trainings")
    ap.add_argument("--yolo-cache", type=Path, default=_default_cache(), help="folder of the YOLO series' JSON cache")
    ap.add_argument("--yolo-child", nargs=4, metavar=("TRAINER", "OUT", "DATA", "SEED"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.yolo_child:
        trainer, out, data, seed = args.yolo_child
        _yolo_child(trainer, Path(out), Path(data), int(seed))
        return 0
    cache = args.series_cache
    if cache is not None and cache.is_file():
        steps, saturated = json.loads(cache.read_text())
    else:
        steps, saturated = step_series(args.steps), saturated_series(args.steps)
        if cache is not None:
            cache.write_text(json.dumps([steps, saturated]))
    groups = {"per-step": steps, "per-step, saturated loss (stress)": saturated}
    if args.wild.is_dir():
        groups["per-epoch (wild)"] = wild_series(args.wild)
    if args.yolo:
        yolo = yolo_series(args.yolo_cache)
        for which in ("loss", "grad"):
            label = "loss" if which == "loss" else "grad norm (after the trainer's clip to 10)"
            groups[f"YOLO per-step {label}, warmup included"] = {f"{k}/{which}": v[which] for k, v in yolo.items()}
            groups[f"YOLO per-step {label}, warmup excluded"] = {
                f"{k}/{which}": v[which][v["warmup_steps"] :] for k, v in yolo.items()
            }
        for k, v in yolo.items():
            print(f"{k}: {len(v['loss'])} steps, {v['warmup_steps']} in warmup", file=sys.stderr)
    for g, s in groups.items():
        print(f"{g}: {len(s)} series, {sum(len(v) for v in s.values())} values", file=sys.stderr)
    if args.by_series:
        for g, s in groups.items():
            for key, values in s.items():
                r = measure(CANDIDATES["median/MAD w8 (SpikeRule default)"], {key: values}, random.Random(0))
                print(f"{g} {key}: n={len(values)} false/1000={r['false_per_1000']:.1f} 10x={r['single 10x']:.0f}")
    results: dict[str, dict[str, dict[str, float]]] = {}
    for name, make in CANDIDATES.items():
        results[name] = {g: measure(make, s, random.Random(0)) for g, s in groups.items()}
    cols = ["false_per_1000", *(f"single {k:g}x" for k in KS), "persistent 2x", "persistent 3x"]
    for g in groups:
        print(f"\n{g}: false alarms per 1000 values; detection % of injected spikes")
        print("| statistic | false /1000 | " + " | ".join(c for c in cols[1:]) + " |")
        print("|---|" + "---|" * len(cols))
        for name in CANDIDATES:
            r = results[name][g]
            print(f"| {name} | {r['false_per_1000']:.1f} | " + " | ".join(f"{r[c]:.0f}" for c in cols[1:]) + " |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
