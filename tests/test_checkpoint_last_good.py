"""The last-good keeper: a trainer overwriting last.pt in place, killed at any moment, leaves a loadable last-good file."""

from __future__ import annotations

import json
import multiprocessing
import random
import time

import pytest

from _needs import needs

torch = needs("torch")

from lrguard import constants as C
from lrguard.checkpoint.integrity import check_manifest, verify
from lrguard.checkpoint.last_good import LastGood


def _save(path, epoch):
    torch.save({"epoch": epoch, "model": {"w": torch.full((1000,), float(epoch))}}, path)


def test_publish_verifies_a_copy_and_records_it_in_the_manifest(tmp_path):
    last = tmp_path / C.LAST_PT
    _save(last, 4)
    keeper = LastGood()
    good = keeper.publish(last, epoch=4)
    assert good == tmp_path / C.LAST_GOOD_PT and good.read_bytes() == last.read_bytes()
    man = json.loads(good.with_name(good.name + C.MANIFEST_SUFFIX).read_text())
    assert (man["source"], man["epoch"], man["verified"], man["size"]) == ("last.pt", 4, True, last.stat().st_size)
    assert verify(good).ok and check_manifest(good)["ok"]
    assert torch.load(good, weights_only=True)["epoch"] == 4


def test_a_partial_last_pt_is_refused_and_the_last_good_stays(tmp_path):
    last = tmp_path / C.LAST_PT
    keeper = LastGood()
    _save(last, 1)
    good = keeper.publish(last, epoch=1)
    before = good.read_bytes()
    _save(last, 2)
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])  # a trainer killed mid torch.save
    assert keeper.publish(last, epoch=2) is None
    assert keeper.refused and keeper.refused[0][0] == last
    assert good.read_bytes() == before and verify(good).ok
    assert torch.load(good, weights_only=True)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_a_hard_link_would_not_survive_an_in_place_save(tmp_path):
    """Why the keeper copies: the trainer's next save truncates the inode a link shares."""
    last = tmp_path / C.LAST_PT
    _save(last, 1)
    (tmp_path / "link.pt").hardlink_to(last)
    _save(last, 2)
    assert torch.load(tmp_path / "link.pt", weights_only=True)["epoch"] == 2


@pytest.mark.slow
def test_killed_in_place_writers_always_leave_a_loadable_last_good(tmp_path):
    from _last_good_writer import overwrite_forever

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["torch", "lrguard.checkpoint.last_good", "_last_good_writer"])
    last, good = tmp_path / C.LAST_PT, tmp_path / C.LAST_GOOD_PT
    rng = random.Random(0)
    epoch, killed, broken_last = 0, 0, 0
    for k in range(120):
        ready = ctx.Event()
        proc = ctx.Process(target=overwrite_forever, args=(str(last), k * 1000, ready), daemon=True)
        proc.start()
        if not ready.wait(120):  # the writer never started (a starved machine): nothing was written
            proc.kill()
            proc.join()
            continue
        time.sleep(rng.uniform(0, 0.12))
        proc.kill()  # SIGKILL
        proc.join()
        killed += 1
        if last.exists() and not verify(last).ok:
            broken_last += 1  # killed inside the trainer's own torch.save
        if not good.exists():
            assert epoch == 0, (k, "the last-good file disappeared")
            continue  # killed before the first publish completed
        rep = verify(good)
        assert rep.ok, (k, rep.problems, rep.manifest)
        loaded = torch.load(good, weights_only=True)
        assert torch.equal(loaded["model"]["w"], torch.arange(1 << 18, dtype=torch.float32) + loaded["epoch"])
        assert loaded["epoch"] >= epoch, (k, loaded["epoch"], epoch)
        epoch = loaded["epoch"]
        for tmp in tmp_path.glob(".*.tmp"):
            tmp.unlink()
    assert killed >= 100 and epoch > 0
    print(f"{killed} kills, {broken_last} left a partial last.pt, last-good always loaded")
