"""Each stretch's own plan for the charts (reports.plans), read from what the diagnosis fitted."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from conftest import generated_diagnosis
from lrguard.diagnosis import diagnose
from lrguard.readers import read_run
from lrguard.reports.plans import plan_pieces, stitched
from lrguard.schedules import ScheduleSpec, SessionPlan

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
V5 = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=300, nb=100)


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.nanmax(np.abs(a - b) / np.maximum(np.abs(b), 1e-12)))


def test_seed_like_run_session_one_is_drawn_with_the_plan_it_ran_under():
    d = diagnose(read_run(EXAMPLES / "yolov5" / "seed-like-epochs-changed", checkpoints=False))
    change = next(f for f in d.findings if f.cause.value == "epochs-changed-on-resume")
    pieces = plan_pieces(d)
    assert [p.kind for p in pieces] == ["as-run", "changed"]
    before, after = pieces
    assert (before.first_row, before.last_row, after.first_row, after.last_row) == (0, change.row - 1, change.row, 19)
    assert before.spec.epochs == 10 and after.spec.epochs == 20 == d.spec.epochs
    assert "planned when it ran" in before.label and "changed plan from epoch 7" in after.label
    ref = d.reference_group
    logged = d.run.lr[:, ref]
    # every row sits on the plan of its own piece; the configuration's plan (epochs 20) misses session 1
    assert _rel(logged, stitched(pieces, d.run.n_rows, ref)) < 1e-3
    assert _rel(logged[: change.row], d.planned[: change.row, ref]) > 0.05
    # all groups are planned, warmup included
    assert before.lr.shape == (change.row, d.run.n_groups)
    assert _rel(d.run.lr[: change.row], before.lr) < 1e-3


def test_hyp_change_uses_the_fitted_lr0_of_each_side(tmp_path):
    a, b = V5.with_(epochs=60, nb=20), V5.with_(epochs=60, nb=20, lr0=0.02)
    d = generated_diagnosis(tmp_path / "exp", "yolov5", [SessionPlan(0, 30, a), SessionPlan(30, 60, b, resumed=True)])
    assert any(f.cause.value == "hyp-changed-on-resume" for f in d.findings)
    before, after = plan_pieces(d)
    assert abs(before.spec.lr0 - 0.01) < 1e-6 and abs(after.spec.lr0 - 0.02) < 1e-6
    ref = d.reference_group
    assert _rel(d.run.lr[:, ref], stitched([before, after], d.run.n_rows, ref)) < 1e-3


def test_a_run_without_a_change_has_one_plan_the_configuration(tmp_path):
    d = generated_diagnosis(tmp_path / "exp", "yolov5", [SessionPlan(0, 40, V5)])
    (only,) = plan_pieces(d)
    assert only.kind == "config" and (only.first_row, only.last_row) == (0, d.run.n_rows - 1)
    np.testing.assert_array_equal(only.lr, d.planned)
