"""Continue a real YOLOv5 7.0.14 and a real Ultralytics 8.4.190 run with `lrguard continue` (offline, CPU).

Each trainer runs twice in its own process (tests/_continue_real.py): a short original run, then the
continuation with the exact settings file and command lrguard wrote. The new run must not go above
the LR the old one ended at in any group, its post-warmup rows must follow a schedule that starts
at that LR, and `lrguard diagnose` must find no LR problem in it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.trainers, pytest.mark.slow]

HERE = Path(__file__).resolve().parent
LOSS_ONLY = {"nonfinite", "loss-spike", "close-mosaic"}  # about the losses of a 26-image toy run, not the LR


def _have(mod: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(mod) is not None


@pytest.mark.parametrize("trainer", ["yolov5", "ultralytics"])
def test_real_continuation_has_no_jump(tmp_path, trainer):
    if not (_have("torch") and _have(trainer)):
        pytest.skip(f"needs the [trainers] extra ({trainer} and torch)")
    from lrguard.diagnosis import diagnose
    from lrguard.model import Severity
    from lrguard.readers import read_run

    work = tmp_path / trainer
    res = subprocess.run(
        [sys.executable, str(HERE / "_continue_real.py"), trainer, str(work)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    summary = json.loads((work / "summary.json").read_text())
    old = diagnose(read_run(summary["old"]))
    new = diagnose(read_run(summary["new"]))
    ref = new.reference_group
    old_last = float(old.run.lr[-1, old.reference_group])
    rec = summary["continuation"]
    assert rec["lr_last"] == pytest.approx(old_last, rel=1e-4)
    assert rec["settings"]["warmup_epochs"] == 0

    # 1. No group of the new run ever goes above the LR the old run ended at.
    assert float(np.nanmax(new.run.lr)) <= old_last * (1 + 1e-4), new.run.lr

    # 2. After warmup the new run follows a schedule that starts exactly at the old run's last LR.
    post = np.nonzero(~_warmup_rows(new))[0]
    assert post.size, "the continuation must have rows after warmup"
    i = int(post[0])
    x = max(int(new.run.epochs[i]) - new.profile.epoch_base - new.profile.log_lag, 0)
    implied_lr0 = new.run.lr[i, ref] / float(new.spec.lf(float(x), new.profile))
    assert implied_lr0 == pytest.approx(old_last, rel=2e-4)
    print(f"{trainer}: old last LR {old_last:.6g}; new first post-warmup row (epoch {int(new.run.epochs[i])}) "
          f"{new.run.lr[i, ref]:.6g} = lr0 {implied_lr0:.6g} x lf({x})")  # fmt: skip

    # 3. lrguard diagnose finds no LR problem in the new run.
    lr_problems = [f for f in new.findings if f.severity is not Severity.INFO and f.cause.value not in LOSS_ONLY]
    assert lr_problems == [], [(f.cause.value, f.title) for f in lr_problems]
    assert any(f.cause.value == "restart-from-weights" and f.severity is Severity.INFO for f in new.findings)


def _warmup_rows(d) -> np.ndarray:
    from lrguard.schedules.curve import nw_of

    idx = d.run.epochs - d.profile.epoch_base
    nw = nw_of(d.spec, d.profile)
    nb = d.spec.nb
    if not nb or nw <= 0:
        return np.zeros(idx.shape, dtype=bool)
    return idx * nb <= nw
