from __future__ import annotations

import re
import subprocess
import sys

import numpy as np

from _report_runs import make_runs
from lrguard.cli.main import main
from lrguard.diagnosis import diagnose
from lrguard.readers import read_run
from lrguard.reports.html import render_html


def test_report_has_charts_findings_and_is_self_contained(tmp_path):
    runs = make_runs(tmp_path)
    ds = [diagnose(read_run(p)) for p in runs]
    page = render_html(ds)
    assert page.count('class="chart"') == 2 * len(runs)  # LR + losses per run
    assert "epochs-changed-on-resume" in page and "Fix:" in page
    assert 'id="run0-f2"' in page and 'href="#run0-f2"' in page  # numbered marker links to its finding
    assert "Sessions" in page and "Checkpoints" in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), "nothing may be fetched at view time"
    assert "<script src" not in page and "@import" not in page and "url(http" not in page
    # a 5000-row run stays small: curves are reduced to min/max per pixel column
    assert len(page) < 2_500_000


def test_diagnose_html_cli(tmp_path, capsys):
    runs = make_runs(tmp_path)
    out = tmp_path / "r.html"
    assert main(["diagnose", "--fail-on", "never", "--html", str(out), *map(str, runs)]) == 0
    assert out.read_text().count('<section class="run"') == len(runs)


def test_plain_diagnose_does_not_import_plotting(tmp_path):
    runs = make_runs(tmp_path)
    code = (
        "import sys\nfrom lrguard.cli.main import main\n"
        f"main(['diagnose', '--fail-on', 'never', {str(runs[0])!r}])\n"
        "bad = [m for m in ('lrguard.reports.html', 'lrguard.reports.svgchart', 'matplotlib', 'torch') if m in sys.modules]\n"
        "assert not bad, bad\n"
        "import lrguard\nassert 'lrguard.reports.html' not in sys.modules\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env())
    assert res.returncode == 0, res.stderr


def _env():
    import os
    from pathlib import Path

    src = str(Path(__file__).resolve().parents[1] / "src")
    return {**os.environ, "PYTHONPATH": src}


def test_png_report(tmp_path):
    import pytest

    pytest.importorskip("matplotlib")
    runs = make_runs(tmp_path)
    out = tmp_path / "r.png"
    assert main(["diagnose", "--fail-on", "never", "--png", str(out), *map(str, runs[:2])]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_seed_like_report_draws_each_sessions_plan_and_keeps_the_bias_line_on_the_chart():
    from pathlib import Path

    run_dir = Path(__file__).resolve().parents[1] / "examples" / "yolov5" / "seed-like-epochs-changed"
    d = diagnose(read_run(run_dir, checkpoints=False))
    page = render_html([d])
    lr_fig = page[page.index('id="run0-lr"') : page.index('id="run0-lrzoom"')]
    # which plan is which: both named in the legend of the LR chart
    assert "planned when it ran, epochs 0–6: linear, lr0 0.01, 10 epochs" in lr_fig
    assert "changed plan from epoch 7: linear, lr0 0.01, 20 epochs (the configuration now)" in lr_fig
    # coinciding groups are said to coincide
    assert "x/lr0 = x/lr1 after warmup" in lr_fig and "x/lr2 = x/lr1 on every row" in lr_fig
    # nothing is drawn off the top: the full chart's top tick is at or above the bias group's start (0.07)
    ticks = [
        float(t)
        for t in re.findall(r'<text class="tick" x="64" y="[\d.]+" text-anchor="end">([\d.e-]+)</text>', lr_fig)
    ]
    assert max(ticks) >= 0.06 and float(np.nanmax(d.run.lr)) <= max(ticks) * 1.25
    # and a zoomed copy keeps the decay readable
    assert 'id="run0-lrzoom"' in page and "y zoomed" in page
