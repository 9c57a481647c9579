"""Real YOLOv5 7.0.14 / Ultralytics 8.4.190 checkpoints for the checkpoint-inspector tests.

Run as a script (``python tests/_ckpt_real.py OUT``) it trains both trainers for a few epochs on a tiny
synthetic dataset, offline, on the CPU, and writes ``OUT/manifest.json`` naming the files made:

* ``v5_interrupted_last``: YOLOv5 ``last.pt`` of a 3-epoch run stopped after epoch 1 (full state),
  ``v5_epoch0`` / ``v5_epoch1``: its ``--save-period 1`` files;
* ``v5_finished_last`` / ``v5_finished_best``: stripped files of a finished 2-epoch run;
* ``v5_edited_pre_resume`` / ``v5_edited_resumed_last``: a copy of the interrupted run with ``epochs``
  edited 3 -> 5 in opt.yaml, before and after ``--resume`` ran one more epoch;
* ``ul_nowarm_last``: Ultralytics run without warmup (``warmup_epochs=0``), stopped after epoch 1;
* ``ul_interrupted_last``, ``ul_epoch1``, ``ul_finished_last``, ``ul_finished_best``: the same for
  Ultralytics.

:func:`real_checkpoints` runs the script once in a subprocess (the trainers read ``sys.argv`` and
environment variables) and returns the manifest with absolute paths.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
if str(SRC) not in sys.path:  # run as a script from a checkout without installing
    sys.path.insert(0, str(SRC))

from harness.offline import apply_offline_env
from harness.synthetic_data import make_dataset

KEYS = (
    "v5_edited_pre_resume",
    "v5_edited_resumed_last",
    "ul_nowarm_last",
    "v5_interrupted_last",
    "v5_epoch0",
    "v5_epoch1",
    "v5_finished_last",
    "v5_finished_best",
    "ul_interrupted_last",
    "ul_epoch1",
    "ul_finished_last",
    "ul_finished_best",
)


def real_checkpoints(root: Path, timeout: float = 600) -> dict[str, Path]:
    """Train both trainers into ``root`` (once) and return ``{key: checkpoint path}``."""
    manifest = root / "manifest.json"
    if not manifest.exists():
        proc = subprocess.run(
            [sys.executable, __file__, str(root)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0 or not manifest.exists():
            raise RuntimeError(f"real trainers failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return {k: root / v for k, v in json.loads(manifest.read_text()).items()}


class _Stop(Exception):
    pass


def _yolov5(data: Path, out: Path) -> dict[str, str]:
    sys.argv = sys.argv[:1]
    from yolov5 import train
    from yolov5.utils.callbacks import Callbacks

    from harness.yolov5_scenarios import Interrupted, interrupt_callbacks

    base = dict(
        data=str(data),
        cfg="yolov5n.yaml",
        weights="",
        imgsz=64,
        batch_size=4,
        workers=0,
        device="cpu",
        noplots=True,
        project=str(out),
        exist_ok=True,
        seed=0,
    )

    def opt(**kw: object) -> object:
        o = train.parse_opt(True)
        for k, v in {**base, **kw}.items():
            setattr(o, k, v)
        return o

    with contextlib.suppress(Interrupted):  # stopped right after epoch 1 is saved to last.pt
        train.main(opt(epochs=3, name="interrupted", save_period=1), interrupt_callbacks(1))
    train.main(opt(epochs=2, name="finished"), Callbacks())

    # The classic LR jump: copy the interrupted run, edit epochs 3 -> 5 in its opt.yaml, --resume it and
    # stop after the first resumed epoch. pre_resume.pt keeps the file lrguard predicts from.
    import yaml

    edited = out / "edited"
    shutil.copytree(out / "interrupted", edited)
    shutil.copy(edited / "weights" / "last.pt", edited / "weights" / "pre_resume.pt")
    cfg = yaml.safe_load((edited / "opt.yaml").read_text())
    cfg.update(epochs=5, save_dir=str(edited))
    (edited / "opt.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))

    with contextlib.suppress(Interrupted):
        train.main(opt(resume=str(edited / "weights" / "last.pt")), interrupt_callbacks(2))
    return {
        "v5_edited_pre_resume": "v5/edited/weights/pre_resume.pt",
        "v5_edited_resumed_last": "v5/edited/weights/last.pt",
        "v5_interrupted_last": "v5/interrupted/weights/last.pt",
        "v5_epoch0": "v5/interrupted/weights/epoch0.pt",
        "v5_epoch1": "v5/interrupted/weights/epoch1.pt",
        "v5_finished_last": "v5/finished/weights/last.pt",
        "v5_finished_best": "v5/finished/weights/best.pt",
    }


def _ultralytics(data: Path, out: Path) -> dict[str, str]:
    from ultralytics import YOLO

    kw = dict(
        data=str(data),
        imgsz=64,
        batch=4,
        workers=0,
        device="cpu",
        pretrained=False,
        plots=False,
        amp=False,
        val=True,
        project=str(out),
        exist_ok=True,
        seed=0,
        optimizer="SGD",
        lr0=0.01,
        verbose=False,
    )

    def stop_after_2(trainer: object) -> None:  # on_fit_epoch_end runs after last.pt is saved
        if trainer.epoch + 1 == 2:  # type: ignore[attr-defined]
            raise _Stop

    m = YOLO("yolov8n.yaml")
    m.add_callback("on_fit_epoch_end", stop_after_2)
    with contextlib.suppress(_Stop):
        m.train(epochs=3, name="interrupted", save_period=1, **kw)
    YOLO("yolov8n.yaml").train(epochs=2, name="finished", **kw)
    m = YOLO("yolov8n.yaml")
    m.add_callback("on_fit_epoch_end", stop_after_2)
    with contextlib.suppress(_Stop):
        m.train(epochs=4, name="nowarm", warmup_epochs=0, **kw)
    return {
        "ul_nowarm_last": "ul/nowarm/weights/last.pt",
        "ul_interrupted_last": "ul/interrupted/weights/last.pt",
        "ul_epoch1": "ul/interrupted/weights/epoch1.pt",
        "ul_finished_last": "ul/finished/weights/last.pt",
        "ul_finished_best": "ul/finished/weights/best.pt",
    }


def main(root: Path) -> None:
    """Train both trainers into ``root`` and write ``root/manifest.json``."""
    root.mkdir(parents=True, exist_ok=True)
    apply_offline_env(root)  # before the trainers are imported: they read the variables at import
    data = make_dataset(root / "data", n_train=8, n_val=4)  # batch 4: nb = 2 batches per epoch
    made = {**_yolov5(data, root / "v5"), **_ultralytics(data, root / "ul")}
    missing = [k for k, v in made.items() if not (root / v).exists()]
    if missing:
        listing = sorted(str(p.relative_to(root)) for p in root.rglob("*.pt"))
        raise SystemExit(f"missing {missing}; found {listing}")
    (root / "manifest.json").write_text(json.dumps(made, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
