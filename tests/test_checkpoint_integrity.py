"""Integrity checks on hand-corrupted copies: flipped bytes, truncation, missing or short storages."""

from __future__ import annotations

import struct
import zipfile

import pytest

from lrguard.checkpoint.archive import load
from lrguard.checkpoint.integrity import verify
from lrguard.cli.main import main

torch = pytest.importorskip("torch")


@pytest.fixture
def good(tmp_path):
    path = tmp_path / "good.pt"
    torch.save({"epoch": 2, "a": torch.arange(1000.0), "b": torch.ones(10, 10).half(), "c": torch.zeros(3)}, path)
    return path


def _rezip(src, dst, drop=None, replace=None):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for name in zin.namelist():
            if drop and name.endswith(drop):
                continue
            data = zin.read(name)
            if replace and name.endswith(replace[0]):
                data = replace[1](data)
            zout.writestr(name, data)


def test_good_file_is_intact(good):
    rep = verify(good, scan_nonfinite=True)
    assert rep.ok, rep.problems
    assert rep.checked["storages"] == 3 and rep.checked["entries"] >= 5


def test_flipped_byte_in_storage_fails_crc(good, tmp_path):
    loaded = load(good)
    data = bytearray(good.read_bytes())
    key = next(k for k, r in loaded.storages.items() if r.nbytes == 4000)
    header = loaded.storage_offsets[key]  # zip: offset of the entry's local header
    nlen, xlen = struct.unpack_from("<HH", data, header + 26)
    data[header + 30 + nlen + xlen + 100] ^= 0x01  # one bit inside the tensor data
    bad = tmp_path / "flip.pt"
    bad.write_bytes(bytes(data))
    rep = verify(bad)
    assert not rep.ok
    assert any("CRC-32 mismatch" in p for p in rep.problems)


@pytest.mark.parametrize("cut", [100, 5000, 0.5])
def test_truncated_file(good, tmp_path, cut):
    data = good.read_bytes()
    n = int(len(data) * cut) if isinstance(cut, float) else len(data) - cut
    bad = tmp_path / "trunc.pt"
    bad.write_bytes(data[:n])
    rep = verify(bad)
    assert not rep.ok
    assert main(["ckpt", "verify", str(bad)]) in (1, 2)


def test_missing_storage(good, tmp_path):
    bad = tmp_path / "missing.pt"
    _rezip(good, bad, drop="/data/0")
    rep = verify(bad)
    assert not rep.ok and any("missing" in p for p in rep.problems)


def test_short_storage(good, tmp_path):
    bad = tmp_path / "short.pt"
    _rezip(good, bad, replace=("/data/0", lambda b: b[: len(b) // 2]))
    rep = verify(bad)
    assert not rep.ok and any("shorter" in p for p in rep.problems)


def test_legacy_format_verify_and_truncation(tmp_path):
    path = tmp_path / "legacy.pt"
    torch.save({"epoch": 1, "w": torch.ones(100)}, path, _use_new_zipfile_serialization=False)
    assert verify(path, scan_nonfinite=True).ok
    bad = tmp_path / "legacy_trunc.pt"
    bad.write_bytes(path.read_bytes()[:-100])
    rep = verify(bad)
    assert not rep.ok and any("shorter" in p for p in rep.problems)


def test_nonfinite_scan_names_tensors(tmp_path):
    path = tmp_path / "nan.pt"
    w = torch.ones(100)
    w[3] = float("nan")
    w[7] = float("-inf")
    torch.save({"model": {"layer.weight": w, "ok": torch.ones(3)}}, path)
    rep = verify(path, scan_nonfinite=True)
    assert not rep.ok and rep.nonfinite == {"model.layer.weight": 2}


def test_files_saved_without_crc(tmp_path):
    path = tmp_path / "nocrc.pt"
    torch.serialization.set_crc32_options(False)
    try:
        torch.save({"epoch": 1, "w": torch.ones(3)}, path)
    finally:
        torch.serialization.set_crc32_options(True)
    from lrguard.checkpoint import read_facts

    assert read_facts(path).epoch == 1
    rep = verify(path)
    assert rep.ok and any("no CRC-32" in n for n in rep.notes)
