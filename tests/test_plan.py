from __future__ import annotations

import json

import numpy as np
import pytest

from lrguard.cli.main import main
from lrguard.model import Severity
from lrguard.plan import build_config, lint_plan, plan_fresh, plan_from_weights, plan_resume, plan_time
from lrguard.trainers.ultralytics import profiles as ultralytics
from lrguard.trainers.yolov5 import profiles as yolov5


def _rules(plan):
    return {x.rule for x in lint_plan(plan)}


def test_seed_scenario_shows_the_jump_before_it_happens():
    cfg = build_config(framework="yolov5", overrides={"epochs": 3000, "nb": 200})
    plan = plan_resume(cfg, 1739, {"epochs": 5000})
    lint_plan(plan)
    assert len(plan.jumps) == 1
    j = plan.jumps[0]
    assert j.epoch == 1740  # the first resumed epoch still runs at the checkpoint's LR
    assert j.column == "x/lr1"
    assert j.before == pytest.approx(0.0042646, rel=1e-4)
    assert j.after == pytest.approx(0.0065568, rel=1e-4)
    assert j.rel == pytest.approx(0.537, abs=0.002)
    assert any(x.rule == "planned-jump" and x.severity is Severity.ERROR for x in plan.lints)
    assert plan.lr.shape == (5000, 3)


def test_plan_cli_seed_text_and_json(capsys):
    argv = [
        "plan",
        "--framework",
        "yolov5",
        "--epochs",
        "3000",
        "--nb",
        "200",
        "--resume-at",
        "1739",
        "--new-epochs",
        "5000",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "JUMP +53.7%" in out and "1740" in out
    assert main([*argv, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["jumps"][0]["epoch"] == 1740
    assert doc["jumps"][0]["relative"] == pytest.approx(0.537, abs=0.002)
    assert len(doc["curve"]["epoch"]) == 5000
    assert main([*argv, "--fail-on", "error"]) == 1


def test_fresh_default_run_has_no_jump_and_matches_yolov5_rows():
    cfg = build_config(framework="yolov5", overrides={"epochs": 300, "nb": 100})
    plan = plan_fresh(cfg)
    assert plan.jumps == []
    # the research notes' simulated rows for E=300, nb=100 (nw=300)
    assert plan.lr[0, 0] == pytest.approx(0.0703, abs=1e-4)
    assert plan.lr[0, 1] == pytest.approx(0.0033, abs=1e-4)
    assert plan.lr[3, 1] == pytest.approx(0.009901, rel=1e-4)
    assert plan.lr[-1, 1] == pytest.approx(0.000166, rel=1e-2)
    assert plan.iterations and plan.iterations[0].lr.shape[1] == 3


def test_resume_with_smaller_epochs_is_the_finetune_extension():
    cfg = build_config(framework="yolov5", overrides={"epochs": 3000, "nb": 100, "cos_lr": True})
    plan = plan_resume(cfg, 2500, {"epochs": 1000})
    assert plan.segments[-1].last_row == 1000 + 2499 - 1
    assert "cosine-past-period" in _rules(plan)
    assert plan.jumps


def test_from_weights_restarts_the_schedule():
    cfg = build_config(framework="yolov5", overrides={"epochs": 300, "nb": 50})
    plan = plan_from_weights(cfg, 300, {"epochs": 100})
    restart = [j for j in plan.jumps if j.kind == "restart"]
    assert restart and restart[0].after / restart[0].before > 10
    assert "x/lr0" in restart[0].others  # the bias group goes back up to warmup_bias_lr
    # the same continuation with lr0 = the LR it ended at and the bias group held flat has no jump
    last = float(plan.lr[299, 1])
    ok = plan_from_weights(
        cfg, 300, {"epochs": 100, "lr0": last, "warmup_epochs": 0.0, "warmup_bias_lr": last, "lrf": 0.5}
    )
    assert ok.jumps == []


def test_lints_on_tiny_dataset_and_big_batch():
    cfg = build_config(framework="yolov5", overrides={"epochs": 30, "nb": 2, "batch": 1024})
    rules = _rules(plan_fresh(cfg))
    assert {"warmup-floor", "warmup-long", "weight-decay-scaling"} <= rules


def test_lrf_out_of_range():
    cfg = build_config(framework="yolov5", overrides={"epochs": 30, "nb": 200, "lrf": 1.5})
    lints = lint_plan(plan_fresh(cfg))
    assert any(x.rule == "lrf-range" and x.severity is Severity.ERROR for x in lints)


def test_auto_optimizer_overrides_lr0():
    cfg = build_config(
        framework="ultralytics", kv=["epochs=50", "optimizer=auto", "lr0=0.02"], overrides={"images": 500, "nc": 1}
    )
    assert cfg.profile is ultralytics.V8_4
    assert cfg.spec.lr0 == pytest.approx(0.002)
    assert cfg.spec.warmup_bias_lr == 0.0
    lints = lint_plan(plan_fresh(cfg))
    auto = [x for x in lints if x.rule == "auto-optimizer"]
    assert auto and "AdamW" in auto[0].title and "0.02" in auto[0].title


def test_time_budget_simulation_replans_the_epochs():
    cfg = build_config(framework="ultralytics", kv=["epochs=100", "time=1", "optimizer=SGD"], overrides={"nb": 100})
    plan = plan_time(cfg, epoch_seconds=60, first_epoch_seconds=240)
    assert "time-budget" in _rules(plan)
    assert 55 <= plan.lr.shape[0] <= 62  # one hour of 60 s epochs, not epochs=100
    fixed = plan_fresh(cfg.with_(time=None))
    assert plan.lr[10, 0] < fixed.lr[10, 0]  # the schedule was rebuilt for fewer epochs
    # within one process the running mean never lets the LR rise (see docs/plan.md)
    assert all(j.rel < 1e-3 for j in plan.jumps)


def test_profiles_and_inputs(tmp_path):
    hyp = tmp_path / "hyp.yaml"
    hyp.write_text("lr0: 0.02\nlrf: 0.1\nwarmup_epochs: 1\n")
    cfg = build_config(hyp=str(hyp), overrides={"epochs": 10, "images": 160, "batch": 16})
    assert cfg.framework == "yolov5" and cfg.profile is yolov5.CURRENT
    assert cfg.spec.lr0 == 0.02 and cfg.spec.nb == 10
    args = tmp_path / "args.yaml"
    args.write_text("epochs: 20\nbatch: 8\noptimizer: SGD\ncos_lr: true\n")
    cfg = build_config(args=str(args), overrides={"nb": 5})
    assert cfg.framework == "ultralytics" and cfg.spec.cos_lr and cfg.spec.epochs == 20


def test_bad_input_is_one_line(capsys):
    assert main(["plan", "--framework", "yolov5", "--epochs", "10", "--resume-at", "50"]) == 2
    assert "outside" in capsys.readouterr().err
    assert main(["plan", "--hyp", "/nonexistent/hyp.yaml"]) == 2


def test_plan_html_is_self_contained(tmp_path):
    out = tmp_path / "plan.html"
    assert (
        main(
            [
                "plan",
                "--framework",
                "yolov5",
                "--epochs",
                "3000",
                "--nb",
                "200",
                "--resume-at",
                "1739",
                "--new-epochs",
                "5000",
                "--html",
                str(out),
            ]
        )
        == 0
    )
    text = out.read_text()
    assert "<svg" in text and "planned-jump" in text
    assert "http://" not in text.replace("http://www.w3.org", "") and "https://" not in text
    assert np.isfinite(len(text)) and len(text) < 1_500_000


def test_plan_cli_scenarios(tmp_path, capsys):
    from harness.generated import write_generated_run
    from lrguard.schedules import ScheduleSpec, SessionPlan

    run = write_generated_run(
        tmp_path / "exp", yolov5.CURRENT, [SessionPlan(0, 100, ScheduleSpec(0.01, 0.01, 100, nb=40))]
    )
    opt = str(run / "opt.yaml")
    assert main(["plan", "--opt", opt, "--nb", "40", "--from-weights", "100", "--new-epochs", "50", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["segments"][1]["kind"] == "from-weights"
    assert doc["jumps"][0]["kind"] == "restart" and doc["jumps"][0]["relative"] > 10
    assert doc["curve"]["epoch"][100] == 0  # the new run's epoch column starts again
    argv = [
        "plan",
        "--framework",
        "ultralytics",
        "epochs=300",
        "time=2",
        "optimizer=SGD",
        "--nb",
        "100",
        "--epoch-seconds",
        "30",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "time-budget" in out and "epoch estimates" in out
    assert main(["plan", "--framework", "yolov5", "--epochs", "10", "--new-epochs", "20"]) == 2


def test_plan_png(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "p.png"
    argv = [
        "plan",
        "--framework",
        "yolov5",
        "--epochs",
        "300",
        "--nb",
        "50",
        "--resume-at",
        "100",
        "--new-epochs",
        "500",
    ]
    assert main([*argv, "--png", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_a_resume_with_fewer_epochs_is_a_downward_step_in_text_and_json(capsys):
    """epochs 5000 -> 3000 at 1739: the LR falls 35 % in one row; it used to say nothing about it."""
    cfg = build_config(framework="yolov5", overrides={"epochs": 5000, "nb": 200})
    plan = plan_resume(cfg, 1739, {"epochs": 3000})
    assert plan.jumps == [] and len(plan.drops) == 1
    d = plan.drops[0]
    assert d.epoch == 1740 and d.direction == "down" and d.kind == "drop"
    assert d.rel == pytest.approx(-0.350, abs=0.002)
    assert d.expected == pytest.approx(0.01 * ((1 - 1739 / 5000) * 0.99 + 0.01), rel=1e-4)
    assert "planned-drop" in _rules(plan)
    argv = ["plan", "--framework", "yolov5", "--epochs", "5000", "--nb", "200", "--resume-at", "1739"]
    assert main([*argv, "--new-epochs", "3000"]) == 0
    out = capsys.readouterr().out
    assert "DROP -35.0%" in out and "LR steps down -35.0% at epoch 1740" in out
    assert main([*argv, "--new-epochs", "3000", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(x["epoch"], x["direction"]) for x in doc["discontinuities"]] == [(1740, "down")]
    assert doc["drops"][0]["relative"] == pytest.approx(-0.350, abs=0.002)


def test_up_and_down_are_both_discontinuities_and_a_normal_decay_is_neither():
    cfg = build_config(framework="yolov5", overrides={"epochs": 3000, "nb": 200})
    assert plan_fresh(cfg).discontinuities == []
    assert plan_resume(cfg, 1739, {}).discontinuities == []
    up = plan_resume(cfg, 1739, {"epochs": 5000})
    assert [j.direction for j in up.discontinuities] == ["up"] and up.drops == []
    lower_lr0 = plan_resume(cfg, 1000, {"lr0": 0.005})
    assert [j.direction for j in lower_lr0.discontinuities] == ["down"]


def test_time_budget_reestimating_fewer_epochs_is_a_step_down():
    cfg = build_config(framework="ultralytics", kv=["epochs=100", "time=1"], overrides={"nb": 50})
    plan = plan_time(cfg, 30.0, 10.0)  # the slow second epoch makes the estimate fall for a while
    assert plan.drops and all("time= re-estimated the total epochs down" in d.why for d in plan.drops)
    est = plan.row_epochs
    assert all(est[d.row] < est[d.row - 1] for d in plan.drops)
