"""The helpers behind the real-trainer scenarios that need no trainer: dataset, guard, checkpoint peek."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from harness.ckpt_peek import peek_checkpoint
from harness.offline import offline_env, prepare_offline
from harness.scenarios import SCENARIOS, cosine_lf, linear_lf, planned_lr
from harness.synthetic_data import make_dataset

SRC = str(Path(__file__).resolve().parents[1] / "src")
#: The directory that holds the (uninstalled) harness package.
TESTS = str(Path(__file__).resolve().parent)


def test_dataset_is_yolo_format(tmp_path: Path) -> None:
    data_yaml = make_dataset(tmp_path / "data", n_train=4, n_val=2, size=64)
    spec = yaml.safe_load(data_yaml.read_text(encoding="utf-8"))
    assert Path(spec["path"]).is_absolute() and spec["nc"] == 2 and spec["names"] == {0: "red", 1: "blue"}
    images = sorted((tmp_path / "data" / "images" / "train").iterdir())
    labels = sorted((tmp_path / "data" / "labels" / "train").iterdir())
    assert [p.stem for p in images] == [p.stem for p in labels] and len(images) == 4
    for label in labels:
        for line in label.read_text(encoding="utf-8").splitlines():
            cls, *box = line.split()
            assert cls in {"0", "1"} and all(0.0 < float(v) <= 1.0 for v in box)
    again = make_dataset(tmp_path / "again", n_train=4, n_val=2, size=64)
    assert (again.parent / "labels" / "train" / labels[0].name).read_text() == labels[0].read_text()


def test_offline_env_stays_under_the_cache_dir(tmp_path: Path) -> None:
    env = prepare_offline(tmp_path)
    assert env == offline_env(tmp_path)
    assert env["YOLO_OFFLINE"] == "1" and env["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] == "1"
    for key in ("YOLO_CONFIG_DIR", "YOLOV5_CONFIG_DIR", "MPLCONFIGDIR"):
        assert Path(env[key]).is_relative_to(tmp_path.resolve())
    assert (Path(env["YOLO_CONFIG_DIR"]) / "Ultralytics" / "Arial.ttf").stat().st_size > 10_000
    assert (Path(env["YOLOV5_CONFIG_DIR"]) / "Arial.ttf").stat().st_size > 10_000


def _guarded(code: str) -> subprocess.CompletedProcess[str]:
    prelude = "from harness.offline import install_network_guard; install_network_guard()\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + code],
        env={"PYTHONPATH": os.pathsep.join((SRC, TESTS)), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_network_guard_refuses_remote_hosts() -> None:
    result = _guarded("import socket\nsocket.create_connection(('192.0.2.1', 80), timeout=2)")
    assert result.returncode != 0 and "network guard: refused connect" in result.stderr
    result = _guarded("import socket\nsocket.getaddrinfo('example.com', 443)")
    assert result.returncode != 0 and "network guard: refused lookup" in result.stderr


def test_network_guard_allows_loopback() -> None:
    code = (
        "import socket\nserver = socket.socket(); server.bind(('127.0.0.1', 0)); server.listen(1)\n"
        "client = socket.create_connection(server.getsockname(), timeout=2); client.close(); print('ok')"
    )
    result = _guarded(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


class Model:
    """Stands in for a pickled trainer class."""


def test_peek_reads_plain_fields_without_running_code(tmp_path: Path) -> None:
    payload = {"epoch": 3, "optimizer": {"param_groups": [{"lr": 0.5, "initial_lr": 1.0}]}, "model": Model()}
    path = tmp_path / "ckpt.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("ckpt/data.pkl", pickle.dumps(payload, protocol=2))
    ckpt = peek_checkpoint(path)
    assert ckpt["epoch"] == 3 and ckpt["optimizer"]["param_groups"][0]["lr"] == 0.5
    assert type(ckpt["model"]).__name__ == "Model" and type(ckpt["model"]) is not Model


def test_planned_lr_matches_recorded_trainer_values() -> None:
    # Values logged by YOLOv5 7.0.14 (nb=32, nw=100, E=10) and Ultralytics 8.4.190 (nb=4, nw=4, E=8).
    lf5 = linear_lf(10, 0.01, clamp=False)
    logged5 = [0.0031, 0.0056763, 0.007619, 0.00703, 0.00703, 0.00604]
    for epoch, value in enumerate(logged5):
        assert abs(planned_lr("yolov5", epoch, lr0=0.01, lf=lf5, nb=32, nw=100) - value) < 1e-6
    assert abs(planned_lr("yolov5", 0, lr0=0.01, lf=lf5, nb=32, nw=100, warmup_start=0.1) - 0.0721) < 1e-6
    lfu = linear_lf(8, 0.01, clamp=True)
    logged_u = [0.0075, 0.0087625, 0.007525, 0.0062875]
    for row, value in enumerate(logged_u, start=1):
        assert abs(planned_lr("ultralytics", row, lr0=0.01, lf=lfu, nb=4, nw=4) - value) < 1e-9
    assert abs(cosine_lf(5, 0.01)(10) - 1.0) < 1e-12  # the cosine climbs back to lr0 after 2 * epochs


def test_catalogue_is_consistent() -> None:
    for name, info in SCENARIOS.items():
        assert name == info.name and name.startswith(info.framework + "/")
        assert info.framework in {"yolov5", "ultralytics"}
        assert (info.original_subdir is None) == (info.run_subdir == "runs/exp")


def test_trainers_importable_reports_missing_trainers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness import realruns

    monkeypatch.setattr(realruns, "trainers_available", lambda: False)
    assert "not installed" in (realruns.trainers_importable(tmp_path) or "")
    with pytest.raises(KeyError):
        realruns.ensure_runs(tmp_path, ["yolov5/no-such-scenario"])
