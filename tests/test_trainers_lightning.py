"""The Lightning reader and its step rules on the committed real runs (``examples/lightning``), torch-free.

The runs were written by lightning 2.6.6 (see examples/README.md); the checkpoints are read by the
non-executing inspector, so these tests need neither torch nor lightning.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lrguard.diagnosis import diagnose
from lrguard.errors import InputError
from lrguard.model import Cause
from lrguard.readers import read_run
from lrguard.trainers import get_trainer
from lrguard.trainers.lightning.plugin import scheduler_interval
from lrguard.trainers.lightning.reader import read_lightning_run, recognises, version_dirs

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "lightning"
CLEAN = EXAMPLES / "clean"
RESTART = EXAMPLES / "restart-from-weights"


def test_recognises_every_level_of_the_layout():
    v0 = CLEAN / "lightning_logs" / "version_0"
    for p in (CLEAN, CLEAN / "lightning_logs", v0):
        assert recognises(p)
        assert version_dirs(p) == [v0]
    assert not recognises(v0 / "checkpoints")
    assert [d.name for d in version_dirs(RESTART)] == ["version_0", "version_1"]
    assert not get_trainer("hf").recognises(CLEAN)


def test_clean_run_reads_every_logged_step():
    run = read_lightning_run(CLEAN)
    assert run.framework == "lightning" and run.framework_version == "2.6.6"
    assert run.axis is not None and run.axis.steps_per_epoch == 8
    assert run.axis.values.tolist() == list(range(48))
    assert run.lr_columns == ["lr-SGD"]
    assert run.lr[0, 0] == 0.1  # the LR the first step used
    assert np.isfinite(run.series["loss"]).all()
    assert [c.step for c in run.checkpoints] == [48, 48]
    sched = run.config["lr_schedulers"][0]
    assert (sched["T_max"], sched["last_epoch"], sched["base_lrs"]) == (48, 48, [0.1])


def test_reading_and_diagnosing_never_imports_torch():
    code = (
        "import sys; from pathlib import Path; from lrguard.diagnosis import diagnose; "
        "from lrguard.readers import read_run; "
        f"diagnose(read_run(Path({str(RESTART)!r}))); assert 'torch' not in sys.modules"
    )
    src = str(Path(__file__).resolve().parents[1] / "src")
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": src})


def test_planned_lr_rebuilt_from_the_checkpoint_matches_the_log():
    run = read_lightning_run(CLEAN)
    planned = get_trainer("lightning").planned_lr(run)
    assert planned is not None
    np.testing.assert_allclose(planned[:, 0], run.lr[:, 0], rtol=1e-9, atol=1e-12)


def test_clean_run_is_clean():
    d = diagnose(read_run(CLEAN))
    assert [f for f in d.findings if f.severity.rank >= 1] == []


def test_restart_from_weights_two_versions():
    run = read_lightning_run(RESTART)
    assert run.session_starts == [24]
    assert run.axis is not None and run.axis.values[24] == 0
    d = diagnose(run)
    assert [s.start for s in d.sessions] == ["start", "restart"]
    found = [f for f in d.findings if f.severity.rank >= 1]
    assert [(f.cause, f.row, f.data["step"]) for f in found] == [(Cause.RESTART_FROM_WEIGHTS, 24, 0)]
    assert "ckpt_path" in (found[0].fix or "")


def test_metrics_csv_alone_is_enough(tmp_path: Path):
    v = tmp_path / "lightning_logs" / "version_0"
    v.mkdir(parents=True)
    shutil.copy(CLEAN / "lightning_logs" / "version_0" / "metrics.csv", v)
    run = read_lightning_run(tmp_path)
    assert run.n_rows == 48 and run.checkpoints == []
    assert run.axis is not None and run.axis.steps_per_epoch == 8
    assert get_trainer("lightning").planned_lr(run) is None


def test_event_files_alone_are_enough(tmp_path: Path):
    v = tmp_path / "version_0"
    v.mkdir()
    for f in (CLEAN / "lightning_logs" / "version_0").glob("events.out.tfevents.*"):
        shutil.copy(f, v)
    run = read_lightning_run(v)
    csv_run = read_lightning_run(CLEAN)
    assert run.axis is not None and csv_run.axis is not None
    assert run.axis.values.tolist() == csv_run.axis.values.tolist()
    np.testing.assert_allclose(run.lr, csv_run.lr, rtol=1e-6)  # TB stores float32


def test_no_lr_logged_says_what_to_add(tmp_path: Path):
    v = tmp_path / "version_0"
    v.mkdir()
    (v / "metrics.csv").write_text("epoch,step,train_loss\n0,0,1.0\n0,1,0.9\n")
    with pytest.raises(InputError, match="LearningRateMonitor"):
        read_lightning_run(v)


def test_nan_loss_in_metrics_csv(tmp_path: Path):
    v = tmp_path / "version_0"
    v.mkdir()
    lines = (CLEAN / "lightning_logs" / "version_0" / "metrics.csv").read_text().splitlines()
    out = [lines[0]]
    for line in lines[1:]:
        epoch, lr, step, loss = line.split(",")
        out.append(f"{epoch},{lr},{step},{'nan' if loss and int(step) >= 13 else loss}")
    (v / "metrics.csv").write_text("\n".join(out) + "\n")
    d = diagnose(read_lightning_run(v))
    found = [f for f in d.findings if f.severity.rank >= 1]
    assert [(f.cause, f.data["step"]) for f in found] == [(Cause.NONFINITE, 13)]


@pytest.mark.parametrize(
    ("last_epoch", "global_step", "epoch", "unit"),
    [(24, 24, 2, "step"), (6, 48, 5, "epoch"), (5, 44, 5, "epoch"), (7, 48, 2, None), (None, 48, 5, None)],
)
def test_scheduler_interval_from_its_counter(last_epoch, global_step, epoch, unit):
    assert scheduler_interval({"last_epoch": last_epoch}, global_step, epoch) == unit
