from __future__ import annotations

import re
import subprocess
import sys

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
