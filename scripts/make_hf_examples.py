"""Regenerate the bundled HF Trainer example runs (``examples/hf/``) with the real transformers Trainer.

Usage: ``python scripts/make_hf_examples.py OUTDIR [--cache DIR]``

Runs the chosen scenarios of ``harness.hf_scenarios`` (offline, CPU, a tiny GPT-2 built from a
config) and copies each output_dir pruned to what lrguard reads: per checkpoint-N
``trainer_state.json``, ``training_args.bin`` and ``scheduler.pt``, and the ``runs/`` TensorBoard
files (renamed without the host name). The weights, optimizer and RNG states are left out. The
runs use a relative output_dir, so no file records a machine path. Writes ``OUTDIR/hf/README.md``
and ``OUTDIR/hf/<name>/expected.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE.parent / "tests"))

from harness.hf_scenarios import DESCRIPTIONS, EXPECTED, ensure_hf_runs  # noqa: E402

EXAMPLES = ("clean", "max_steps")
KEEP = ("trainer_state.json", "training_args.bin", "scheduler.pt")


def copy_pruned(out: Path, dest: Path) -> None:
    """Copy what lrguard reads from the output_dir ``out`` into ``dest``."""
    if dest.exists():
        shutil.rmtree(dest)
    for ckpt in sorted(out.glob("checkpoint-*")):
        (dest / ckpt.name).mkdir(parents=True)
        for name in KEEP:
            if (ckpt / name).is_file():
                shutil.copyfile(ckpt / name, dest / ckpt.name / name)
    for tb in sorted((out / "runs").glob("*")):
        (dest / "runs" / tb.name).mkdir(parents=True)
        for k, f in enumerate(sorted(tb.glob("events.out.tfevents.*"))):
            stamp = f.name.split(".")[3]
            shutil.copyfile(f, dest / "runs" / tb.name / f"events.out.tfevents.{stamp}.host.{k}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--cache", type=Path, help="reuse/keep the full runs here (default: a temp dir)")
    args = parser.parse_args(argv)
    import transformers

    with tempfile.TemporaryDirectory(prefix="lrguard-hfruns-") as scratch:
        runs = ensure_hf_runs((args.cache or Path(scratch)).resolve(), EXAMPLES)
        lines = [
            "# HF Trainer example runs",
            "",
            f"Written by the unmodified `transformers=={transformers.__version__}` Trainer on the CPU, offline:",
            "a GPT-2 built from a config (2 layers, hidden 16, vocab 64) on synthetic counting sequences,",
            "`logging_steps=1`, `save_steps=10`, `report_to=['tensorboard']`. Made by",
            "`python scripts/make_hf_examples.py examples` from the scenarios of `harness.hf_scenarios`",
            "(the runs the `trainers` tests of `tests/test_e2e_hf.py` use). Only what lrguard reads is kept:",
            "`checkpoint-N/{trainer_state.json,training_args.bin,scheduler.pt}` and `runs/*/` event files.",
            "",
            "| example | what happened | expected finding |",
            "|---|---|---|",
        ]
        for name in EXAMPLES:
            dest = args.outdir.resolve() / "hf" / name.replace("_", "-")
            copy_pruned(runs[name], dest)
            exp = EXPECTED[name]
            record = {"cause": exp.cause, "step": exp.step, "severity": exp.severity, "what": DESCRIPTIONS[name]}
            (dest / "expected.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
            found = f"`{exp.cause}` @ step {exp.step}" if exp.cause else "none (clean)"
            lines.append(f"| `hf/{dest.name}` | {DESCRIPTIONS[name]} | {found} |")
        (args.outdir.resolve() / "hf" / "README.md").write_text("\n".join([*lines, ""]), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
