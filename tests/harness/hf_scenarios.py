"""Real HF Trainer runs (transformers 4.x, unmodified) for the end-to-end tests and the examples.

Each scenario trains a tiny GPT-2 built from a config (2 layers, hidden 16, vocab 64; nothing is
downloaded) on synthetic tokens, on the CPU, offline, logging every step to trainer_state.json and
TensorBoard. ``ensure_hf_runs(cache_dir)`` generates every scenario that is not complete yet, each in
its own subprocess (``python -m harness.hf_scenarios NAME OUTPUT_DIR``), under the generation lock of
:mod:`harness.realruns`; a scenario is complete once its marker exists (written last, by rename). A
scenario that fails is recorded with its log tail and raises only when it is asked for.

An interruption is a callback that stops training after a step past the last checkpoint (the steps
after it are logged to TensorBoard but lost from trainer_state.json, as after a crash). Every
``train()`` call logs to its own ``runs/sessionN`` directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Bump when a recipe changes: older cached runs are generated again.
HF_RECIPE_VERSION = 3
MARKER = ".complete"
LOG = "log.txt"
TIMEOUT_S = 300
MAX_STEPS = 40
SAVE_STEPS = 10
#: The callback stops the first session after this step (checkpoint-20 is the newest saved).
STOP_AT = 25
LR = 5e-3
WARMUP = 4
#: The step whose forward pass sees a NaN weight in the ``nan`` scenario.
NAN_STEP = 15


@dataclass(frozen=True)
class Expected:
    """What ``lrguard diagnose`` should say: a cause id at a step, or no warning (``cause=None``)."""

    cause: str | None
    step: int | None = None
    severity: str = "warning"


DESCRIPTIONS: dict[str, str] = {
    "clean": f"{MAX_STEPS} steps, linear schedule with {WARMUP} warmup steps, never interrupted.",
    "seamless": f"stopped after step {STOP_AT} (checkpoint-20 is the newest), then "
    "`train(resume_from_checkpoint=True)` with the same arguments.",
    "max_steps": f"stopped after step {STOP_AT}, resumed with max_steps {MAX_STEPS} -> {2 * MAX_STEPS}: the "
    "scheduler is rebuilt for the new length and keeps its restored step, so the LR jumps up.",
    "save_only_model": f"save_only_model=True, stopped after step {STOP_AT}, then resumed: no optimizer.pt or "
    "scheduler.pt, the schedule starts again with warmup at step 21.",
    "lr_changed": f"stopped after step {STOP_AT}, resumed with learning_rate x2: no effect, the restored "
    "scheduler and optimizer keep the old rates.",
    "scheduler_type": f"stopped after step {STOP_AT}, resumed with lr_scheduler_type linear -> cosine: the new "
    "lambda at the restored step.",
    "nan": f"a NaN written into one weight before step {NAN_STEP}: logging_nan_inf_filter keeps the logged loss "
    "finite, grad_norm is nan.",
    "restart": "a finished run, then a new Trainer on checkpoint-40's weights in the same output_dir, "
    "train() without resume: the step counter and the schedule start again.",
}

EXPECTED: dict[str, Expected] = {
    "clean": Expected(None),
    "seamless": Expected(None),
    "max_steps": Expected("epochs-changed-on-resume", 21),
    "save_only_model": Expected("scheduler-built-after-load", 21),
    "lr_changed": Expected("hyp-changed-on-resume", 21, "info"),
    "scheduler_type": Expected("hyp-changed-on-resume", 21),
    "nan": Expected("nonfinite", NAN_STEP, "error"),
    "restart": Expected("restart-from-weights", 1),
}


# -- the child: one scenario ----------------------------------------------------------------------


def _env_offline() -> None:
    os.environ.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1", WANDB_DISABLED="true")
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def _dataset(n: int = 64, length: int = 8) -> Any:
    import torch

    g = torch.Generator().manual_seed(0)
    # counting sequences from a random start: learnable in a few steps, so the loss shows the weights
    ids = (torch.randint(0, 64, (n, 1), generator=g) + torch.arange(length)) % 64

    class Tokens(torch.utils.data.Dataset):  # type: ignore[misc]
        def __len__(self) -> int:
            return n

        def __getitem__(self, i: int) -> dict[str, Any]:
            return {"input_ids": ids[i], "labels": ids[i]}

    return Tokens()


def _model(weights: Path | None = None) -> Any:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    if weights is not None:
        return GPT2LMHeadModel.from_pretrained(weights)
    cfg = GPT2Config(vocab_size=64, n_positions=16, n_embd=16, n_layer=2, n_head=2, n_inner=32)
    return GPT2LMHeadModel(cfg)


def _stop_after(step: int) -> Any:
    from transformers import TrainerCallback

    class Stop(TrainerCallback):  # type: ignore[misc]
        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> Any:
            if state.global_step >= step:
                control.should_training_stop = True
            return control

    return Stop()


def _poison_at(step: int) -> Any:
    import torch
    from transformers import TrainerCallback

    class Poison(TrainerCallback):  # type: ignore[misc]
        def on_step_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> Any:
            if state.global_step == step - 1:  # the next optimizer step is ``step``
                with torch.no_grad():
                    model.transformer.wte.weight[0, 0] = float("nan")
            return control

    return Poison()


def _train(
    out: Path,
    session: int,
    *,
    resume: bool = False,
    callbacks: Iterable[Any] = (),
    weights: Path | None = None,
    **overrides: Any,
) -> None:
    from transformers import Trainer, TrainingArguments

    kw: dict[str, Any] = {
        "output_dir": str(out),
        "logging_dir": str(out / "runs" / f"session{session}"),
        "report_to": ["tensorboard"],
        "logging_steps": 1,
        "save_steps": SAVE_STEPS,
        "max_steps": MAX_STEPS,
        "learning_rate": LR,
        "warmup_steps": WARMUP,
        "lr_scheduler_type": "linear",
        "per_device_train_batch_size": 4,
        "use_cpu": True,
        "seed": 0,
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
        "save_safetensors": True,
    }
    kw.update(overrides)
    trainer = Trainer(
        model=_model(weights), args=TrainingArguments(**kw), train_dataset=_dataset(), callbacks=list(callbacks)
    )
    trainer.train(resume_from_checkpoint=True if resume else None)


def _interrupted_then(out: Path, first: dict[str, Any] | None = None, **second: Any) -> None:
    _train(out, 1, callbacks=[_stop_after(STOP_AT)], **(first or {}))
    _train(out, 2, resume=True, **{**(first or {}), **second})


RECIPES: dict[str, Callable[[Path], None]] = {
    "clean": lambda out: _train(out, 1),
    "seamless": lambda out: _interrupted_then(out),
    "max_steps": lambda out: _interrupted_then(out, max_steps=2 * MAX_STEPS),
    "save_only_model": lambda out: _interrupted_then(out, {"save_only_model": True}),
    "lr_changed": lambda out: _interrupted_then(out, learning_rate=2 * LR),
    "scheduler_type": lambda out: _interrupted_then(out, lr_scheduler_type="cosine"),
    "nan": lambda out: _train(out, 1, callbacks=[_poison_at(NAN_STEP)]),
    "restart": lambda out: (
        _train(out, 1),
        _train(out, 2, weights=out / f"checkpoint-{MAX_STEPS}", warmup_steps=0, learning_rate=LR / 10),
    ),
}


def main(argv: list[str]) -> int:
    """``python -m harness.hf_scenarios NAME OUTPUT_DIR``: run one scenario into OUTPUT_DIR."""
    name, out = argv[0], Path(argv[1])
    _env_offline()
    from harness.offline import install_network_guard

    install_network_guard()
    RECIPES[name](out)
    return 0


# -- the parent: generate into a cache ------------------------------------------------------------


class HFScenarioError(RuntimeError):
    """A scenario failed; the message names its log and ends with the log's tail."""


def hf_dir(cache_dir: Path, name: str) -> Path:
    """The scenario directory; the Trainer's output_dir is its ``out/``."""
    return Path(cache_dir).resolve() / "hf" / name


def _complete(cache_dir: Path, name: str) -> bool:
    marker = hf_dir(cache_dir, name) / MARKER
    return marker.is_file() and marker.read_text().split()[:1] == [str(HF_RECIPE_VERSION)]


def _generate(cache_dir: Path, name: str) -> str | None:
    """Run one scenario; return ``None`` or why it failed."""
    import shutil

    root = hf_dir(cache_dir, name)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    tests = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tests), os.environ.get("PYTHONPATH", "")])}
    env.update(HF_HOME=str(root / "hf_home"), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1")
    t0 = time.monotonic()
    with open(root / LOG, "wb") as log:
        try:
            rc = subprocess.run(
                [sys.executable, "-m", "harness.hf_scenarios", name, "out"],
                cwd=root,  # a relative output_dir: training_args.bin and the TB summary record no machine path
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=TIMEOUT_S,
                check=False,
            ).returncode
        except subprocess.TimeoutExpired:
            rc = -1
    if rc != 0:
        tail = "\n".join((root / LOG).read_text(errors="replace").splitlines()[-30:])
        return f"HF scenario {name} failed (exit {rc}); log {root / LOG}\n{tail}"
    tmp = root / (MARKER + ".tmp")
    tmp.write_text(f"{HF_RECIPE_VERSION}\n{time.monotonic() - t0:.1f}\n")
    tmp.rename(root / MARKER)
    return None


class HFRuns:
    """Scenario name -> the output_dir, raising :class:`HFScenarioError` for one that failed."""

    def __init__(self, cache_dir: Path, failures: dict[str, str]) -> None:
        self.cache_dir, self.failures = Path(cache_dir), failures

    def __getitem__(self, name: str) -> Path:
        if name in self.failures:
            raise HFScenarioError(self.failures[name])
        return hf_dir(self.cache_dir, name) / "out"


def ensure_hf_runs(cache_dir: Path, names: Iterable[str] | None = None, jobs: int = 2) -> HFRuns:
    """Generate the missing scenarios (``jobs`` at a time) under the cache's generation lock."""
    from concurrent.futures import ThreadPoolExecutor

    from harness.realruns import generation_lock

    selected = list(RECIPES) if names is None else list(names)
    with generation_lock(cache_dir):
        todo = [n for n in selected if not _complete(cache_dir, n)]
        with ThreadPoolExecutor(max(jobs, 1)) as pool:
            results = dict(zip(todo, pool.map(lambda n: _generate(cache_dir, n), todo), strict=True))
    return HFRuns(cache_dir, {n: why for n, why in results.items() if why})


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
