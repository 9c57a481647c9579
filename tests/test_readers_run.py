"""Reading a whole run directory (readers.run): framework and profile inference, sessions, bad input.

Runs here are generated from lrguard's schedule functions (harness.generated), not real trainers.
"""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from harness.generated import write_generated_run
from lrguard.errors import InputError, NotARunError
from lrguard.readers import read_run
from lrguard.schedules import ScheduleSpec, SessionPlan
from lrguard.trainers import get_profile
from test_readers_tfevents import write_events

V5 = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=60, nb=50)
UL = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=40, nb=50)


def gen(tmp_path, profile, sessions=None, name="exp", **kw):
    spec = V5 if profile.startswith("yolov5") else UL
    return write_generated_run(tmp_path / name, get_profile(profile), sessions or [SessionPlan(0, 30, spec)], **kw)


def drop_column(csv, column):
    lines = csv.read_text().splitlines()
    header = [h.strip() for h in lines[0].split(",")]
    j = header.index(column)
    out = [",".join(c for k, c in enumerate(ln.split(",")) if k != j) for ln in lines]
    csv.write_text("\n".join(out) + "\n")


def test_generated_yolov5_current(tmp_path):
    run = read_run(gen(tmp_path, "yolov5"))
    assert run.framework == "yolov5"
    assert run.profile_name == "yolov5"
    assert run.lr_columns == ["x/lr0", "x/lr1", "x/lr2"]
    assert run.epochs[0] == 0 and run.n_rows == 30 and run.n_groups == 3
    assert set(run.train_losses) == {"train/box_loss", "train/obj_loss", "train/cls_loss"}
    assert run.time is None
    assert run.hyp["lr0"] == 0.01 and run.hyp["epochs"] == 60
    assert run.files["opt"].name == "opt.yaml" and run.files["hyp"].name == "hyp.yaml"
    assert run.session_starts == []


def test_generated_yolov5_v61_detected_by_bias_in_x_lr2(tmp_path):
    run = read_run(gen(tmp_path, "yolov5-v6.1"))
    assert run.profile_name == "yolov5-v6.1"
    assert any("x/lr2" in n for n in run.profile_evidence)


def test_generated_yolov5_linear_lr_option_means_v6_0(tmp_path):
    run = read_run(gen(tmp_path, "yolov5-v6.0", config={"linear_lr": True}))
    assert run.profile_name == "yolov5-v6.0"
    assert run.hyp["cos_lr"] is False


@pytest.mark.parametrize(
    ("profile", "expected"), [("ultralytics-8.4", "ultralytics-8.4"), ("ultralytics-8.3", "ultralytics-8.3")]
)
def test_generated_ultralytics_with_time_column(tmp_path, profile, expected):
    run = read_run(gen(tmp_path, profile))
    assert run.framework == "ultralytics"
    assert run.profile_name == expected
    assert run.time is not None and run.epochs[0] == 1
    assert run.files["args"].name == "args.yaml"


def test_generated_ultralytics_without_time_column_is_pre_83(tmp_path):
    d = gen(tmp_path, "ultralytics-8.3")
    drop_column(d / "results.csv", "time")
    run = read_run(d)
    assert run.profile_name == "ultralytics-8.3" and run.time is None
    assert any("no 'time' column" in n for n in run.profile_evidence)


def test_generated_musgd_eight_columns(tmp_path):
    run = read_run(gen(tmp_path, "ultralytics-8.4-musgd"))
    assert run.n_groups == 8
    assert run.profile_name == "ultralytics-8.4-musgd"
    assert run.lr_columns == [f"lr/pg{j}" for j in range(8)]


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("8.4.0", "ultralytics-8.4.0"),
        ("8.4.190", "ultralytics-8.4"),
        ("8.1.20", "ultralytics-8.1-early"),
        ("8.1.47", "ultralytics-8.3"),
        ("8.3.228", "ultralytics-8.3"),
        ("8.0.100", "ultralytics-8.0"),
    ],
)
def test_framework_version_selects_profile(tmp_path, version, expected):
    run = read_run(gen(tmp_path, "ultralytics-8.4"), framework_version=version)
    assert run.profile_name == expected and run.framework_version == version


def test_forced_profile_and_unknown_profile(tmp_path):
    d = gen(tmp_path, "ultralytics-8.4")
    assert read_run(d, profile="ultralytics-8.4.0").profile_name == "ultralytics-8.4.0"
    with pytest.raises(InputError, match="unknown profile"):
        read_run(d, profile="ultralytics-9.9")


def test_time_column_restart_marks_a_session(tmp_path):
    d = gen(tmp_path, "ultralytics-8.4", [SessionPlan(0, 10, UL), SessionPlan(10, 30, UL, resumed=True)])
    run = read_run(d)
    assert run.session_starts == [10]
    assert [(e.row, e.kind.value) for e in run.evidence] == [(10, "time-restart")]


def test_two_event_files_mark_a_session_in_yolov5(tmp_path):
    d = gen(tmp_path, "yolov5", [SessionPlan(0, 12, V5), SessionPlan(12, 30, V5, resumed=True)])
    write_events(d / "events.out.tfevents.1700000000.host.1.0", list(range(12)), t0=1.7e9)
    write_events(d / "events.out.tfevents.1700009000.host.2.0", list(range(12, 30)), t0=1.7e9 + 9000)
    run = read_run(d)
    assert run.session_starts == [12]
    assert [(e.row, e.kind.value) for e in run.evidence] == [(12, "new-event-file")]


def test_repeated_header_marks_a_session(tmp_path):
    d = gen(tmp_path, "yolov5")
    lines = (d / "results.csv").read_text().splitlines()
    lines.insert(11, lines[0])
    (d / "results.csv").write_text("\n".join(lines) + "\n")
    run = read_run(d)
    assert run.n_rows == 30 and run.session_starts == [10]
    assert [(e.row, e.kind.value) for e in run.evidence] == [(10, "header-repeat")]


def test_general_view_of_a_results_csv_run(tmp_path):
    """The general Run fields (axis, group names, series, provenance) describe a results.csv run."""
    d = gen(tmp_path, "ultralytics-8.4", [SessionPlan(0, 10, UL)])
    run = read_run(d)
    assert run.unit.value == "epoch" and run.axis is not None
    assert list(run.axis.values) == list(run.epochs) and run.axis.values[0] == 1  # the run's own numbering
    assert run.group_names == run.lr_columns == ["lr/pg0", "lr/pg1", "lr/pg2"]
    assert set(run.series) == set(run.train_losses) | set(run.val_losses) and "train/box_loss" in run.series
    assert run.provenance is not None and run.provenance.kind == "line"
    assert list(run.provenance.locator) == list(run.table.line_numbers) == list(range(2, 12))
    assert run.provenance.describe(3) == "results.csv line 5"
    assert run.evidence == []


def test_missing_config_is_a_note(tmp_path):
    d = gen(tmp_path, "yolov5")
    (d / "opt.yaml").unlink()
    (d / "hyp.yaml").unlink()
    run = read_run(d)
    assert any("opt.yaml missing" in n for n in run.notes)
    assert run.hyp["lr0"] == 0.01
    d2 = gen(tmp_path, "ultralytics-8.4", name="u")
    (d2 / "args.yaml").unlink()
    assert any("args.yaml missing" in n for n in read_run(d2).notes)


def test_opt_yaml_wins_over_hyp_yaml(tmp_path):
    d = gen(tmp_path, "yolov5")
    (d / "hyp.yaml").write_text(yaml.safe_dump({"lr0": 0.5, "lrf": 0.2}))
    run = read_run(d)
    assert run.hyp["lr0"] == 0.01 and run.hyp["lrf"] == 0.01


def test_partly_written_last_row_read_with_note(tmp_path):
    d = gen(tmp_path, "yolov5")
    text = (d / "results.csv").read_text()
    (d / "results.csv").write_text(text + "                  30,     0.1")
    run = read_run(d)
    assert run.n_rows == 30
    assert any("incomplete" in n for n in run.notes)


def test_header_only_is_input_error(tmp_path):
    d = gen(tmp_path, "yolov5")
    first = (d / "results.csv").read_text().splitlines()[0]
    (d / "results.csv").write_text(first + "\n")
    with pytest.raises(InputError, match="no complete data row"):
        read_run(d)


def test_no_lr_columns_is_input_error(tmp_path):
    d = tmp_path / "exp"
    d.mkdir()
    (d / "results.csv").write_text("epoch,loss\n0,1.0\n")
    with pytest.raises(InputError, match="no learning-rate columns"):
        read_run(d)


def test_fractional_epoch_is_input_error(tmp_path):
    d = tmp_path / "exp"
    d.mkdir()
    (d / "results.csv").write_text("epoch,x/lr0\n0,0.07\n1.5,0.04\n")
    with pytest.raises(InputError, match="line 3"):
        read_run(d)


def test_bad_opt_yaml_is_input_error(tmp_path):
    d = gen(tmp_path, "yolov5")
    (d / "opt.yaml").write_text("epochs: [300\n")
    with pytest.raises(InputError) as info:
        read_run(d)
    assert "opt.yaml" in str(info.value)


def test_not_a_run(tmp_path):
    with pytest.raises(NotARunError):
        read_run(tmp_path)


def test_lr_array_matches_columns(tmp_path):
    run = read_run(gen(tmp_path, "yolov5"))
    np.testing.assert_array_equal(run.lr[:, 1], run.table.column("x/lr1"))


def test_explicit_csv_file_is_the_one_read(tmp_path):
    """A results.csv copy under another name is read, not the results.csv that may sit next to it."""
    d = gen(tmp_path, "yolov5")
    other = tmp_path / "backup.csv"
    lines = (d / "results.csv").read_text().splitlines()[:11]
    other.write_text("\n".join(lines) + "\n")
    run = read_run(other)
    assert run.n_rows == 10 and run.files["results"] == other
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "copy.csv").write_text("\n".join(lines) + "\n")
    assert read_run(alone / "copy.csv").n_rows == 10
