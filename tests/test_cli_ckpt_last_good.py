"""``lrguard ckpt last-good``: what each candidate is, which one was chosen, and why the others were not."""

from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path

from lrguard.cli.main import main


def _ckpt(path: Path, epoch: int, *, model: bool = True, optimizer: bool = True) -> Path:
    root = {
        "epoch": epoch,
        "best_fitness": 0.1,
        "model": {"w": 1} if model else None,
        "ema": {"w": 1} if model else None,
        "updates": 100 * (epoch + 1),
        "optimizer": {
            "state": {},
            "param_groups": [{"lr": 0.005, "initial_lr": 0.01, "params": [j]} for j in range(3)],
        }
        if optimizer
        else None,
        "opt": {"epochs": 50, "cos_lr": False, "batch_size": 16, "hyp": {"lr0": 0.01, "lrf": 0.01}},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{path.stem}/data.pkl", pickle.dumps(root, protocol=2))
    return path


def test_json_resumable_means_resumable_and_chosen_is_separate(tmp_path, capsys):
    w = tmp_path / "weights"
    _ckpt(w / "epoch20.pt", 20)
    _ckpt(w / "epoch10.pt", 10)
    assert main(["ckpt", "last-good", str(tmp_path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    by_name = {Path(c["path"]).name: c for c in doc["candidates"]}
    assert Path(doc["last_good"]).name == "epoch20.pt"
    assert by_name["epoch20.pt"]["resumable"] and by_name["epoch20.pt"]["chosen"]
    # the older file is just as resumable; it was merely not chosen
    assert by_name["epoch10.pt"]["resumable"] and not by_name["epoch10.pt"]["chosen"]
    assert by_name["epoch10.pt"]["why_not"] == []


def test_table_says_why_a_candidate_is_not_resumable(tmp_path, capsys):
    _ckpt(tmp_path / "weights" / "last.pt", 5, model=False)
    assert main(["ckpt", "last-good", str(tmp_path)]) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert "no: missing model, ema" in out and "no intact, resumable checkpoint found" in out


def test_a_corrupt_last_pt_is_a_warning_naming_the_fallback(tmp_path, capsys):
    w = tmp_path / "weights"
    _ckpt(w / "epoch3.pt", 3)
    (w / "last.pt").write_bytes(_ckpt(tmp_path / "x.pt", 4).read_bytes()[:150])
    assert main(["ckpt", "last-good", str(tmp_path)]) == 0
    cap = capsys.readouterr()
    err = " ".join(cap.err.split())
    assert f"warning: {w / 'last.pt'} is corrupt" in err and "--resume without a path would fail" in err
    assert f"resume from {w / 'epoch3.pt'} instead" in err
    assert main(["ckpt", "last-good", str(tmp_path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["warnings"] and "corrupt" in doc["warnings"][0]


def test_ultralytics_epochs_are_shown_as_the_trainer_counts_them(tmp_path, capsys):
    path = tmp_path / "weights" / "last.pt"
    root = {
        "epoch": 4,
        "model": {"w": 1},
        "ema": {"w": 1},
        "updates": 50,
        "optimizer": {"state": {}, "param_groups": [{"lr": 0.005, "initial_lr": 0.01, "params": [0]}]},
        "train_args": {"epochs": 10, "lr0": 0.01, "lrf": 0.01, "warmup_epochs": 0.0, "batch": 16},
        "version": "8.4.190",
    }
    path.parent.mkdir(parents=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("last/data.pkl", pickle.dumps(root, protocol=2))
    main(["ckpt", "last-good", str(tmp_path)])
    out = capsys.readouterr().out
    assert "(epoch 5)" in " ".join(out.split()), out  # stored 4 = Ultralytics' epoch 5
    row = next(line.split() for line in out.splitlines() if line.strip().startswith("last.pt"))
    assert row[1] == "5", out


def test_the_keepers_verified_copy_is_the_fallback_for_a_torn_last_pt(tmp_path, capsys):
    from lrguard import constants as C
    from lrguard.checkpoint.last_good import LastGood

    w = tmp_path / "weights"
    last = _ckpt(w / "last.pt", 7)
    assert LastGood().publish(last, epoch=7) == w / C.LAST_GOOD_PT
    last.write_bytes(last.read_bytes()[:150])  # the trainer was killed inside its next in-place save
    assert main(["ckpt", "last-good", str(tmp_path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert Path(doc["last_good"]).name == C.LAST_GOOD_PT
    assert C.LAST_GOOD_PT in doc["warnings"][0]
    (copy,) = [c for c in doc["candidates"] if c["chosen"]]
    assert copy["manifest"]["ok"] and copy["manifest"]["note"] is None  # a finalised, verified publish
