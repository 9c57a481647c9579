"""Regenerate the bundled example runs with the real YOLOv5 and Ultralytics trainers.

Usage: ``python scripts/make_examples.py OUTDIR [--cache DIR] [--jobs N]``

Runs every scenario of ``harness.realruns`` (offline, on the CPU; reusing the complete ones
in ``--cache``), then copies only the small artifacts of each run directory into
``OUTDIR/<framework>/<scenario>/``: results.csv, opt.yaml, hyp.yaml, args.yaml, scenario.json and
YOLOv5's TensorBoard event files (they mark training sessions) when they are small. No weights,
no images. The absolute path of the generation directory and of the Python environment are
rewritten to neutral placeholders in the copied text files, so the examples name no machine.
``OUTDIR/README.md`` is written too.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE.parent / "tests"))  # the unpublished test harness (tests/harness)

from harness.realruns import SCENARIOS, ensure_runs, wall_seconds  # noqa: E402

TEXT_FILES = ("results.csv", "opt.yaml", "hyp.yaml", "args.yaml", "scenario.json")
EVENTS_GLOB = "events.out.tfevents.*"
MAX_EVENTS_BYTES = 50_000
RUNS_PLACEHOLDER = "/home/user/lrguard-realruns"
ENV_PLACEHOLDER = "/home/user/venv"
#: The pointer to the HF Trainer examples (written by scripts/make_hf_examples.py).
HF_SECTION = (
    "## HF Trainer",
    "",
    "`hf/clean` (40 steps, never interrupted: no finding) and `hf/max-steps` (max_steps 40 -> 80 on resume:",
    "`epochs-changed-on-resume` at step 21) are real `transformers` Trainer output_dirs, pruned to",
    "trainer_state.json, training_args.bin, scheduler.pt and runs/; see `hf/README.md` (made by",
    "`python scripts/make_hf_examples.py examples`).",
)
#: Example directory name of each scenario that does not simply use the scenario's name.
RENAMED = {"yolov5/epochs-changed": "yolov5/seed-like-epochs-changed"}


def example_name(scenario: str) -> str:
    """``<framework>/<example>`` directory of a scenario below the examples root."""
    return RENAMED.get(scenario, scenario)


def _rewrite(text: str, replacements: list[tuple[str, str]]) -> str:
    for old, new in replacements:
        text = text.replace(old, new)
    return text


def copy_run(run_dir: Path, dest: Path, replacements: list[tuple[str, str]]) -> list[str]:
    """Copy the small artifacts of ``run_dir`` into ``dest``; return the names copied."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    copied = []
    for name in TEXT_FILES:
        source = run_dir / name
        if source.is_file():
            text = source.read_text(encoding="utf-8")
            (dest / name).write_text(_rewrite(text, replacements), encoding="utf-8")
            copied.append(name)
    for source in sorted(run_dir.glob(EVENTS_GLOB)):
        data = source.read_bytes()
        if len(data) > MAX_EVENTS_BYTES or any(old.encode() in data for old, _ in replacements):
            print(f"  skipped {source.name} ({len(data)} bytes)")
            continue
        (dest / source.name).write_bytes(data)
        copied.append(source.name)
    return copied


def _expected_text(meta: dict) -> str:
    if not meta["expected"]:
        return "none (clean)"
    return ", ".join(f"`{e['cause']}` @ epoch {e['epoch']} (row {e['row']})" for e in meta["expected"])


def write_readme(outdir: Path, metas: dict[str, dict], seconds: float | None) -> None:
    """Write ``outdir/README.md``: how the examples were made, and what each one shows."""
    timing = (
        f"their {len(metas)} scenario processes took {seconds:.0f} s of wall time in total on a 2-core CPU"
        if seconds
        else "a few minutes on a CPU"
    )
    versions: dict[str, str] = {}
    for meta in metas.values():
        versions.update(meta["versions"])
    lines = [
        "# Example runs (real trainers)",
        "",
        "Every directory here is a real run directory (small files only) written by the unmodified",
        f"trainers: YOLOv5 `yolov5=={versions.get('yolov5', '?')}` (pip package) and Ultralytics",
        f"`ultralytics=={versions.get('ultralytics', '?')}`, with torch `{versions.get('torch', '?')}` on",
        f"the CPU, Python {versions.get('python', '?')}, offline. They were produced by",
        "",
        "    python scripts/make_examples.py examples      # or: make examples",
        "",
        "which runs the scenarios of `harness.realruns` (the same runs the `trainers` tests",
        f"use; {timing}) and copies `results.csv`, `opt.yaml`,",
        "`hyp.yaml`, `args.yaml`, YOLOv5's TensorBoard event files (they mark each training process)",
        "and `scenario.json` (what was done and what lrguard must find). No weights, no images.",
        "",
        "Data: 32 training and 8 validation 64x64 images of coloured rectangles on noise (2 classes),",
        "generated by `harness.synthetic_data`. YOLOv5: `cfg=yolov5n.yaml weights='' imgsz=64",
        "batch_size=1 workers=0 device=cpu seed=0 noplots noautoanchor` (nb=32 batches per epoch, so",
        "its 100-iteration warmup floor ends inside epoch 3). Ultralytics: `YOLO('yolov8n.yaml')` with",
        "`imgsz=64 batch=8 optimizer=SGD lr0=0.01 warmup_epochs=1 pretrained=False amp=False plots=False",
        "workers=0 device=cpu seed=0` (nb=4). Interruptions are an exception raised from a trainer",
        "callback right after last.pt was saved (YOLOv5 `on_model_save`, Ultralytics",
        "`on_fit_epoch_end`); YOLOv5 resumes run the real `python -m yolov5.train --resume <ckpt>`;",
        "Ultralytics resumes call `YOLO(<ckpt>).train(resume=True)`. `scenario.json` lists every step,",
        "edit and command.",
        "",
        f"Absolute paths were rewritten: the generation directory to `{RUNS_PLACEHOLDER}`, the Python",
        f"environment to `{ENV_PLACEHOLDER}`. Epoch numbers follow each trainer's own epoch column",
        "(YOLOv5 0-based, Ultralytics 1-based); an expected finding's epoch is the first row whose",
        "logged LR departs upward from the schedule planned before the change.",
        "",
        "| example | what happened | expected finding(s) |",
        "|---|---|---|",
    ]
    for name, meta in metas.items():
        lines.append(f"| `{example_name(name)}` | {meta['description']} | {_expected_text(meta)} |")
    lines += ["", *HF_SECTION, ""]
    (outdir / "README.md").write_text("\n".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--cache", type=Path, help="reuse/keep the full runs here (default: a temp dir)")
    parser.add_argument("--jobs", type=int, default=2, help="scenario processes at once (default 2)")
    args = parser.parse_args(argv)
    outdir = args.outdir.resolve()
    with tempfile.TemporaryDirectory(prefix="lrguard-realruns-") as scratch:
        cache = (args.cache or Path(scratch)).resolve()
        started = time.perf_counter()
        runs = ensure_runs(cache, jobs=args.jobs)
        runs.raise_failures()  # the examples are all or nothing
        print(f"scenarios ready after {time.perf_counter() - started:.0f} s")
        walls = [wall_seconds(cache, name) for name in SCENARIOS]
        seconds = sum(w for w in walls if w is not None) if all(w is not None for w in walls) else None
        replacements = [(str(cache), RUNS_PLACEHOLDER), (sys.prefix, ENV_PLACEHOLDER)]
        if sys.base_prefix != sys.prefix:
            replacements.append((sys.base_prefix, ENV_PLACEHOLDER + "-base"))
        metas = {}
        for name in SCENARIOS:
            dest = outdir / example_name(name)
            copied = copy_run(runs[name], dest, replacements)
            metas[name] = json.loads((dest / "scenario.json").read_text(encoding="utf-8"))
            print(f"{example_name(name)}: {', '.join(copied)}")
        write_readme(outdir, metas, seconds)
    print(f"examples written to {outdir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
