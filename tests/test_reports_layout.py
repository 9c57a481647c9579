"""Terminal text layout (reports.layout): wrapping never splits a `command`, continuation lines are indented."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from lrguard.reports.layout import Writer, table, tokens, wrap

ROOT = Path(__file__).resolve().parents[1]
SEED_LIKE = ROOT / "examples" / "yolov5" / "seed-like-epochs-changed"

words = st.text(alphabet="abcdefghij-/.:", min_size=1, max_size=12)
commands = st.lists(words, min_size=1, max_size=8).map(lambda ws: "`" + " ".join(ws) + "`")
texts = st.lists(st.one_of(words, commands), min_size=1, max_size=30).map(" ".join)


@given(texts, st.integers(1, 100), st.integers(0, 20), st.integers(0, 20))
def test_wrap_keeps_every_word_and_command_whole_and_in_order(text, width, first, hang):
    lines = [text[a:b] for a, b in wrap(text, width, first, hang)]
    assert " ".join(lines).split(" ") == text.split(" ")  # nothing lost, nothing reordered
    for cmd in re.findall(r"`[^`]*`", text):
        assert any(cmd in ln for ln in lines), cmd  # a command is on one line
    for k, ln in enumerate(lines):
        room = width - (first if k == 0 else hang)
        assert len(ln) <= room or len(tokens(ln)) == 1  # only a single word may overflow


def test_tokens_glue_backticked_spaces_and_ignore_an_unpaired_tick():
    t = "run `python train.py --resume x` now `odd"
    assert [t[a:b] for a, b in tokens(t)] == ["run", "`python train.py --resume x`", "now", "`odd"]


def _writer(width: int) -> tuple[Writer, io.StringIO]:
    buf = io.StringIO()
    return Writer(stream=buf, width=width), buf


def test_writer_indents_continuation_lines_and_table_wraps_its_last_column():
    w, buf = _writer(40)
    w.line([("fix:", "green"), (" set `epochs: 10` back and run `python train.py --resume a/b/last.pt` please", None)],
           first="    ", hang=9)  # fmt: skip
    table(w, ("n", "evidence"), [("1", "a new TensorBoard event file starts at epoch 6 (line 8)")], indent="  ")
    lines = buf.getvalue().splitlines()
    assert lines[0].startswith("    fix: set `epochs: 10`")
    assert "         `python train.py --resume a/b/last.pt`" in lines  # own line, indented, whole
    assert lines[-2].startswith("  1  a new") and lines[-1].startswith("     ") and lines[-1].strip()
    assert "\x1b[" not in buf.getvalue()  # not a terminal: no colour codes


def _assert_readable(out: str, width: int = 80) -> None:
    lines = out.splitlines()
    assert lines
    for ln in lines:
        if len(ln) > width:  # only a single word (a command, a path) may overflow
            assert len(tokens(ln.strip())) == 1, ln
    # every command of the fix is on one line
    text = " ".join(ln.strip() for ln in lines)
    for cmd in re.findall(r"`[^`]*`", text):
        assert any(cmd in ln for ln in lines), cmd
    # continuation lines are indented: after the run's path, no line starts at column 0
    assert all(ln.startswith(" ") for ln in lines[1:] if ln), [ln for ln in lines[1:] if ln and ln[0] != " "]


def test_diagnose_piped_at_columns_80(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "COLUMNS": "80"}
    env.pop("NO_COLOR", None)
    res = subprocess.run(
        [sys.executable, "-m", "lrguard", "diagnose", "--no-checkpoints", str(SEED_LIKE.relative_to(ROOT))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert res.returncode == 1, res.stderr
    assert "\x1b[" not in res.stdout
    _assert_readable(res.stdout)
    assert "python train.py --resume " in res.stdout and "epochs-changed-on-resume" in res.stdout


def test_diagnose_on_an_80_column_rich_console():
    from lrguard.diagnosis import diagnose
    from lrguard.readers import read_run
    from lrguard.reports.terminal import render_terminal

    buf = io.StringIO()
    con = Console(file=buf, width=80, force_terminal=True, color_system="standard", highlight=False)
    render_terminal(diagnose(read_run(SEED_LIKE, checkpoints=False)), console=con)
    out = buf.getvalue()
    assert "\x1b[" in out  # styled through rich
    _assert_readable(re.sub(r"\x1b\[[0-9;]*m", "", out))
