"""TensorBoard event files (readers.tfevents), written by a minimal encoder in this test."""

from __future__ import annotations

import struct
from pathlib import Path

from lrguard.readers.tfevents import read_event_steps


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def encode_event(wall_time: float, step: int | None, summary: bool = True, file_version: str | None = None) -> bytes:
    """Serialize a tensorflow ``Event``: wall_time=1 (double), step=2 (int64), file_version=3, summary=5."""
    msg = _varint((1 << 3) | 1) + struct.pack("<d", wall_time)
    if step is not None:
        msg += _varint((2 << 3) | 0) + _varint(step)
    if file_version is not None:
        raw = file_version.encode()
        msg += _varint((3 << 3) | 2) + _varint(len(raw)) + raw
    if summary:
        # Summary { value { tag: "x/lr0" simple_value: 0.01 } } -- contents are not decoded by the reader.
        value = _varint((1 << 3) | 2) + _varint(5) + b"x/lr0" + _varint((2 << 3) | 5) + struct.pack("<f", 0.01)
        summ = _varint((1 << 3) | 2) + _varint(len(value)) + value
        msg += _varint((5 << 3) | 2) + _varint(len(summ)) + summ
    return msg


def record(payload: bytes) -> bytes:
    """TFRecord framing: uint64 length, uint32 length crc, data, uint32 data crc (CRCs not checked)."""
    return struct.pack("<Q", len(payload)) + b"\0\0\0\0" + payload + b"\0\0\0\0"


def write_events(path: Path, steps: list[int], t0: float = 1.7e9, tail: bytes = b"") -> Path:
    data = record(encode_event(t0, None, summary=False, file_version="brain.Event:2"))
    for k, s in enumerate(steps):
        data += record(encode_event(t0 + k, s))
        data += record(encode_event(t0 + k, s))  # several scalars per step
    path.write_bytes(data + tail)
    return path


def test_steps_and_first_wall_time(tmp_path):
    f = write_events(tmp_path / "events.out.tfevents.1.host", [0, 1, 2, 300, 2**40])
    got = read_event_steps(f)
    assert got.steps == (0, 1, 2, 300, 2**40)
    assert got.first_wall_time == 1.7e9


def test_events_without_summary_do_not_count(tmp_path):
    f = tmp_path / "events.out.tfevents.2.host"
    f.write_bytes(record(encode_event(1.0, 7, summary=False)) + record(encode_event(2.0, 8)))
    assert read_event_steps(f).steps == (8,)


def test_truncated_tail_tolerated(tmp_path):
    full = record(encode_event(5.0, 10))
    f = write_events(tmp_path / "events.out.tfevents.3.host", [3, 4], tail=full[: len(full) - 7])
    assert read_event_steps(f).steps == (3, 4)
    f.write_bytes(f.read_bytes()[:5])  # shorter than one header
    assert read_event_steps(f).steps == ()


def test_garbage_payload_stops_reading(tmp_path):
    f = write_events(tmp_path / "events.out.tfevents.4.host", [1], tail=record(b"\xff\xff\xff"))
    assert read_event_steps(f).steps == (1,)


def test_absurd_length_stops_reading(tmp_path):
    f = write_events(tmp_path / "events.out.tfevents.5.host", [1], tail=struct.pack("<Q", 2**62) + b"\0" * 20)
    assert read_event_steps(f).steps == (1,)


def test_empty_file(tmp_path):
    f = tmp_path / "events.out.tfevents.6.host"
    f.write_bytes(b"")
    got = read_event_steps(f)
    assert got.steps == () and got.first_wall_time is None


# --- read_scalars: every point of every tag, exactly -------------------------------------------

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _tfevents_writer import write_scalar_file
from lrguard.errors import InputError, LrguardError
from lrguard.readers import tfrecord
from lrguard.readers.tfevents import read_scalars

_f32 = st.floats(width=32, allow_nan=False)
_point = st.tuples(
    st.sampled_from(["lr", "loss", "train/lr-pg1", "x"]),
    st.integers(0, 2**40),
    st.floats(1e9, 2e9),
    _f32,
    st.sampled_from(["simple", "tensor_float"]),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_point, max_size=60))
def test_read_scalars_is_lossless(tmp_path_factory, points):
    path = write_scalar_file(tmp_path_factory.mktemp("ev") / "events.out.tfevents.1.host", points)
    log = read_scalars(path)
    assert log.points == len(points)
    for tag in {p[0] for p in points}:
        mine = [p for p in points if p[0] == tag]
        s = log.scalars[tag]
        assert s.step.tolist() == [p[1] for p in mine]  # file order kept, nothing sorted or purged
        assert s.wall_time.tolist() == [p[2] for p in mine]
        assert s.value.tolist() == [float(np.float32(p[3])) for p in mine]
    backs = sum(
        1
        for tag in {p[0] for p in points}
        for a, b in zip([p for p in points if p[0] == tag], [p for p in points if p[0] == tag][1:], strict=False)
        if b[1] < a[1]
    )
    assert sum(len(f.steps_back) for f in log.files) == backs


def test_step_going_back_is_kept_as_evidence(tmp_path):
    pts = [("lr", s, 1.7e9 + s, 0.1, "simple") for s in (1, 2, 3, 2, 3, 4)]
    log = read_scalars(write_scalar_file(tmp_path / "events.out.tfevents.1.h", pts))
    assert log.scalars["lr"].step.tolist() == [1, 2, 3, 2, 3, 4]
    (back,) = log.files[0].steps_back
    assert (back.tag, back.previous_step, back.step) == ("lr", 3, 2)
    assert any("went back" in n for n in log.notes)


def test_double_tensor_and_tag_filter(tmp_path):
    pts = [("lr", 1, 1.7e9, 1e-300, "tensor_double"), ("loss", 1, 1.7e9, 2.5, "simple")]
    log = read_scalars(write_scalar_file(tmp_path / "events.out.tfevents.1.h", pts), tags=["l?"])
    assert list(log.scalars) == ["lr"] and log.scalars["lr"].value[0] == 1e-300


def test_files_ordered_by_first_wall_time(tmp_path):
    (tmp_path / "a").mkdir()
    late = write_scalar_file(tmp_path / "a" / "events.out.tfevents.1.h", [("lr", 5, 2e9, 1.0, "simple")])
    (tmp_path / "b").mkdir()
    early = write_scalar_file(tmp_path / "b" / "events.out.tfevents.2.h", [("lr", 1, 1.8e9, 2.0, "simple")])
    log = read_scalars(tmp_path)
    assert [f.path for f in log.files] == [early, late]
    assert log.scalars["lr"].step.tolist() == [1, 5] and log.scalars["lr"].file.tolist() == [0, 1]


def test_truncated_tail_is_a_note_not_an_error(tmp_path):
    path = write_scalar_file(tmp_path / "events.out.tfevents.1.h", [("lr", s, 1.7e9, 0.1, "simple") for s in range(5)])
    data = path.read_bytes()
    path.write_bytes(data[:-7])
    log = read_scalars(path)
    assert log.points == 4 and log.files[0].truncated_at is not None
    assert any("still being written" in n for n in log.notes)


def test_not_an_event_file_and_missing_path(tmp_path):
    bad = tmp_path / "events.out.tfevents.1.h"
    bad.write_bytes(b"\xff" * 200)
    with pytest.raises(InputError, match=r"events\.out\.tfevents\.1\.h"):
        read_scalars(bad)
    with pytest.raises(LrguardError, match="no such file"):
        read_scalars(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LrguardError, match="no TensorBoard event file"):
        read_scalars(tmp_path / "empty")


@pytest.mark.skipif(tfrecord.CRC_BACKEND is None, reason="no native CRC-32C package (the [fast] extra)")
def test_crc_verification_finds_a_flipped_byte(tmp_path):
    path = write_scalar_file(tmp_path / "events.out.tfevents.1.h", [("lr", s, 1.7e9, 0.5, "simple") for s in range(4)])
    assert read_scalars(path, verify_crc=True).crc_checked
    data = bytearray(path.read_bytes())
    data[-6] ^= 0x01  # inside the last record's float: framing intact, data CRC wrong
    path.write_bytes(bytes(data))
    assert read_scalars(path).points == 4  # without the check the value is silently different
    with pytest.raises(InputError, match="CRC mismatch"):
        read_scalars(path, verify_crc=True)


def test_real_summary_writer_matches_event_accumulator(tmp_path):
    """Files from torch's real SummaryWriter, point for point against TensorBoard's own reader."""
    from _needs import needs

    needs("tensorboard")
    tb = needs("torch.utils.tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    w = tb.SummaryWriter(log_dir=str(tmp_path))
    for step in range(300):
        w.add_scalar("lr", 0.01 * math.cos(step / 100), step)
        w.add_scalar("loss", 1.0 / (step + 1), step, new_style=True)
        w.add_scalars("grp", {"a": step, "b": -step}, step)
    w.close()
    log = read_scalars(tmp_path)
    for path in {f.path.parent for f in log.files}:
        acc = EventAccumulator(str(path), size_guidance={"scalars": 0})
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            ref = acc.Scalars(tag)
            mine = read_scalars(path).scalars[tag]
            assert mine.step.tolist() == [e.step for e in ref]
            assert mine.wall_time.tolist() == [e.wall_time for e in ref]
            assert np.allclose(mine.value, [e.value for e in ref], rtol=0, atol=0)
    assert log.points == 300 * 4


def test_writer_crc_matches_the_reference_vector():
    from _tfevents_writer import crc32c, crc32c_py

    assert crc32c_py(b"123456789") == 0xE3069283 == crc32c(b"123456789")  # RFC 3720 check value


def test_reading_without_a_crc_check_does_not_import_the_crc_package():
    """crc32c imports importlib.metadata (tens of ms): only a CRC check may pay for it."""
    import subprocess
    import sys

    code = (
        "import sys; from lrguard.readers import tfevents, tfrecord; "
        "assert 'crc32c' not in sys.modules and 'google_crc32c' not in sys.modules; "
        "tfrecord.crc_backend(); print(tfrecord.CRC_BACKEND)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(tfrecord.CRC_BACKEND)
