"""Real HF Accelerate runs on two CPU processes: a tiny ``nn.Linear``, synthetic data, offline.

Launched as ``accelerate launch --multi_gpu --num_processes 2 --num_machines 1 --mixed_precision no
--dynamo_backend no accelerate_scenarios.py SCENARIO RUN_DIR [PHASE]`` with ``Accelerator(cpu=True)``.
In accelerate 1.11.0 ``--cpu --num_processes 2`` starts a single process (``DistributedType.NO``,
``num_processes == 1``); ``--multi_gpu`` with ``cpu=True`` starts two (``MULTI_CPU``, gloo).

The loop logs ``lr`` (the LR the step used), ``train/loss`` and ``train/grad_norm`` through
``Accelerator(log_with="tensorboard", project_dir=RUN_DIR)`` and saves with ``save_state`` into
``RUN_DIR/checkpoints/checkpoint_N`` (``automatic_checkpoint_naming``). The scheduler is
``CosineAnnealingLR``, prepared with the optimizer (``split_batches=False``), so it steps once per
process per optimizer step: sized for the scheduler steps (``len(unprepared loader) * epochs``) it
ends with the run; sized for the optimizer steps of the prepared loader it ends halfway.

:func:`generate` runs every launch of one scenario; :data:`SCENARIOS` says what lrguard must find.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EPOCHS = 5
ROWS = 64
BATCH = 4
LR = 0.1
LAUNCH = (
    "launch",
    "--multi_gpu",
    "--num_processes",
    "2",
    "--num_machines",
    "1",
    "--mixed_precision",
    "no",
    "--dynamo_backend",
    "no",
)


class StepCounter:
    """The optimizer step, saved by ``save_state`` as ``custom_checkpoint_0.pkl`` (``register_for_checkpointing``)."""

    def __init__(self) -> None:
        self.step = 0

    def state_dict(self) -> dict[str, int]:
        return {"step": self.step}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.step = int(state["step"])


def train(scenario: str, run_dir: Path, phase: str) -> None:
    """One process of one launch (run under ``accelerate launch``)."""
    import torch
    from accelerate import Accelerator
    from accelerate.utils import ProjectConfiguration
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    torch.set_num_threads(1)
    acc = Accelerator(
        cpu=True,
        log_with="tensorboard",
        project_config=ProjectConfiguration(project_dir=str(run_dir), automatic_checkpoint_naming=True),
    )
    g = torch.Generator().manual_seed(0)
    x = torch.randn(ROWS, 4, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
    loader = DataLoader(TensorDataset(x, y), batch_size=BATCH, shuffle=False)
    torch.manual_seed(0)
    model = nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    scheduler_steps = len(loader) * EPOCHS  # what one process would step: right for split_batches=False
    optimizer_steps = (len(loader) // acc.num_processes) * EPOCHS
    t_max = optimizer_steps if scenario == "stepped-per-process" else scheduler_steps
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=t_max)
    model, opt, loader, sched = acc.prepare(model, opt, loader, sched)
    counter = StepCounter()
    acc.register_for_checkpointing(counter)
    acc.init_trackers("tb")
    step = 0
    if phase == "resume":
        ckpts = sorted((run_dir / "checkpoints").glob("checkpoint_*"), key=lambda p: int(p.name.split("_")[1]))
        acc.load_state(str(ckpts[-1]))
        acc.project_configuration.iteration = int(ckpts[-1].name.split("_")[1]) + 1  # save next to it
        step = counter.step
    stop = optimizer_steps // 2 if phase == "first" else optimizer_steps
    done = step
    while done < stop:
        for xb, yb in loader:
            if done >= stop:
                break
            if done < step:  # skip the batches trained before the resume
                done += 1
                continue
            with acc.accumulate(model):
                loss = nn.functional.mse_loss(model(xb), yb)
                acc.backward(loss)
                gn = acc.clip_grad_norm_(model.parameters(), 1e9)
                lr = opt.param_groups[0]["lr"]
                opt.step()
                sched.step()
                opt.zero_grad()
            done += 1
            counter.step = done
            acc.log({"lr": lr, "train/loss": loss.item(), "train/grad_norm": float(gn)}, step=done)
    acc.save_state()
    acc.end_training()


#: Scenario -> (launch phases, expected cause or None, step of the finding).
SCENARIOS: dict[str, tuple[tuple[str, ...], str | None, int | None]] = {
    "clean": (("all",), None, None),
    "resume": (("first", "resume"), None, None),
    "stepped-per-process": (("all",), "scheduler-stepped-per-process", 21),
}


def generate(scenario: str, run_dir: Path, timeout: float = 120) -> None:
    """Run every launch of ``scenario`` into ``run_dir`` (offline, two CPU processes).

    Raises:
        subprocess.CalledProcessError: A launch failed (its output is in ``run_dir/log.txt``).
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "HF_HOME": str(run_dir.parent / ".hf_home"),
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join(p for p in (str(Path(__file__).parent), os.environ.get("PYTHONPATH")) if p),
    }
    launcher = [sys.executable, "-m", "accelerate.commands.launch", *LAUNCH[1:]]
    with (run_dir.parent / f"{run_dir.name}.log.txt").open("a") as log:
        for phase in SCENARIOS[scenario][0]:
            subprocess.run(
                [*launcher, __file__, scenario, str(run_dir), phase],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=True,
                timeout=timeout,
            )


if __name__ == "__main__":
    train(sys.argv[1], Path(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "all")
