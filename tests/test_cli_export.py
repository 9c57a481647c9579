"""``lrguard export``: lossless CSV / JSON lines of every scalar point, one-line errors."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from _tfevents_writer import write_scalar_file
from lrguard.cli.main import main

POINTS = [
    ("lr", 0, 1.7e9, 0.1, "simple"),
    ("loss", 0, 1.7e9 + 0.25, 3.0, "tensor_float"),
    ("lr", 1, 1.7e9 + 1, 1 / 3, "simple"),
    ("lr", 0, 1.7e9 + 2, 0.1, "simple"),  # a restarted process writing into the same file
]


@pytest.fixture
def run_dir(tmp_path):
    write_scalar_file(tmp_path / "events.out.tfevents.1.host", POINTS)
    return tmp_path


def test_csv_is_lossless_and_keeps_steps_going_back(run_dir, capsys):
    assert main(["export", str(run_dir)]) == 0
    out, err = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["tag"], int(r["step"])) for r in rows] == [("lr", 0), ("lr", 1), ("lr", 0), ("loss", 0)]
    lr = [float(r["value"]) for r in rows if r["tag"] == "lr"]
    assert lr == [float(np.float32(0.1)), float(np.float32(1 / 3)), float(np.float32(0.1))]
    assert float(rows[1]["wall_time"]) == 1.7e9 + 1
    assert {r["file"] for r in rows} == {"events.out.tfevents.1.host"}
    assert "4 points of 2 tag(s)" in err and "went back" in err


def test_jsonl_with_tag_filter_to_a_file(run_dir, tmp_path, capsys):
    target = tmp_path / "out" / "scalars.jsonl"
    target.parent.mkdir()
    assert main(["export", str(run_dir), "--format", "jsonl", "--tags", "lo*", "-o", str(target)]) == 0
    lines = [json.loads(x) for x in target.read_text().splitlines()]
    assert lines == [
        {"tag": "loss", "step": 0, "wall_time": 1.7e9 + 0.25, "value": 3.0, "file": "events.out.tfevents.1.host"}
    ]
    assert capsys.readouterr().out == ""
    assert sorted(p.name for p in target.parent.iterdir()) == ["scalars.jsonl"]  # no temporary left behind


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda p: p / "missing", "no such file or directory"),
        (lambda p: p, "no TensorBoard event file"),
        (
            lambda p: (p / "events.out.tfevents.9.h").write_bytes(b"\x07" * 300) and p / "events.out.tfevents.9.h",
            "event file",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, make, problem):
    path = make(tmp_path)
    assert main(["export", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and problem in err and "Traceback" not in err
