"""Atomic saving: a writer killed at random points never damages the previous good checkpoint."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from lrguard import constants as C
from lrguard.checkpoint.atomic import save_atomic
from lrguard.checkpoint.integrity import check_manifest, verify
from lrguard.cli.main import main

torch = pytest.importorskip("torch")


def test_save_atomic_writes_manifest_and_verify_checks_it(tmp_path, capsys):
    path = tmp_path / "last.pt"
    ckpt = {"epoch": 3, "model": {"w": torch.ones(3)}, "optimizer": None}
    side = save_atomic(ckpt, path, save=torch.save)
    assert side.name == "last.pt" + C.MANIFEST_SUFFIX
    man = json.loads(side.read_text())
    assert man["size"] == path.stat().st_size and man["contents"]["epoch"] == 3
    assert check_manifest(path)["ok"]
    assert verify(path).ok
    data = bytearray(path.read_bytes())
    data[-30] ^= 0xFF  # corrupt the central directory's tail region
    path.write_bytes(bytes(data))
    assert not check_manifest(path)["ok"]
    assert main(["ckpt", "verify", str(path)]) in (1, 2)
    assert list(tmp_path.glob(".last.pt.*")) == []  # no temp files left


class _Killed(BaseException):
    """Stands for a SIGKILL at one point of a save."""


def _save_dying(monkeypatch, path, epoch, where):
    """Save, dying just before the rename (``before``) or just after it (``after``)."""
    from lrguard.checkpoint import atomic

    real_commit, real_write = atomic._commit, atomic._write_atomic
    calls = {"n": 0}

    def commit(tmp, target):
        if where == "before" and target == path:
            raise _Killed
        real_commit(tmp, target)

    def write(target, w):
        calls["n"] += 1
        if where == "after" and calls["n"] == 2:  # the finalising manifest write
            raise _Killed
        real_write(target, w)

    monkeypatch.setattr(atomic, "_commit", commit)
    monkeypatch.setattr(atomic, "_write_atomic", write)
    with pytest.raises(_Killed):
        save_atomic({"epoch": epoch, "blob": bytes(64)}, path)
    monkeypatch.setattr(atomic, "_commit", real_commit)
    monkeypatch.setattr(atomic, "_write_atomic", real_write)


@pytest.mark.parametrize(
    "deaths",
    [
        ["after", "before", "before"],  # the chain CI once hit: the live file is the first pending one
        ["before", "after", "before", "after"],
        ["after", "after", "before"],
        ["before", "before", "before"],
    ],
)
def test_a_chain_of_interrupted_saves_keeps_the_live_file_in_the_manifest(tmp_path, monkeypatch, deaths):
    from lrguard.checkpoint import read_facts

    path = tmp_path / "last.pt"
    save_atomic({"epoch": 0, "blob": bytes(64)}, path)  # every save has the same size: the hash decides
    live = 0
    for i, where in enumerate(deaths, start=1):
        _save_dying(monkeypatch, path, i, where)
        live = i if where == "after" else live
        assert read_facts(path).epoch == live
        rep = verify(path)
        assert rep.ok, (i, deaths, rep.problems)
    save_atomic({"epoch": 99, "blob": bytes(64)}, path)
    assert check_manifest(path)["note"] is None  # finalised again: no pending entry left


WRITER = r"""
import os, pickle, sys
from lrguard.checkpoint.atomic import save_atomic
path, start = sys.argv[1], int(sys.argv[2])
payload = os.urandom(1 << 20)
print("ready", flush=True)
i = start
while True:  # save forever; the test kills us at a random moment
    i += 1
    save_atomic({"epoch": i, "optimizer": {"param_groups": [], "state": {}}, "blob": payload}, path)
    print(i, flush=True)
"""


def _lane(directory, rng, kills, env):
    """Kill `kills` writers of one checkpoint at random moments; check it after each kill."""
    from lrguard.checkpoint import read_facts

    path = directory / "last.pt"
    last_epoch = 0
    killed = 0
    for k in range(kills):
        p = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(k * 1000)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        if p.stdout.readline().strip() != "ready":  # the writer died at start-up (e.g. memory pressure)
            p.kill()
            p.wait()
            continue
        time.sleep(rng.uniform(0, 0.08))
        p.send_signal(signal.SIGKILL)
        p.wait()
        killed += 1
        if not path.exists():
            continue  # killed before the very first save finished: nothing to protect yet
        rep = verify(path)
        assert rep.ok, (k, rep.problems, rep.manifest, rep.notes)
        epoch = read_facts(path).epoch
        assert isinstance(epoch, int) and epoch >= last_epoch, (k, epoch, last_epoch)
        last_epoch = epoch
        for tmp in directory.glob(".*.tmp"):
            tmp.unlink()
    return last_epoch, killed


@pytest.mark.slow
def test_killed_writers_never_damage_previous_checkpoint(tmp_path):
    import concurrent.futures

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    lanes = [tmp_path / f"lane{i}" for i in range(4)]
    for d in lanes:
        d.mkdir()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futs = [pool.submit(_lane, d, random.Random(i), 50, env) for i, d in enumerate(lanes)]
        results = [f.result() for f in futs]
    assert all(epoch > 0 for epoch, _ in results)
    assert sum(killed for _, killed in results) >= 150  # of 200 writers, nearly all killed mid-flight
