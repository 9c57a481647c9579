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


def _stored_zip(path, sizes):
    """A stored zip whose entries have the given sizes (distinct bytes), like torch.save's data/ files."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for k, n in enumerate(sizes):
            zf.writestr(f"archive/data/{k}", bytes((k + i) % 251 for i in range(n)))
    return path


BLOCK = 70_000  # smallest useful read (a local header with any name fits): entries span reads


@pytest.mark.parametrize(
    "sizes", [[10] * 500, [200_000, 5, 150_000, 0, 69_990], [69_999, 70_001, 140_000, 1], [300_000]]
)
def test_data_pass_small_blocks_intact_and_every_flip_found(tmp_path, sizes):
    from lrguard.checkpoint.integrity import begin

    path = _stored_zip(tmp_path / "z.pt", sizes)
    seen = []
    run = begin(path, seen.append, block=BLOCK).result()
    assert run.problems == [] and run.report.ok
    assert sum(seen) <= path.stat().st_size and sum(seen) >= sum(sizes)
    assert [run.spans[f"archive/data/{k}"][1] for k in range(len(sizes))] == sizes
    data = path.read_bytes()
    for k in {0, len(sizes) // 2, len(sizes) - 1}:
        if not sizes[k]:
            continue
        at, n = run.spans[f"archive/data/{k}"]
        for pos in {at, at + n // 2, at + n - 1}:  # first, middle and last byte of the entry
            bad = bytearray(data)
            bad[pos] ^= 0x40
            (tmp_path / "bad.pt").write_bytes(bytes(bad))
            res = begin(tmp_path / "bad.pt", block=BLOCK).result()
            assert res.problems == [f"archive/data/{k}: CRC-32 mismatch (bytes changed after writing)"], (k, pos)


def test_data_pass_block_size_does_not_change_the_verdict(good, tmp_path):
    from lrguard.checkpoint.integrity import begin

    at, n = max(begin(good).result().spans.values(), key=lambda sp: sp[1])
    data = bytearray(good.read_bytes())
    data[at + n // 2] ^= 0x01
    bad = tmp_path / "bad.pt"
    bad.write_bytes(bytes(data))
    for path in (good, bad):
        small = begin(path, block=BLOCK).result()
        big = begin(path).result()
        assert (small.problems, small.spans) == (big.problems, big.spans)
    assert len(begin(bad).result().problems) == 1 and not verify(bad).ok
