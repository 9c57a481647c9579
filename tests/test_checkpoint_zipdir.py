"""The lean central-directory reader agrees with zipfile, and refuses what it does not understand."""

from __future__ import annotations

import zipfile

import pytest

from lrguard.checkpoint.zipdir import ZipDirError, read_directory


def _same(path):
    mine, start = read_directory(path)
    with zipfile.ZipFile(path) as zf:
        ref = zf.infolist()
        assert start == zf.start_dir
    key = ("filename", "header_offset", "compress_size", "file_size", "CRC", "compress_type")

    def rows(entries):
        return [tuple(getattr(e, k) for k in key) for e in entries]

    assert rows(mine) == rows(ref)


def test_torch_zip(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "t.pt"
    torch.save({f"w{i}": torch.ones(i + 1) for i in range(50)}, path)
    _same(path)


def test_plain_zip_with_comment_deflate_and_prefix(tmp_path):
    path = tmp_path / "z.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a/data.pkl", b"x" * 1000, compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr("a/data/0", b"y" * 10)
        zf.comment = b"hello"
    _same(path)
    prefixed = tmp_path / "p.zip"
    prefixed.write_bytes(b"#!/bin/sh\n" + path.read_bytes())  # data prepended to the archive
    _same(prefixed)


def test_many_entries_use_zip64_end_record(tmp_path):
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(70_000):
            zf.writestr(f"d/{i}", b"")
    _same(path)


@pytest.mark.parametrize("data", [b"", b"not a zip at all", b"PK\x03\x04" + b"\x00" * 100])
def test_refuses_garbage(tmp_path, data):
    path = tmp_path / "g.zip"
    path.write_bytes(data)
    with pytest.raises(ZipDirError):
        read_directory(path)


def test_truncated_directory(tmp_path):
    path = tmp_path / "z.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(20):
            zf.writestr(f"e{i}", b"abc")
    data = path.read_bytes()
    cut = tmp_path / "cut.zip"
    cut.write_bytes(data[:-200] + data[-22:])  # keep the end record, lose part of the directory
    with pytest.raises(ZipDirError):
        read_directory(cut)
