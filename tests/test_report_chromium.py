"""Open the HTML report in headless Chromium, as a person would, and look at what is on the page.

Needs Debian's `chromium` (`make chromium` installs it; `make test` depends on that target). Keeps a
screenshot under artifacts/ (git-ignored) for people to look at.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from _report_runs import make_runs
from lrguard.diagnosis import diagnose
from lrguard.readers import read_run
from lrguard.reports.html import write_html

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        exe = shutil.which(name)
        if exe:
            return exe
    if shutil.which("apt-get") is None:
        pytest.skip("no Chromium and no apt-get to install it: install Chromium to run the browser check")
    pytest.fail("Chromium is not installed: run `make chromium` (apt-get install -y chromium); `make test` does it")


def _run(exe: str, *args: str, timeout: int = 90) -> subprocess.CompletedProcess:
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
           "--enable-logging=stderr", "--v=0", *args]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    runs = make_runs(root)
    ARTIFACTS.mkdir(exist_ok=True)
    return write_html([diagnose(read_run(p)) for p in runs], ARTIFACTS / "report.html")


def test_report_renders_in_chromium(report):
    exe = _chromium()
    res = _run(
        exe,
        "--virtual-time-budget=3000",
        "--window-size=1600,1200",
        "--dump-dom",
        report.resolve().as_uri() + "#selftest",
    )
    assert res.returncode == 0, res.stderr[-2000:]
    dom, log = res.stdout, res.stderr
    # the script ran to its end, and the browser shows console messages to us
    assert "lrguard report ready" in log, log[-2000:]
    console_errors = [ln for ln in log.splitlines() if "CONSOLE" in ln and ("Uncaught" in ln or ":ERROR:" in ln)]
    assert console_errors == []
    assert not re.search(r"Uncaught|SyntaxError|TypeError|ReferenceError", log)
    # plots are present: an LR and a loss chart per run (+ a close-up per warning), with drawn lines
    n_charts = int(re.search(r'data-charts="(\d+)"', dom).group(1))
    assert n_charts >= 6
    assert dom.count('class="plot"') == n_charts
    assert len(re.findall(r'<path class="line"[^>]* d="M', dom)) >= 12
    # findings are listed, with their fix, and numbered markers link to them
    assert "epochs-changed-on-resume" in dom and "appended-runs" in dom
    assert dom.count('class="finding sev-warning"') >= 2 and "Fix:" in dom
    assert 'href="#run0-f2"' in dom and 'id="run0-f2"' in dom
    # linked x axis: hovering the LR chart of a run also moves the read-out of its loss chart
    shown = re.findall(
        r'<figure[^>]*id="run0-(lr|loss)"[^>]*>.*?<div class="readout"( style="[^"]*")?>(.*?)</div>', dom, re.S
    )
    assert {s[0] for s in shown if "epoch" in s[2]} == {"lr", "loss"}
    # three runs on one page: chart text is still drawn at 11 px or more (the charts never shrink below
    # their own width; a narrow window scrolls them instead)
    assert float(re.search(r'data-min-text-px="([\d.]+)"', dom).group(1)) >= 11


@pytest.mark.parametrize("width", [800, 1600, 2400])
def test_chart_text_stays_readable_at_any_window_width(report, width):
    exe = _chromium()
    res = _run(
        exe, "--virtual-time-budget=3000", f"--window-size={width},1200", "--dump-dom", report.resolve().as_uri()
    )
    assert "lrguard report ready" in res.stderr
    assert float(re.search(r'data-min-text-px="([\d.]+)"', res.stdout).group(1)) >= 11


def test_report_screenshot(report):
    exe = _chromium()
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    res = _run(exe, "--hide-scrollbars", "--window-size=1600,2600", f"--screenshot={shot}", report.resolve().as_uri())
    assert res.returncode == 0, res.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:4] == b"\x89PNG" and len(data) > 50_000  # a page with charts, not a blank one


def test_plan_page_renders_in_chromium(tmp_path):
    from lrguard.cli.main import main

    exe = _chromium()
    page = tmp_path / "plan.html"
    argv = [
        "plan",
        "--framework",
        "yolov5",
        "--epochs",
        "3000",
        "--nb",
        "200",
        "--resume-at",
        "1739",
        "--new-epochs",
        "5000",
    ]
    assert main([*argv, "--html", str(page)]) == 0
    res = _run(exe, "--virtual-time-budget=3000", "--dump-dom", page.resolve().as_uri())
    assert "lrguard report ready" in res.stderr
    assert not re.search(r"Uncaught|SyntaxError|TypeError|ReferenceError", res.stderr)
    dom = res.stdout
    assert "planned-jump" in dom and "+53.7%" in dom and "Per iteration" in dom
    # per epoch (full range, and zoomed past the bias warmup start), warmup and seam per iteration
    assert int(re.search(r'data-charts="(\d+)"', dom).group(1)) == 4
