"""Run a real trainer, continue it with `lrguard continue`, and train the continuation (offline, CPU).

Usage: python tests/_continue_real.py yolov5|ultralytics WORKDIR

Writes WORKDIR/summary.json with the two run directories, the continuation file and the command.
Run as its own process: the trainers parse sys.argv and keep global state. The offline settings
are harness.offline's (env vars plus a local Arial.ttf so neither trainer fetches its font)
and the dataset is harness.synthetic_data's.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:  # run as a script from a checkout without installing
    sys.path.insert(0, str(ROOT / "src"))

from harness.offline import apply_offline_env
from harness.synthetic_data import make_dataset

#: Variables set on top of harness.offline's: no experiment loggers, one intra-op thread.
EXTRA_ENV = {
    "WANDB_MODE": "disabled",
    "OMP_NUM_THREADS": "1",  # small models on a shared CPU: threads only contend
    "COMET_MODE": "disabled",
}


def lrguard_continue(run_dir: Path, epochs: int, out: Path) -> dict:
    """`lrguard continue RUN --epochs N --out OUT --json` in a subprocess; return its JSON."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    cmd = [
        sys.executable,
        "-m",
        "lrguard",
        "continue",
        str(run_dir),
        "--epochs",
        str(epochs),
        "--out",
        str(out),
        "--json",
    ]
    res = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return json.loads(res.stdout)


def yolov5(work: Path) -> dict:
    """Original: 5 epochs of 26 images at batch 1 (nb 26; warmup = the 100-iteration floor, rows 0-3).

    Continuation: 5 epochs, so rows 4 (after the hard-coded 100 warmup iterations) follow the new schedule.
    """
    data = make_dataset(work / "data", n_train=26, n_val=4)  # batch 1: nb = 26
    hyp = work / "hyp.yaml"
    from lrguard.trainers.yolov5.profiles import HYP_SCRATCH_LOW

    hyp.write_text(json.dumps({**HYP_SCRATCH_LOW, "warmup_epochs": 1.0, "mosaic": 0.0}))
    common = ["--device", "cpu", "--workers", "0", "--noplots", "--project", str(work / "runs"), "--exist-ok"]
    subprocess.run(
        [sys.executable, "-m", "yolov5.train", "--cfg", "yolov5n.yaml", "--weights", "", "--data", str(data),
         "--hyp", str(hyp), "--epochs", "5", "--batch-size", "1", "--imgsz", "64", "--name", "orig", "--seed", "0",
         *common],
        check=True,
    )  # fmt: skip
    orig = work / "runs" / "orig"
    rec = lrguard_continue(orig, 5, work / "cont")
    argv = shlex.split(rec["command"])
    assert argv[:2] == ["python", "train.py"], rec["command"]
    # The exact command, with the pip package's module path and the CPU/offline options of this test.
    argv = [sys.executable, "-m", "yolov5.train", *argv[2:]]
    argv[argv.index("--name") + 1] = "cont"
    subprocess.run([*argv, "--seed", "0", *common], check=True)
    return {"old": str(orig), "new": str(work / "runs" / "cont"), "continuation": rec}


def ultralytics(work: Path) -> dict:
    """Original: 4 epochs, 16 images, batch 8 (nb 2), warmup 1 epoch, SGD. Continuation: 3 epochs, warmup off."""
    data = make_dataset(work / "data", n_train=16, n_val=4)  # batch 8: nb = 2
    code = f"""
from ultralytics import YOLO
YOLO("yolov8n.yaml").train(data={str(data)!r}, epochs=4, imgsz=64, batch=8, workers=0, device="cpu", pretrained=False,
    plots=False, amp=False, val=False, project={str(work / "runs")!r}, name="orig", exist_ok=True, seed=0,
    optimizer="SGD", lr0=0.01, warmup_epochs=1, mosaic=0.0, verbose=False)
"""
    subprocess.run([sys.executable, "-c", code], check=True)
    orig = work / "runs" / "orig"
    rec = lrguard_continue(orig, 3, work / "cont")
    argv = shlex.split(rec["command"])
    assert argv[:2] == ["yolo", "train"], rec["command"]
    kv = dict(a.split("=", 1) for a in argv[2:])
    # `yolo train model=... cfg=...` through the Python API (the `yolo` script may not be on PATH here).
    code = f"""
from ultralytics import YOLO
YOLO({kv["model"]!r}).train(cfg={kv["cfg"]!r}, workers=0, device="cpu", plots=False, amp=False, val=False,
    project={str(work / "runs")!r}, name="cont", exist_ok=True, verbose=False)
"""
    subprocess.run([sys.executable, "-c", code], check=True)
    return {"old": str(orig), "new": str(work / "runs" / "cont"), "continuation": rec}


def main() -> None:
    """Entry point: python tests/_continue_real.py yolov5|ultralytics WORKDIR."""
    which, work = sys.argv[1], Path(sys.argv[2]).resolve()
    work.mkdir(parents=True, exist_ok=True)
    apply_offline_env(work, EXTRA_ENV)  # the trainer processes inherit it
    os.chdir(work)
    summary = {"yolov5": yolov5, "ultralytics": ultralytics}[which](work)
    (work / "summary.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
