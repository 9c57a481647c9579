"""``lrguard ckpt show`` / ``verify`` for people: 80-column layout, trainer epochs, several paths."""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import pytest

from lrguard.checkpoint.inspect import inspect_path
from lrguard.cli.ckpt import render
from lrguard.cli.main import main
from lrguard.reports.layout import Writer, tokens

FIXTURES = Path(__file__).parent / "fixtures" / "ckpt"
SHOWN = ["yolov5_last.pt", "ultralytics_last.pt", "yolov5_stripped.pt", "lightning.ckpt", "hf-checkpoint-4"]


def _ultralytics(path: Path, epoch: int) -> Path:
    root = {
        "epoch": epoch,
        "model": {"w": 1},
        "ema": {"w": 1},
        "updates": 50,
        "optimizer": {"state": {}, "param_groups": [{"lr": 0.005, "initial_lr": 0.01, "params": [0]}]},
        "train_args": {"epochs": 10, "lr0": 0.01, "lrf": 0.01, "warmup_epochs": 0.0, "batch": 16},
        "version": "8.4.190",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{path.stem}/data.pkl", pickle.dumps(root, protocol=2))
    return path


def _check_80_columns(out: str) -> None:
    """Every line fits 80 columns unless it is one unbreakable word; wrapped lines are indented."""
    for line in out.splitlines():
        if len(line) > 80:
            assert len(tokens(line.strip())) == 1, line  # one word (or one `command`) wider than the screen
    records = [r for r in out.split("\n\n") if r.strip()]
    for rec in records:
        body = rec.splitlines()[1:]
        assert all(line.startswith(" ") for line in body if line), rec  # only a record's first line at column 0


@pytest.mark.parametrize("command", ["show", "verify"])
def test_fixture_records_are_readable_at_80_columns(command, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    main(["ckpt", command, *(str(FIXTURES / n) for n in SHOWN)])
    out = capsys.readouterr().out
    assert out.count("security: ") == len(SHOWN), out
    _check_80_columns(out)
    assert "\x1b[" not in out  # piped: no ANSI styles


def test_a_backticked_command_is_never_split(capsys):
    rec = inspect_path(FIXTURES / "yolov5_last.pt")
    cmd = "`python train.py --resume runs/train/an-experiment-with-a-long-name/weights/last.pt`"
    rec["resume"]["details"] = [f"to continue this run exactly as it was planned, run {cmd} from the repo"]
    buf = io.StringIO()
    render(rec, Writer(stream=buf, width=80))
    out = buf.getvalue()
    assert any(cmd in line for line in out.splitlines()), out
    _check_80_columns(out)


def test_param_group_table_has_no_box_and_fits(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    main(["ckpt", "show", str(FIXTURES / "yolov5_last.pt")])
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if "initial_lr" in line and "group" in line)
    assert header.split() == ["group", "tag", "lr", "initial_lr", "lr/initial", "momentum", "weight_decay", "params"]
    assert len(header) <= 80 and "│" not in out


def test_show_prints_the_ultralytics_epoch_as_the_trainer_counts_it(tmp_path, capsys):
    path = _ultralytics(tmp_path / "weights" / "last.pt", 4)
    main(["ckpt", "show", str(path)])
    out = capsys.readouterr().out
    assert "epoch 5 " in out and "epoch 4 " not in out, out  # stored 4 = Ultralytics' epoch 5, as last-good says
    main(["ckpt", "last-good", str(tmp_path)])
    assert "(epoch 5)" in capsys.readouterr().out
    main(["ckpt", "show", "--json", str(path)])
    assert '"epoch": 4' in capsys.readouterr().out  # the JSON keeps the stored value


def test_yolov5_epoch_is_shown_as_stored(capsys):
    rec = inspect_path(FIXTURES / "yolov5_last.pt")
    main(["ckpt", "show", str(FIXTURES / "yolov5_last.pt")])
    assert f"epoch {rec['epoch']} " in capsys.readouterr().out


@pytest.mark.parametrize("bad", ["missing", "garbage", "directory", "unreadable"])
def test_an_unreadable_path_among_several_is_one_line_and_the_rest_is_shown(tmp_path, capsys, bad):
    b = tmp_path / "b.pt"
    if bad == "garbage":
        b.write_bytes(b"\x00\x01 not a checkpoint at all " * 10)
    elif bad == "directory":
        b.mkdir()
    elif bad == "unreadable":
        b.write_bytes((FIXTURES / "yolov5_last.pt").read_bytes())
        b.chmod(0)
        try:
            b.open("rb").close()
            pytest.skip("running as a user that reads mode-000 files")
        except PermissionError:
            pass
    a, c = FIXTURES / "yolov5_last.pt", FIXTURES / "ultralytics_last.pt"
    try:
        code = main(["ckpt", "show", str(a), str(b), str(c)])
    finally:
        if b.is_file():
            b.chmod(0o600)
    cap = capsys.readouterr()
    assert code == 2
    assert str(a) in cap.out and str(c) in cap.out and cap.out.count("security: ") == 2
    err = [line for line in cap.err.splitlines() if line]
    assert len(err) == 1 and err[0].startswith(f"lrguard: {b}") and "Traceback" not in cap.err, cap.err


def test_several_paths_exit_with_the_worst_code(tmp_path, capsys):
    fine = FIXTURES / "ultralytics_last.pt"
    assert main(["ckpt", "show", str(fine)]) == 0
    stripped = FIXTURES / "yolov5_stripped.pt"
    assert main(["ckpt", "show", str(fine), str(stripped)]) == 1
    assert main(["ckpt", "show", str(fine), str(stripped), str(tmp_path / "nope.pt")]) == 2
    capsys.readouterr()
