"""results.csv parsing (readers.csvtable): both trainers' layouts, partial lines, and bad input."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lrguard.errors import InputError
from lrguard.readers.csvtable import parse_results_csv

V5_HEADER = [
    "epoch",
    "train/box_loss",
    "train/obj_loss",
    "train/cls_loss",
    "metrics/precision",
    "metrics/recall",
    "metrics/mAP_0.5",
    "metrics/mAP_0.5:0.95",
    "val/box_loss",
    "val/obj_loss",
    "val/cls_loss",
    "x/lr0",
    "x/lr1",
    "x/lr2",
]


def v5_text(rows: list[list[float]], header=V5_HEADER) -> str:
    """Format like YOLOv5's logger: '%20s,' header, '%20.5g,' values, epoch as an integer."""
    lines = [",".join(f"{h:>20s}" for h in header)]
    for r in rows:
        lines.append(f"{int(r[0]):>20d}," + ",".join(f"{v:>20.5g}" for v in r[1:]))
    return "\n".join(lines) + "\n"


def ul_text(rows: list[list[float]], header: list[str]) -> str:
    lines = [",".join(header)]
    for r in rows:
        lines.append(f"{int(r[0])}," + ",".join(f"{v:.6g}" for v in r[1:]))
    return "\n".join(lines) + "\n"


def write(tmp_path: Path, text: str | bytes, name: str = "results.csv") -> Path:
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text)
    return p


def test_yolov5_padded(tmp_path):
    rows = [[e, 0.1, 0.05, 0.02, 0.5, 0.4, 0.3, 0.2, 0.09, 0.04, 0.01, 0.0703, 0.0033, 0.0033] for e in range(3)]
    table, notes, repeats = parse_results_csv(write(tmp_path, v5_text(rows)))
    assert table.columns == V5_HEADER
    assert len(table) == 3 and notes == [] and repeats == []
    np.testing.assert_array_equal(table.column("epoch"), [0, 1, 2])
    np.testing.assert_allclose(table.column("x/lr0"), 0.0703)
    np.testing.assert_array_equal(table.line_numbers, [2, 3, 4])


def test_ultralytics_plain_with_time_and_extra_columns(tmp_path):
    header = ["epoch", "time", "train/box_loss", "lr/pg0", "lr/pg1", "lr/pg2", "my/custom metric"]
    text = "epoch,time,train/box_loss,lr/pg0,lr/pg1,lr/pg2,my/custom metric\n1,0.32,1.5,0.00166667,0.00166667,0.085,7\n"
    table, notes, _ = parse_results_csv(write(tmp_path, text))
    assert notes == []
    assert table.columns == header
    assert table.column("lr/pg2")[0] == pytest.approx(0.085)
    assert table.column("my/custom metric")[0] == 7.0


def test_crlf_and_bom(tmp_path):
    text = "\ufeffepoch,x/lr0\r\n0,0.07\r\n1,0.04\r\n"
    table, _, _ = parse_results_csv(write(tmp_path, text.encode("utf-8")))
    assert table.columns == ["epoch", "x/lr0"]
    np.testing.assert_allclose(table.column("x/lr0"), [0.07, 0.04])


def test_empty_cell_vs_literal_nan(tmp_path):
    text = "epoch,train/box_loss,x/lr0\n0,,0.07\n1,nan,0.04\n2,inf,0.01\n"
    table, _, _ = parse_results_csv(write(tmp_path, text))
    v = table.column("train/box_loss")
    assert math.isnan(v[0]) and math.isnan(v[1]) and math.isinf(v[2])
    np.testing.assert_array_equal(table.missing["train/box_loss"], [True, False, False])
    np.testing.assert_array_equal(table.missing["x/lr0"], [False, False, False])


def test_partial_last_line_dropped_with_note(tmp_path):
    text = "epoch,x/lr0\n0,0.07\n1,0.04\n2,0.0"
    table, notes, _ = parse_results_csv(write(tmp_path, text))
    assert len(table) == 2
    assert len(notes) == 1 and "line 4" in notes[0] and "incomplete" in notes[0]


def test_partial_last_line_that_would_be_garbage_is_still_dropped(tmp_path):
    text = "epoch,x/lr0,x/lr1\n0,0.07,0.003\n1,0.0"  # wrong field count, but still being written
    table, notes, _ = parse_results_csv(write(tmp_path, text))
    assert len(table) == 1 and notes


def test_blank_lines_skipped_and_repeated_header_recorded(tmp_path):
    text = "epoch,x/lr0\n0,0.07\n\n1,0.04\nepoch,x/lr0\n0,0.07\n"
    table, _, repeats = parse_results_csv(write(tmp_path, text))
    assert len(table) == 3
    assert repeats == [2]
    np.testing.assert_array_equal(table.line_numbers, [2, 4, 6])


def test_header_only(tmp_path):
    table, _, _ = parse_results_csv(write(tmp_path, "epoch,x/lr0\n"))
    assert len(table) == 0
    assert table.column("x/lr0").shape == (0,)


def one_line_error(path: Path) -> str:
    with pytest.raises(InputError) as info:
        parse_results_csv(path)
    msg = str(info.value)
    assert "\n" not in msg
    assert str(path) in msg
    return msg


@pytest.mark.parametrize(
    ("content", "expect"),
    [
        (b"", "empty"),
        (b"\n\n", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (b"epoch,x/lr0\n0,\xff\xfe\n", "UTF-8"),
        (b"hello,world\n1,2\n", "no 'epoch' column"),
        (b"epoch,x/lr0,x/lr0\n0,1,2\n", "duplicate"),
    ],
)
def test_garbage_is_one_line_input_error(tmp_path, content, expect):
    msg = one_line_error(write(tmp_path, content))
    assert expect in msg


def test_wrong_field_count_names_the_line(tmp_path):
    msg = one_line_error(write(tmp_path, "epoch,x/lr0\n0,0.07\n1,0.04,9\n2,0.01\n"))
    assert "line 3" in msg and "3 fields" in msg


def test_non_number_names_line_and_column(tmp_path):
    msg = one_line_error(write(tmp_path, "epoch,x/lr0\n0,0.07\n1,abc\n"))
    assert "line 3" in msg and "x/lr0" in msg and "abc" in msg


def test_missing_file_and_directory(tmp_path):
    assert "not found" in one_line_error(tmp_path / "results.csv")
    d = tmp_path / "sub" / "results.csv"
    d.mkdir(parents=True)
    assert "directory" in one_line_error(d)


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    data=st.lists(st.lists(finite, min_size=4, max_size=4), min_size=1, max_size=12),
)
def test_both_styles_parse_back_to_the_same_values(tmp_path, data):
    header = ["epoch", "train/box_loss", "val/box_loss", "x/lr0", "x/lr1"]
    rows = [[float(k), *r] for k, r in enumerate(data)]
    t5, _, _ = parse_results_csv(write(tmp_path, v5_text(rows, header), "a.csv"))
    tu, _, _ = parse_results_csv(write(tmp_path, ul_text(rows, header), "b.csv"))
    expected = np.array(rows)
    for j, name in enumerate(header):
        np.testing.assert_allclose(t5.column(name), expected[:, j], rtol=1e-4 + 1e-12, atol=1e-300)
        np.testing.assert_allclose(tu.column(name), expected[:, j], rtol=1e-5 + 1e-12, atol=1e-300)
        np.testing.assert_allclose(t5.column(name), tu.column(name), rtol=2e-4, atol=1e-300)


# --- crash remnants (generated text) ------------------------------------------------------------------


def _v5_rows(n: int) -> list[list[float]]:
    return [[e, 0.1, 0.05, 0.02, 0.5, 0.4, 0.3, 0.2, 0.09, 0.04, 0.01, 0.01, 0.01 - e * 1e-5, 0.01] for e in range(n)]


def test_nul_block_between_rows_is_a_crash_remnant_with_its_byte_offset(tmp_path):
    text = v5_text(_v5_rows(6)).encode()
    lines = text.split(b"\n")
    cut = len(b"\n".join(lines[:4])) + 1  # start of line 5 (epoch 3)
    data = text[:cut] + b"\x00" * 50 + text[cut:]
    table, notes, _ = parse_results_csv(write(tmp_path, data))
    assert len(table) == 6
    (r,) = table.remnants
    assert (r.line, r.byte_offset, r.nul_bytes, r.torn_chars, r.next_row) == (5, cut, 50, 0, 3)
    assert any(f"byte {cut}" in n and "crash" in n for n in notes)


def test_nul_block_after_a_partly_written_row_drops_that_row(tmp_path):
    text = "epoch,x/lr0,x/lr1\n0,0.07,0.003\n1,0.04,0.006\n2,0.0" + "\x00" * 10 + "1,0.04,0.0061\n2,0.01,0.009\n"
    table, _, _ = parse_results_csv(write(tmp_path, text.encode()))
    np.testing.assert_array_equal(table.column("epoch"), [0, 1, 1, 2])
    np.testing.assert_array_equal(table.line_numbers, [2, 3, 4, 5])
    (r,) = table.remnants
    assert r.nul_bytes == 10 and r.torn_chars == len("2,0.0") and r.next_row == 2
    assert r.byte_offset == text.index("\x00")


def test_torn_row_without_nul_is_a_remnant_not_an_error(tmp_path):
    text = "epoch,x/lr0,x/lr1\n0,0.07,0.003\n1,0.0\n1,0.04,0.006\n2,0.01,0.009\n"
    table, notes, _ = parse_results_csv(write(tmp_path, text))
    np.testing.assert_array_equal(table.column("epoch"), [0, 1, 2])
    (r,) = table.remnants
    assert (r.line, r.nul_bytes, r.torn_chars, r.next_row) == (3, 0, 5, 1)
    assert any("partly written row" in n for n in notes)
    assert r.byte_offset == text.index("1,0.0\n")


def test_nul_bytes_at_the_end_are_a_remnant_with_no_next_row(tmp_path):
    table, notes, _ = parse_results_csv(write(tmp_path, b"epoch,x/lr0\n0,0.07\n1,0.04\n" + b"\x00" * 7))
    assert len(table) == 2
    (r,) = table.remnants
    assert r.next_row is None and r.nul_bytes == 7 and r.byte_offset == len(b"epoch,x/lr0\n0,0.07\n1,0.04\n")
    assert not any("incomplete" in n for n in notes)


def test_many_short_rows_are_still_garbage(tmp_path):
    msg = one_line_error(write(tmp_path, "epoch,x/lr0,x/lr1\n" + "0,1\n" * 10 + "1,0.1,0.2\n"))
    assert "line 2" in msg and "2 fields" in msg


def test_nul_bytes_in_the_header_line_are_binary(tmp_path):
    assert "binary" in one_line_error(write(tmp_path, b"epo\x00ch,x/lr0\n0,0.07\n"))


@settings(max_examples=80, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    n_rows=st.integers(min_value=1, max_value=20),
    cuts=st.lists(
        st.tuples(st.floats(min_value=0.0, max_value=1.0), st.integers(min_value=0, max_value=300), st.booleans()),
        min_size=1,
        max_size=4,
    ),
    padded=st.booleans(),
)
def test_nul_bytes_and_torn_rows_at_random_offsets_never_raise(tmp_path, n_rows, cuts, padded):
    """Generated: NUL runs inserted, or rows cut short, anywhere after the header of a valid file."""
    rows = _v5_rows(n_rows)
    text = (v5_text(rows) if padded else ul_text(rows, V5_HEADER)).encode()
    body_start = text.index(b"\n") + 1
    for where, n_nul, tear in sorted(cuts, reverse=True):
        at = body_start + int(where * (len(text) - body_start))
        if tear:  # the row is cut at `at` and a NUL block follows (a crash mid-write), or nothing (n_nul = 0)
            end = text.find(b"\n", at)
            end = len(text) - 1 if end < 0 else end
            text = text[:at] + b"\x00" * n_nul + text[end + 1 :] if n_nul else text[:at] + b"\n" + text[end + 1 :]
        else:
            text = text[:at] + b"\x00" * n_nul + text[at:]
    table, notes, _ = parse_results_csv(write(tmp_path, text))
    assert len(table) <= n_rows + len(cuts)
    assert all(r.byte_offset < len(text) for r in table.remnants)
    assert sum("crash remnant" in n for n in notes) == len(table.remnants)
    assert all(np.isfinite(table.column("epoch")))
