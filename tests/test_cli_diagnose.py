"""``lrguard diagnose`` end to end: exit codes, the --json contract, bad input, read-only behaviour.

Runs are generated from lrguard's schedule functions (harness.generated).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import tree_digest
from harness.generated import write_generated_run
from lrguard.cli.main import main
from lrguard.schedules import ScheduleSpec, SessionPlan
from lrguard.trainers import get_profile

SRC = Path(__file__).resolve().parents[1] / "src"
V5 = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=300, nb=100)
UL = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=100, nb=50)


def clean_run(root: Path, name: str = "exp") -> Path:
    return write_generated_run(root / name, get_profile("yolov5"), [SessionPlan(0, 120, V5)])


def seed_run(root: Path, name: str = "seed") -> Path:
    a, b = V5.with_(epochs=3000), V5.with_(epochs=5000)
    return write_generated_run(
        root / name, get_profile("yolov5"), [SessionPlan(0, 1739, a), SessionPlan(1739, 1760, b, resumed=True)]
    )


def nan_run(root: Path) -> Path:
    return write_generated_run(
        root / "nan", get_profile("yolov5"), [SessionPlan(0, 60, V5)], loss_bumps={30: float("nan")}
    )


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["diagnose", *argv])
    out, err = capsys.readouterr()
    return code, out, err


# --- exit codes ---------------------------------------------------------------------------------


def test_exit_0_on_clean_generated_run(tmp_path, capsys):
    code, out, err = run_cli(capsys, str(clean_run(tmp_path)))
    assert code == 0 and err == ""
    assert "OK" in out and "warmup" in out


def test_exit_1_on_warning(tmp_path, capsys):
    code, out, _ = run_cli(capsys, str(seed_run(tmp_path)))
    assert code == 1
    assert "epochs-changed-on-resume" in out and "fix:" in out


def test_fail_on_error_and_never(tmp_path, capsys):
    seed = str(seed_run(tmp_path))
    assert run_cli(capsys, "--fail-on", "error", seed)[0] == 0
    assert run_cli(capsys, "--fail-on", "never", seed)[0] == 0
    assert run_cli(capsys, "--fail-on", "info", str(clean_run(tmp_path)))[0] == 1
    nan = str(nan_run(tmp_path))
    assert run_cli(capsys, "--fail-on", "error", nan)[0] == 1
    assert run_cli(capsys, "--fail-on", "never", nan)[0] == 0


def test_usage_error_is_exit_2_one_line(capsys):
    with pytest.raises(SystemExit) as info:
        main(["diagnose", "--fail-on", "sometimes"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("lrguard: ") and err.count("\n") == 1


def test_verbose_shows_info_evidence(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "-v", str(clean_run(tmp_path)))
    assert code == 0 and "session" in out


# --- --json contract ----------------------------------------------------------------------------

FINDING_KEYS = {"cause", "severity", "epoch", "title", "evidence", "fix"}
SESSION_KEYS = {"first_epoch", "last_epoch"}
TOP_KEYS = {"lrguard_version", "run", "framework", "framework_version", "sessions", "findings"}


def check_contract(obj: dict) -> None:
    assert set(obj) >= TOP_KEYS
    assert obj["framework"] in ("yolov5", "ultralytics")
    assert isinstance(obj["sessions"], list) and obj["sessions"]
    for s in obj["sessions"]:
        assert set(s) >= SESSION_KEYS
        assert isinstance(s["first_epoch"], int) and isinstance(s["last_epoch"], int)
    for f in obj["findings"]:
        assert set(f) >= FINDING_KEYS
        assert f["severity"] in ("info", "warning", "error")
        assert isinstance(f["evidence"], list)
        if f["severity"] != "info":
            assert isinstance(f["fix"], str) and f["fix"]


def test_json_contract_seed_case(tmp_path, capsys):
    seed = seed_run(tmp_path)
    code, out, _ = run_cli(capsys, "--json", str(seed))
    assert code == 1
    obj = json.loads(out)
    check_contract(obj)
    assert obj["run"] == str(seed)
    assert obj["framework"] == "yolov5" and obj["framework_version"] is None
    assert obj["lrguard_version"]
    assert obj["sessions"][0]["first_epoch"] == 0 and obj["sessions"][-1]["last_epoch"] == 1759
    [f] = [f for f in obj["findings"] if f["cause"] == "epochs-changed-on-resume"]
    assert f["epoch"] == 1740 and f["severity"] == "warning"
    assert f["data"]["implied_epochs_before"] == 3000 and f["data"]["implied_epochs_after"] == 5000
    assert f["line"] == 1742  # header + 0-based epoch 1740


def test_json_several_paths_is_an_array(tmp_path, capsys):
    a, b = clean_run(tmp_path), seed_run(tmp_path)
    code, out, _ = run_cli(capsys, "--json", str(a), str(b))
    assert code == 1
    arr = json.loads(out)
    assert isinstance(arr, list) and [o["run"] for o in arr] == [str(a), str(b)]
    for o in arr:
        check_contract(o)


def test_several_runs_one_unreadable_gets_its_own_error_and_the_others_are_diagnosed(tmp_path, capsys):
    a, b = clean_run(tmp_path), seed_run(tmp_path)
    (tmp_path / "bad").mkdir()
    bad, named = bad_runs(tmp_path / "bad")["garbage-csv"]
    code, out, err = run_cli(capsys, "--json", str(a), str(bad), str(b))
    assert code == 2  # the worst of all: an unreadable run (2) beats findings (1)
    arr = json.loads(out)
    assert [o["run"] for o in arr] == [str(a), str(bad), str(b)]
    assert set(arr[1]) == {"lrguard_version", "run", "error"} and str(named) in arr[1]["error"]
    check_contract(arr[0])
    check_contract(arr[2])
    assert any(f["cause"] == "epochs-changed-on-resume" for f in arr[2]["findings"])
    assert err.count("\n") == 1 and err.startswith("lrguard: ") and str(named) in err


def test_several_runs_one_unreadable_terminal_report_shows_the_others(tmp_path, capsys):
    a = clean_run(tmp_path)
    missing = tmp_path / "nothing-here"
    missing.mkdir()
    code, out, err = run_cli(capsys, "--fail-on", "never", str(missing), str(a))
    assert code == 2
    assert str(a) in out and "OK" in out
    assert str(missing) in err and "Traceback" not in err


def test_json_with_nan_is_valid_json(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "--json", str(nan_run(tmp_path)))
    assert code == 1

    def reject(token):
        raise AssertionError(f"non-standard JSON token {token}")

    obj = json.loads(out, parse_constant=reject)  # strict: no NaN/Infinity tokens
    assert any(f["cause"] == "nonfinite" for f in obj["findings"])


def test_no_argument_picks_newest_run_under_runs(tmp_path, capsys, monkeypatch):
    old = clean_run(tmp_path / "runs" / "train", "exp")
    new = seed_run(tmp_path / "runs" / "train", "exp2")
    os.utime(old / "results.csv", (1_000_000, 1_000_000))
    monkeypatch.chdir(tmp_path)
    code, out, _ = run_cli(capsys, "--json")
    assert code == 1
    obj = json.loads(out)
    assert Path(obj["run"]).resolve() == new.resolve()
    assert any("most recently written results.csv" in n for n in obj["notes"])


def test_results_csv_path_accepted(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "--json", str(clean_run(tmp_path) / "results.csv"))
    assert code == 0 and json.loads(out)["findings"]


def test_profile_option(tmp_path, capsys):
    d = write_generated_run(tmp_path / "u", get_profile("ultralytics-8.4.0"), [SessionPlan(0, 100, UL)])
    code, out, _ = run_cli(capsys, "--json", "--profile", "ultralytics-8.4.0", str(d))
    assert code == 1 and json.loads(out)["profile"] == "ultralytics-8.4.0"
    code, out, _ = run_cli(capsys, "--json", "--framework-version", "8.4.0", str(d))
    assert code == 1 and json.loads(out)["framework_version"] == "8.4.0"
    code, _, err = run_cli(capsys, "--profile", "nope", str(d))
    assert code == 2 and err.startswith("lrguard: ") and "nope" in err


# --- bad input ----------------------------------------------------------------------------------


def bad_runs(root: Path) -> dict[str, tuple[Path, Path]]:
    """name -> (path to pass, file the message must name)."""
    out = {}
    g = root / "garbage"
    g.mkdir()
    (g / "results.csv").write_bytes(b"\x00\x01garbage\xff" * 50)
    out["garbage-csv"] = (g, g / "results.csv")
    t = clean_run(root, "extrafield")
    text = (t / "results.csv").read_text().splitlines()
    text[20] = text[20] + ",0.5"  # a complete line with one field more than the header
    (t / "results.csv").write_text("\n".join(text) + "\n")
    out["extra-field-csv"] = (t, t / "results.csv")
    e = root / "empty"
    e.mkdir()
    (e / "notes.txt").write_text("hello")
    out["not-a-run"] = (e, e)
    y = clean_run(root, "badyaml")
    (y / "opt.yaml").write_text("epochs: 300\nhyp: {lr0: 0.01\n")
    out["bad-yaml"] = (y, y / "opt.yaml")
    dcsv = root / "dircsv"
    (dcsv / "results.csv").mkdir(parents=True)
    out["csv-is-dir"] = (dcsv, dcsv)
    pt = root / "last.pt"
    pt.write_bytes(b"PK\x03\x04 not really")
    out["pt-file"] = (pt, pt)
    h = root / "headeronly"
    h.mkdir()
    (h / "results.csv").write_text("epoch,x/lr0,x/lr1,x/lr2\n")
    out["header-only"] = (h, h / "results.csv")
    return out


@pytest.mark.parametrize(
    "name", ["garbage-csv", "extra-field-csv", "not-a-run", "bad-yaml", "csv-is-dir", "pt-file", "header-only"]
)
def test_bad_input_is_one_line_exit_2(tmp_path, capsys, name):
    path, named = bad_runs(tmp_path)[name]
    code, out, err = run_cli(capsys, str(path))
    assert code == 2
    assert out == ""
    assert err.startswith("lrguard: ") and err.endswith("\n") and err.count("\n") == 1, err
    assert str(named) in err
    assert "Traceback" not in err


def test_row_cut_short_by_a_crash_is_read_not_refused(tmp_path, capsys):
    """A torn row in the middle (a crash mid-write, then a resume) is a crash remnant: reported, not refused."""
    t = clean_run(tmp_path, "torn")
    text = (t / "results.csv").read_text().splitlines()
    text[20] = text[20][:30]
    (t / "results.csv").write_text("\n".join(text) + "\n")
    code, out, err = run_cli(capsys, "--json", "--fail-on", "never", str(t))
    assert code == 0 and err == ""
    report = json.loads(out)
    (note,) = [f for f in report["findings"] if f["cause"] == "crash-remnant"]
    assert note["severity"] == "info" and note["data"]["line"] == 21
    assert any("crash remnant" in n and "byte" in n for n in report["notes"])


def test_bad_input_in_a_subprocess_has_no_traceback(tmp_path):
    paths = bad_runs(tmp_path)
    for name in ("garbage-csv", "extra-field-csv", "bad-yaml", "csv-is-dir"):
        path, named = paths[name]
        proc = subprocess.run(
            [sys.executable, "-m", "lrguard", "diagnose", str(path)],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(SRC)},
            timeout=60,
        )
        assert proc.returncode == 2, (name, proc.stderr)
        lines = proc.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("lrguard: ") and str(named) in lines[0], (name, proc.stderr)


# --- read-only, no torch ------------------------------------------------------------------------


def test_run_directory_unchanged_after_diagnose(tmp_path, capsys):
    a, b = seed_run(tmp_path), clean_run(tmp_path)
    (b / "weights").mkdir()
    before = {str(p): tree_digest(p) for p in (a, b)}
    listing = sorted(p.name for p in tmp_path.iterdir())
    run_cli(capsys, str(a), str(b))
    run_cli(capsys, "--json", str(a), str(b))
    after = {str(p): tree_digest(p) for p in (a, b)}
    assert before == after
    assert sorted(p.name for p in tmp_path.iterdir()) == listing


def test_import_and_diagnose_json_do_not_import_torch(tmp_path):
    run_dir = seed_run(tmp_path)
    code = (
        "import sys, io, contextlib\n"
        "import lrguard\n"
        "assert 'torch' not in sys.modules, 'import lrguard imported torch'\n"
        "from lrguard.cli.main import main\n"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf):\n"
        f"    rc = main(['diagnose', '--json', {str(run_dir)!r}])\n"
        "assert rc == 1, rc\n"
        "bad = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.') or m == 'pandas')\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(SRC)},
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_html_unavailable_fails_before_any_output(tmp_path, capsys):
    target = tmp_path / "report.html"
    code, out, err = run_cli(capsys, "--html", str(target), str(clean_run(tmp_path)))
    if code == 2:  # the HTML report is a separate feature; until it exists: one line, nothing else
        assert out == "" and err.startswith("lrguard: ") and err.count("\n") == 1 and str(target) in err
        assert not target.exists()
    else:
        assert code == 0 and target.is_file()
