"""Real Lightning 2.x runs for the e2e tests: a tiny LightningModule on synthetic tensors, CPU, offline.

Each scenario writes ``<out>/<scenario>/lightning_logs/version_N/`` directories exactly as Lightning
does (``CSVLogger`` and ``TensorBoardLogger`` share one version dir, ``LearningRateMonitor`` logs the
LR every step, ``ModelCheckpoint(save_last=True)`` keeps ``last.ckpt``). Run one scenario per
process::

    python -m harness.lightning_scenarios OUT_DIR SCENARIO

:data:`EXPECTED` says what ``lrguard diagnose`` must find in each (cause id and step, or nothing).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import warnings
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

#: Scenario -> (expected cause or None, global step of the finding or None).
EXPECTED: dict[str, tuple[str | None, int | None]] = {
    "clean": (None, None),
    "resume_seamless": (None, None),
    "epochs_changed": ("schedule-past-end", 24),
    "restart_from_weights": ("restart-from-weights", 0),
    "interval_mismatch": ("scheduler-interval-mismatch", 8),
    "nan_loss": ("nonfinite", 13),
    "two_optimizers": (None, None),
    "plateau": (None, None),
    "plateau_resume": (None, None),
}
SCENARIO_NAMES = tuple(EXPECTED)
#: Batches per epoch (64 samples, batch 8) and epochs of one full run.
STEPS_PER_EPOCH = 8
EPOCHS = 6
LR = 0.1


def _module(
    sched: str = "cosine", interval: str = "step", total_epochs: int | None = EPOCHS, nan_at: int | None = None
) -> Any:
    import lightning as L
    import torch
    from torch import nn

    class Tiny(L.LightningModule):
        def __init__(self, sched: str, interval: str, total_epochs: int | None, nan_at: int | None) -> None:
            super().__init__()
            self.save_hyperparameters()
            self.net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            x, y = batch
            loss = nn.functional.mse_loss(self.net(x), y)
            if self.hparams.nan_at is not None and self.global_step == self.hparams.nan_at:
                loss = loss * float("nan")
            self.log("train_loss", loss, on_step=True, on_epoch=False)
            return loss

        def configure_optimizers(self) -> Any:
            opt = torch.optim.SGD(self.parameters(), lr=LR, momentum=0.9)
            epochs = self.hparams.total_epochs
            # None: sized from this Trainer's max_epochs, as most LightningModules do
            n = int(self.trainer.estimated_stepping_batches) if epochs is None else epochs * STEPS_PER_EPOCH
            if self.hparams.sched == "onecycle":
                s: Any = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=n)
            else:
                t = n if self.hparams.interval == "step" else n // STEPS_PER_EPOCH
                s = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=t)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": s, "interval": self.hparams.interval}}

    return Tiny(sched, interval, total_epochs, nan_at)


def _two_optimizers() -> Any:
    """Two optimizers (SGD + cosine for the hidden layer, Adam + linear decay for the head), manual optimization."""
    import lightning as L
    import torch
    from torch import nn

    class TwoOpt(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.automatic_optimization = False
            self.hidden = nn.Linear(4, 8)
            self.head = nn.Linear(8, 1)

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            x, y = batch
            opts, scheds = self.optimizers(), self.lr_schedulers()
            loss = nn.functional.mse_loss(self.head(torch.tanh(self.hidden(x))), y)
            for o in opts:
                o.zero_grad()
            self.manual_backward(loss)
            for o in opts:
                o.step()
            for s in scheds:
                s.step()
            self.log("train_loss", loss, on_step=True, on_epoch=False)
            return loss

        def configure_optimizers(self) -> Any:
            n = EPOCHS * STEPS_PER_EPOCH
            sgd = torch.optim.SGD(self.hidden.parameters(), lr=LR, momentum=0.9)
            adam = torch.optim.Adam(self.head.parameters(), lr=LR / 10)
            cos = torch.optim.lr_scheduler.CosineAnnealingLR(sgd, T_max=n)
            lin = torch.optim.lr_scheduler.LinearLR(adam, start_factor=1.0, end_factor=0.1, total_iters=n)
            return [sgd, adam], [{"scheduler": cos, "interval": "step"}, {"scheduler": lin, "interval": "step"}]

    return TwoOpt()


def _plateau() -> Any:
    """ReduceLROnPlateau on the epoch's training loss (patience 0, factor 0.5, threshold 0.5): it halves the LR."""
    import lightning as L
    import torch
    from torch import nn

    class Plateau(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            x, y = batch
            loss = nn.functional.mse_loss(self.net(x), y)
            self.log("train_loss", loss, on_step=True, on_epoch=True)
            return loss

        def configure_optimizers(self) -> Any:
            opt = torch.optim.SGD(self.parameters(), lr=LR, momentum=0.9)
            s = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=0, threshold=0.5)
            return {
                "optimizer": opt,
                "lr_scheduler": {"scheduler": s, "monitor": "train_loss_epoch", "interval": "epoch"},
            }

    return Plateau()


def _data() -> Any:
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=g)
    y = x.sum(dim=1, keepdim=True) * 0.5
    return DataLoader(TensorDataset(x, y), batch_size=8, shuffle=False)


def _trainer(root: Path, max_epochs: int, **kw: Any) -> Any:
    import lightning as L
    from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    version = len(list((root / "lightning_logs").glob("version_*"))) if (root / "lightning_logs").is_dir() else 0
    loggers = [
        CSVLogger(str(root), name="lightning_logs", version=version),
        TensorBoardLogger(str(root), name="lightning_logs", version=version),
    ]
    ckpt_dir = root / "lightning_logs" / f"version_{version}" / "checkpoints"
    return L.Trainer(
        max_epochs=max_epochs,
        accelerator="cpu",
        devices=1,
        logger=loggers,
        callbacks=[
            LearningRateMonitor(logging_interval="step"),
            ModelCheckpoint(dirpath=str(ckpt_dir), save_last=True),
        ],
        log_every_n_steps=1,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        **kw,
    )


def _last(root: Path, version: int) -> str:
    return str(root / "lightning_logs" / f"version_{version}" / "checkpoints" / "last.ckpt")


def run(out: Path, scenario: str) -> Path:
    """Train ``scenario`` into ``out/scenario`` and return that directory."""
    import lightning as L
    import torch

    torch.manual_seed(0)
    torch.set_num_threads(1)
    L.seed_everything(0, verbose=False)
    root = out / scenario
    root.mkdir(parents=True, exist_ok=True)
    half = EPOCHS // 2
    if scenario == "clean":
        _trainer(root, EPOCHS).fit(_module(), _data())
    elif scenario == "nan_loss":
        _trainer(root, EPOCHS).fit(_module(nan_at=13), _data())
    elif scenario == "interval_mismatch":
        _trainer(root, EPOCHS).fit(_module(sched="onecycle", interval="epoch"), _data())
    elif scenario == "resume_seamless":
        _trainer(root, half).fit(_module(), _data())
        _trainer(root, EPOCHS).fit(_module(), _data(), ckpt_path=_last(root, 0))
    elif scenario == "epochs_changed":
        # the schedule is sized from max_epochs: 3 in the first session, 6 in the resumed one; the
        # resumed configure_optimizers builds a 48-step cosine, then Lightning loads the saved
        # scheduler state over it (T_max=24 again)
        _trainer(root, half).fit(_module(total_epochs=None), _data())
        _trainer(root, EPOCHS).fit(_module(total_epochs=None), _data(), ckpt_path=_last(root, 0))
    elif scenario == "two_optimizers":
        _trainer(root, EPOCHS).fit(_two_optimizers(), _data())
    elif scenario == "plateau":
        _trainer(root, EPOCHS).fit(_plateau(), _data())
    elif scenario == "plateau_resume":
        _trainer(root, half).fit(_plateau(), _data())
        _trainer(root, EPOCHS).fit(_plateau(), _data(), ckpt_path=_last(root, 0))
    elif scenario == "restart_from_weights":
        _trainer(root, half).fit(_module(), _data())
        cls = type(_module())
        model = cls.load_from_checkpoint(_last(root, 0))
        _trainer(root, EPOCHS).fit(model, _data())
    else:
        raise KeyError(scenario)
    return root


#: Bump when a scenario's recipe changes: cached runs of an older recipe are generated again.
RECIPE_VERSION = "1"
COMPLETE = ".complete"
SCENARIO_TIMEOUT_S = 300


def _generate_one(cache: Path, scenario: str) -> Path | str:
    """Generate one scenario into ``cache/<scenario>`` unless complete; its path, or why it failed."""
    final = cache / scenario
    marker = final / COMPLETE
    if marker.is_file() and marker.read_text().split()[0] == RECIPE_VERSION:
        return final
    work = cache / f".tmp-{scenario}"
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(final, ignore_errors=True)
    work.mkdir(parents=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parents[1])}
    t0 = time.monotonic()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "harness.lightning_scenarios", str(work), scenario],
            env=env,
            capture_output=True,
            text=True,
            timeout=SCENARIO_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"{scenario}: timed out after {SCENARIO_TIMEOUT_S}s"
    (work / scenario).mkdir(exist_ok=True)
    (work / scenario / "log.txt").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        return f"{scenario}: exit {proc.returncode}\n{tail}"
    (work / scenario).rename(final)
    tmp = final / (COMPLETE + ".tmp")
    tmp.write_text(f"{RECIPE_VERSION} {time.monotonic() - t0:.1f}s\n")
    tmp.rename(marker)
    shutil.rmtree(work, ignore_errors=True)
    return final


def ensure_lightning_runs(cache: Path, jobs: int = 2) -> Mapping[str, Path | str]:
    """Every scenario's directory (``cache/<scenario>``), generating the missing ones; a failure is its message.

    Holds the same generation lock as the YOLO scenarios, so parallel sessions share one cache.
    """
    from harness.realruns import generation_lock

    cache = Path(cache).resolve()
    with generation_lock(cache), ThreadPoolExecutor(max_workers=max(jobs, 1)) as pool:
        got = list(pool.map(lambda s: _generate_one(cache, s), SCENARIO_NAMES))
    return dict(zip(SCENARIO_NAMES, got, strict=True))


def main(argv: list[str]) -> int:
    os.environ.setdefault("PL_DISABLE_FORK", "1")
    warnings.filterwarnings("ignore")
    run(Path(argv[0]), argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
