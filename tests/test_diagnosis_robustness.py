"""Odd but valid inputs never crash the diagnosis (each case was found by fuzzing diagnose())."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from lrguard.cli.main import main
from lrguard.diagnosis import diagnose
from lrguard.readers import read_run
from lrguard.reports.jsonreport import render_json
from lrguard.reports.terminal import render_terminal

# numpy warnings would be printed on lrguard's stderr in the middle of a report.
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


def make(tmp_path, header: list[str], rows: list[list[object]], config: tuple[str, str] | None = None):
    d = tmp_path / "exp"
    d.mkdir()
    lines = [",".join(header)] + [",".join(str(c) for c in r) for r in rows]
    (d / "results.csv").write_text("\n".join(lines) + "\n")
    if config:
        (d / config[0]).write_text(config[1])
    return d


def diagnose_all_ways(d):
    dg = diagnose(read_run(d))
    render_json([dg])
    render_terminal(dg, console=Console(file=io.StringIO()))
    return dg


def test_single_lr_column(tmp_path):
    """A YOLOv5-style table with only x/lr0 (fewer groups than the profile's reference group)."""
    rows = [[e, 0.1, 0.0033 * (e + 1) if e < 3 else 0.01 * (1 - e / 300)] for e in range(12)]
    diagnose_all_ways(make(tmp_path, ["epoch", "train/box_loss", "x/lr0"], rows))


def test_lr_rises_from_zero(tmp_path):
    """A logged LR of exactly 0 followed by a positive one (relative rise is infinite)."""
    rows = [[e, 0.1, 0.0, 0.0, 0.0] for e in range(1, 4)] + [[e, 0.1, 0.001, 0.001, 0.001] for e in range(4, 8)]
    dg = diagnose_all_ways(make(tmp_path, ["epoch", "train/box_loss", "lr/pg0", "lr/pg1", "lr/pg2"], rows))
    assert dg.findings is not None


def test_lr0_zero_in_config(tmp_path):
    rows = [[e, 0.1, 0.0, 0.0, 0.0] for e in range(3)] + [[e, 0.1, 0.001, 0.001, 0.001] for e in range(3, 8)]
    d = make(tmp_path, ["epoch", "train/box_loss", "x/lr0", "x/lr1", "x/lr2"], rows, ("opt.yaml", "hyp: {lr0: 0, lrf: 1}\n"))
    diagnose_all_ways(d)


def test_all_nan_lr_column(tmp_path):
    rows = [[e, 0.1, "nan", "nan", "nan"] for e in range(5)]
    dg = diagnose_all_ways(make(tmp_path, ["epoch", "train/box_loss", "x/lr0", "x/lr1", "x/lr2"], rows))
    assert "nonfinite" in [f.cause.value for f in dg.findings]


@pytest.mark.parametrize("epochs", [[5, 3, 3, 9, 0, 0, 2], [0], [-1, 0, 1]])
def test_jumbled_epoch_column(tmp_path, epochs, capsys):
    rows = [[e, 0.1, 0.002, 0.002, 0.01] for e in epochs]
    d = make(tmp_path, ["epoch", "train/box_loss", "lr/pg0", "lr/pg1", "lr/pg2"], rows)
    assert main(["diagnose", "--json", str(d)]) in (0, 1)
    assert main(["diagnose", str(d)]) in (0, 1)
    assert capsys.readouterr().err == ""
