"""Odd but valid inputs never crash the diagnosis (each case was found by fuzzing diagnose())."""

from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from lrguard.cli.main import main
from lrguard.diagnosis import diagnose
from lrguard.errors import LrguardError
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
    # Exact zeros then a positive LR with one batch per epoch is what the 100-iteration warmup floor
    # logs (Ultralytics <= 8.3): a warmup, not a jump.
    assert [f.cause.value for f in dg.findings if f.severity.rank >= 1] == []
    assert "warmup" in [f.cause.value for f in dg.findings]


def test_lr0_zero_in_config(tmp_path):
    rows = [[e, 0.1, 0.0, 0.0, 0.0] for e in range(3)] + [[e, 0.1, 0.001, 0.001, 0.001] for e in range(3, 8)]
    d = make(
        tmp_path, ["epoch", "train/box_loss", "x/lr0", "x/lr1", "x/lr2"], rows, ("opt.yaml", "hyp: {lr0: 0, lrf: 1}\n")
    )
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


_cell = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.just(0.0),
    st.just(""),
    st.floats(min_value=0, max_value=0.1),
)
_configs = [
    None,
    "epochs: 0\n",
    "epochs: -5\nhyp: {lr0: 0, lrf: 1}\n",
    "epochs: abc\ncos_lr: true\nhyp: {lrf: 2, warmup_epochs: -1}\n",
    "optimizer: auto\ntime: 1\nclose_mosaic: 50\nepochs: 3\n",
    "hyp: 5\nweights: weights/last.pt\n",
    "lr0: .nan\nlrf: .inf\nwarmup_epochs: .nan\n",
]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # garbage values may overflow; only crashes matter here
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    yolo=st.booleans(),
    epochs=st.lists(st.integers(min_value=-2, max_value=12), min_size=1, max_size=25),
    ngroups=st.integers(min_value=1, max_value=8),
    with_time=st.booleans(),
    config=st.sampled_from(_configs),
    data=st.data(),
)
def test_fuzzed_tables_never_crash(tmp_path_factory, yolo, epochs, ngroups, with_time, config, data):
    pre = "x/lr" if yolo else "lr/pg"
    header = ["epoch", "train/box_loss", "train/cls_loss"] + (["time"] if with_time and not yolo else [])
    header += [f"{pre}{j}" for j in range(ngroups)]
    rows = [[e] + [data.draw(_cell) for _ in header[1:]] for e in epochs]
    d = tmp_path_factory.mktemp("fuzz")
    (d / "results.csv").write_text("\n".join([",".join(header)] + [",".join(map(str, r)) for r in rows]) + "\n")
    if config is not None:
        (d / ("opt.yaml" if yolo else "args.yaml")).write_text(config)
    try:
        run = read_run(d)
    except LrguardError:
        return
    diagnose_all_ways(d)
    assert run.n_rows == len(epochs)
