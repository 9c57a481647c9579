"""Resume-check maths and verdicts on constructed facts (real-trainer cases: test_checkpoint_real)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrguard.checkpoint.epoch_resume import implied_epochs
from lrguard.checkpoint.resume import JUMP, REFUSE, SEAMLESS, check_resume
from lrguard.checkpoint.structure import describe
from lrguard.model import CheckpointFacts


def lf(x, epochs, lrf, cos, clamp):
    """The YOLO ``lf(x)`` written out independently of lrguard's maths, as the trainers define it."""
    if cos:
        return ((1 - math.cos(x * math.pi / epochs)) / 2) * (lrf - 1) + 1
    lin = 1 - x / epochs
    return (max(lin, 0.0) if clamp else lin) * (1.0 - lrf) + lrf


@settings(max_examples=200, deadline=None)
@given(
    epochs=st.integers(min_value=2, max_value=3000),
    frac=st.floats(min_value=0.01, max_value=0.99),
    lrf=st.floats(min_value=0.001, max_value=0.5),
    cos=st.booleans(),
)
def test_implied_epochs_inverts_lf(epochs, frac, lrf, cos):
    x = max(1, int(frac * epochs))
    if x >= epochs:
        return
    got = implied_epochs(lf(x, epochs, lrf, cos, False), x, lrf, cos)
    assert got == pytest.approx(epochs, rel=1e-6)


def test_lf_comes_from_the_version_profile():
    from lrguard.trainers.ultralytics import profiles as ul
    from lrguard.trainers.ultralytics.resume import UltralyticsResume
    from lrguard.trainers.yolov5 import profiles as v5
    from lrguard.trainers.yolov5.resume import YOLOv5Resume

    assert YOLOv5Resume(v5.CURRENT).lf(12, 10, 0.01, False) < 0  # YOLOv5: no clamp, goes negative past E
    assert UltralyticsResume(ul.V8_4).lf(12, 10, 0.01, False) == pytest.approx(0.01)  # clamped
    assert UltralyticsResume(ul.V8_0).lf(12, 10, 0.01, False) < 0  # 8.0.x did not clamp yet
    assert YOLOv5Resume(v5.V6_0).lf(5, 11, 0.01, False) == pytest.approx(lf(5, 10, 0.01, False, False))  # E - 1


def _v5(epoch, epochs, ratio, *, cos=False, lrf=0.01, tmp=None, opt_yaml=None):
    root = {
        "epoch": epoch,
        "model": None,
        "ema": None,
        "updates": 100 * (epoch + 1),
        "optimizer": {
            "state": {0: {}},
            "param_groups": [{"lr": 0.01 * ratio, "initial_lr": 0.01, "params": [0]} for _ in range(3)],
        },
        "opt": {
            "epochs": epochs,
            "cos_lr": cos,
            "batch_size": 16,
            "hyp": {"lr0": 0.01, "lrf": lrf, "warmup_epochs": 3.0},
        },
    }
    facts = CheckpointFacts(
        path=Path("last.pt"),
        epoch=epoch,
        has_optimizer=True,
        lrs=(0.01 * ratio,) * 3,
        initial_lrs=(0.01,) * 3,
        group_tags=(None,) * 3,
        updates=root["updates"],
        train_args=root["opt"],
    )
    path = None
    if tmp is not None:
        (tmp / "weights").mkdir(parents=True, exist_ok=True)
        path = tmp / "weights" / "last.pt"
        if opt_yaml is not None:
            (tmp / "opt.yaml").write_text(opt_yaml)
    return facts, describe(root), path


def test_consistent_checkpoint_is_seamless():
    facts, s, _ = _v5(49, 100, lf(49, 100, 0.01, False, False))
    rep = check_resume(facts, s)
    assert rep.verdict == SEAMLESS and not rep.problems
    assert any("batches per epoch" in d for d in rep.details)


def test_ratio_from_another_schedule_reports_implied_epochs():
    facts, s, _ = _v5(49, 100, lf(49, 300, 0.01, False, False))
    rep = check_resume(facts, s)
    assert rep.problems and rep.schedule["implied_epochs"][0] == pytest.approx(300, rel=1e-6)


def test_cosine_schedule_position():
    facts, s, _ = _v5(30, 100, lf(30, 100, 0.1, True, False), cos=True, lrf=0.1)
    assert check_resume(facts, s).verdict == SEAMLESS


def test_finished_run_refused():
    facts, s, _ = _v5(99, 100, lf(99, 100, 0.01, False, False))
    assert check_resume(facts, s).verdict == REFUSE


def test_opt_yaml_edit_to_fewer_epochs_is_a_finetune_extension(tmp_path):
    yaml_text = "epochs: 20\ncos_lr: false\nhyp:\n  lr0: 0.01\n  lrf: 0.01\n"
    facts, s, path = _v5(49, 100, lf(49, 100, 0.01, False, False), tmp=tmp_path, opt_yaml=yaml_text)
    rep = check_resume(facts, s, path)
    assert rep.verdict == JUMP
    assert "fine-tunes" in rep.summary
    # linear lf is late-bound: the new schedule runs over 20 + 49 epochs
    assert rep.jump["lr_after"] == pytest.approx(0.01 * lf(50, 69, 0.01, False, False))


def test_ultralytics_args_yaml_edits_are_ignored(tmp_path):
    root = {
        "epoch": 4,
        "ema": None,
        "updates": 50,
        "optimizer": {
            "state": {},
            "param_groups": [
                {
                    "lr": 0.01 * lf(4, 10, 0.01, False, True),
                    "initial_lr": 0.01,
                    "param_group": "weight",
                    "params": [],
                }
            ],
        },
        "train_args": {"epochs": 10, "lr0": 0.01, "lrf": 0.01, "warmup_epochs": 0.0, "batch": 16},
        "version": "8.4.190",
    }
    facts = CheckpointFacts(
        path=Path("x"),
        epoch=4,
        has_optimizer=True,
        lrs=(root["optimizer"]["param_groups"][0]["lr"],),
        initial_lrs=(0.01,),
        group_tags=("weight",),
        updates=50,
        train_args=root["train_args"],
    )
    (tmp_path / "weights").mkdir()
    (tmp_path / "args.yaml").write_text("epochs: 50\nlr0: 0.01\nlrf: 0.01\n")
    rep = check_resume(facts, describe(root), tmp_path / "weights" / "last.pt")
    assert rep.verdict == SEAMLESS
    assert any("ignored" in d for d in rep.details)


def _results_csv(run: Path, epochs: range, lr_col: str = "x/lr0") -> None:
    lines = [f"epoch,train/box_loss,{lr_col}"] + [f"{e},0.1,0.001" for e in epochs]
    (run / "results.csv").write_text("\n".join(lines) + "\n")


def test_stale_last_pt_older_than_results_csv_is_a_jump_not_seamless(tmp_path):
    """results.csv complete at 10/10, an unstripped last.pt of epoch 4: --resume retrains 5-9 and logs them twice."""
    opt = "epochs: 10\ncos_lr: false\nhyp:\n  lr0: 0.01\n  lrf: 0.01\n  warmup_epochs: 3.0\n"
    facts, s, path = _v5(4, 10, lf(4, 10, 0.01, False, False), tmp=tmp_path, opt_yaml=opt)
    _results_csv(tmp_path, range(10))
    rep = check_resume(facts, s, path)
    assert rep.verdict == JUMP
    assert rep.jump["cause"] == "resume-from-older-checkpoint" and rep.jump["epoch"] == 5
    # epoch 9 trained at lf(8); the resumed epoch 5 trains at the stored lf(4)
    assert rep.jump["lr_before"] == pytest.approx(0.01 * lf(8, 10, 0.01, False, False))
    assert rep.jump["lr_after"] == pytest.approx(0.01 * lf(4, 10, 0.01, False, False))
    assert "epochs 5-9 are trained again" in rep.summary and "logged twice" in rep.summary
    # the same checkpoint next to a results.csv that ends at its epoch is seamless
    _results_csv(tmp_path, range(5))
    assert check_resume(facts, s, path).verdict == SEAMLESS


def _ul(epoch: int, epochs: int, ratio: float, tmp: Path, version: str | None = None):
    root = {
        "epoch": epoch,
        "ema": None,
        "updates": 50,
        "optimizer": {
            "state": {},
            "param_groups": [{"lr": 0.01 * ratio, "initial_lr": 0.01, "param_group": "weight", "params": []}],
        },
        "train_args": {"epochs": epochs, "lr0": 0.01, "lrf": 0.01, "warmup_epochs": 0.0, "batch": 16},
        "version": "8.4.190",
    }
    facts = CheckpointFacts(
        path=tmp / "weights" / "last.pt",
        epoch=epoch,
        has_optimizer=True,
        lrs=(0.01 * ratio,),
        initial_lrs=(0.01,),
        group_tags=("weight",),
        updates=50,
        train_args=root["train_args"],
        version=version,
    )
    (tmp / "weights").mkdir(exist_ok=True)
    return facts, describe(root), tmp / "weights" / "last.pt"


def test_ultralytics_texts_count_epochs_from_1_like_the_trainer(tmp_path):
    """Stored epoch 4 is Ultralytics' epoch 5 (results.csv, 'Resuming ... from epoch 6')."""
    facts, s, path = _ul(4, 10, lf(4, 10, 0.01, False, True), tmp_path)
    _results_csv(tmp_path, range(1, 6), "lr/pg0")
    rep = check_resume(facts, s, path)
    assert rep.verdict == SEAMLESS
    assert "at epoch 6 of 10" in rep.summary
    assert "results.csv ends at the checkpoint's epoch 5." in rep.details
    _results_csv(tmp_path, range(1, 11), "lr/pg0")
    rep = check_resume(facts, s, path)
    assert rep.verdict == JUMP and "holds epoch 5 but results.csv already logs epoch 10" in rep.summary


def test_warmup_text_names_the_condition_that_holds():
    # epoch 41 is far past warmup_epochs 3: the groups differing is the reason, and no false "41 < 3"
    facts, s, _ = _v5(41, 100, 0.5)
    facts = CheckpointFacts(**{**facts.__dict__, "lrs": (0.004, 0.005, 0.006)})
    rep = check_resume(facts, s)
    text = next(d for d in rep.details if d.startswith("saved during warmup"))
    assert "differ" in text and "<" not in text and "within warmup" not in text
    facts, s, _ = _v5(1, 100, 0.3)
    facts = CheckpointFacts(**{**facts.__dict__, "lrs": (0.003, 0.002, 0.003)})
    text = next(d for d in check_resume(facts, s).details if d.startswith("saved during warmup"))
    assert "epoch 1 is within warmup_epochs 3" in text


@pytest.mark.parametrize("content", ["", "\n", "- a list\n", "epochs: [1, 2\n"])
def test_an_empty_or_broken_opt_yaml_makes_resume_fail(tmp_path, content):
    facts, s, path = _v5(4, 10, lf(4, 10, 0.01, False, False), tmp=tmp_path, opt_yaml=content)
    rep = check_resume(facts, s, path)
    assert rep.verdict == REFUSE and "opt.yaml in the run directory" in rep.summary and rep.problems


def test_a_missing_opt_yaml_falls_back_to_the_checkpoint_options(tmp_path):
    facts, s, path = _v5(4, 10, lf(4, 10, 0.01, False, False), tmp=tmp_path)
    rep = check_resume(facts, s, path)
    assert rep.verdict == SEAMLESS
    assert any("takes the options stored in the checkpoint" in d for d in rep.details)


def test_finished_run_with_an_off_schedule_ratio_is_refused_with_the_trainer_epoch():
    facts, s, _ = _v5(9, 10, 0.5)  # ratio far from lf(9): implied-epochs problem, then the finished check
    rep = check_resume(facts, s)
    assert rep.verdict == REFUSE and "finished all 10 epochs (epoch 9)" in rep.summary


def test_diagnose_warns_about_a_stale_last_pt_as_resume_from_older_checkpoint(tmp_path):
    """The run's results.csv is complete at 10/10 and weights/last.pt is an unstripped epoch-4 file."""
    import pickle
    import shutil
    import zipfile

    from lrguard.diagnosis import diagnose
    from lrguard.readers import read_run

    run = tmp_path / "run"
    shutil.copytree(Path(__file__).resolve().parents[1] / "examples" / "yolov5" / "clean", run)
    root = {
        "epoch": 4,
        "model": {"w": 1},
        "ema": {"w": 1},
        "updates": 500,
        "optimizer": {
            "state": {},
            "param_groups": [
                {"lr": 0.01 * lf(4, 10, 0.01, False, False), "initial_lr": 0.01, "params": [j]} for j in range(3)
            ],
        },
        "opt": {"epochs": 10, "cos_lr": False, "batch_size": 16, "hyp": {"lr0": 0.01, "lrf": 0.01}},
    }
    (run / "weights").mkdir()
    with zipfile.ZipFile(run / "weights" / "last.pt", "w") as zf:
        zf.writestr("last/data.pkl", pickle.dumps(root, protocol=2))
    d = diagnose(read_run(run))
    found = [f for f in d.findings if f.cause.value == "resume-from-older-checkpoint"]
    assert len(found) == 1 and found[0].severity.value == "warning"
    assert "rewind" in found[0].title and "last-good" in (found[0].fix or "")
    assert not any("seamless" in n for n in d.notes)


def test_ultralytics_train_args_edited_after_the_save_is_a_jump(tmp_path):
    """train_args say 12 epochs, the optimizer state (and args.yaml) the 8 it was saved by: resume=True jumps."""
    facts, s, path = _ul(3, 12, lf(3, 8, 0.01, False, True), tmp_path)
    (tmp_path / "args.yaml").write_text("epochs: 8\nlr0: 0.01\nlrf: 0.01\n")
    rep = check_resume(facts, s, path)
    assert rep.verdict == JUMP and rep.problems == []
    assert "epochs: args.yaml 8 -> train_args 12" in rep.jump["reason"]
    assert rep.jump["epoch"] == 4 and rep.jump["trainer_epoch"] == 5 and "at epoch 5" in rep.summary  # 1-based
    assert rep.jump["lr_before"] == pytest.approx(0.01 * lf(4, 8, 0.01, False, True))
    assert rep.jump["lr_after"] == pytest.approx(0.01 * lf(4, 12, 0.01, False, True))
    (tmp_path / "args.yaml").unlink()  # without args.yaml the stored ratio names the 8 epochs itself
    rep = check_resume(facts, s, path)
    assert rep.verdict == JUMP and "the optimizer's lr/initial_lr 8 -> train_args 12" in rep.jump["reason"]


def test_ultralytics_ratio_of_no_whole_schedule_stays_unknown(tmp_path):
    facts, s, path = _ul(3, 12, 0.5123, tmp_path)
    rep = check_resume(facts, s, path)
    assert rep.verdict not in (JUMP, SEAMLESS) and rep.problems


def test_the_recorded_version_picks_the_profile_of_the_resume_maths(tmp_path):
    """Ultralytics 8.1.0-8.1.46 saved before stepping: epoch 4's file holds lf(3), and that is consistent."""
    facts, s, path = _ul(4, 10, lf(3, 10, 0.01, False, True), tmp_path, version="8.1.20")
    rep = check_resume(facts, s, path)
    assert rep.verdict == SEAMLESS and not rep.problems
    assert any("trains again at the stored lr" in d for d in rep.details)
    assert "trains at lr 0.00703" in rep.summary  # 0.01 * lf(3, 10): the stored value, repeated
    # the same file recorded as 8.4.190 (steps at the epoch start, stores lf(epoch)) is inconsistent
    facts, s, path = _ul(4, 10, lf(3, 10, 0.01, False, True), tmp_path, version="8.4.190")
    rep = check_resume(facts, s, path)
    assert rep.problems and rep.schedule["implied_epochs"][0] == pytest.approx(
        40 / 3
    )  # lf(4) over 13.3 epochs = lf(3) over 10
