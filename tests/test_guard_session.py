"""The YOLO adapters' session: the trainer's global step and epoch in events, the verified last-good copy."""

from __future__ import annotations

import copy
import json

from _needs import needs

torch = needs("torch")

from lrguard import constants as C
from lrguard.guard.hooks_adapter import attach
from lrguard.guard.session_adapter import TrainerSession, steps_after_resume


def _hooks(**kw):
    model = torch.nn.Linear(3, 1)
    return model, attach(torch.optim.SGD(model.parameters(), lr=0.1), console=None, **kw)


def _step(model, hooks, bad=False):
    loss = model(torch.ones(2, 3)).sum() * (float("nan") if bad else 1.0)
    loss.backward()
    hooks.optimizer.step()
    hooks.optimizer.zero_grad()


def test_events_carry_the_global_step_and_the_trainers_epoch():
    model, hooks = _hooks()
    session = TrainerSession(last_good=False, console=None)
    session.bind(hooks, steps_done=40)  # a resumed run: 40 optimizer steps before this process
    session.epoch_start(5)
    _step(model, hooks)
    _step(model, hooks)
    session.epoch_start(6)
    _step(model, hooks, bad=True)
    session.epoch_start(6)  # the trainer repeats the epoch (its own NaN recovery)
    _step(model, hooks, bad=True)
    hooks.close()
    assert [(e.step, e.epoch, e.action) for e in hooks.guard.events] == [(42, 6, "skip"), (43, 6, "skip")]
    assert [session.epoch_of(s) for s in (39, 40, 41, 42, 43)] == [None, 5, 5, 6, 6]


def test_start_at_refuses_once_a_step_was_guarded():
    model, hooks = _hooks()
    _step(model, hooks)
    try:
        hooks.start_at(10)
    except ValueError as exc:
        assert "already guarded" in str(exc)
    else:
        raise AssertionError("start_at after a step must fail")
    hooks.close()


def test_a_torn_save_is_refused_with_one_event_and_the_previous_copy_stays(tmp_path):
    _model, hooks = _hooks()
    session = TrainerSession(console=None)
    session.bind(hooks, steps_done=0)
    last = tmp_path / C.LAST_PT
    torch.save({"epoch": 0, "w": torch.zeros(100)}, last)
    good = session.saved(last, 0, updates=0)
    assert good == tmp_path / C.LAST_GOOD_PT
    torch.save({"epoch": 1, "w": torch.ones(100)}, last)
    last.write_bytes(last.read_bytes()[:200])
    assert session.saved(last, 1, updates=1) is None
    assert torch.load(good, weights_only=True)["epoch"] == 0
    (event,) = hooks.guard.events
    assert (event.signal, event.action, event.epoch) == ("checkpoint", "warn", 1) and "does not verify" in event.message
    assert session.saves == [(0, good), (1, None)]
    hooks.close()


def test_no_last_good_writes_nothing(tmp_path):
    session = TrainerSession(last_good=False, console=None)
    last = tmp_path / C.LAST_PT
    torch.save({"epoch": 0}, last)
    assert session.saved(last, 0) is None and sorted(p.name for p in tmp_path.iterdir()) == [C.LAST_PT]


def test_a_resume_from_the_published_save_counts_the_skipped_steps_too(tmp_path):
    manifest = tmp_path / (C.LAST_GOOD_PT + C.MANIFEST_SUFFIX)
    assert steps_after_resume(tmp_path, 3, 17) == 17  # no manifest: the trainer's count
    manifest.write_text(json.dumps({"epoch": 3, "step": 19, "updates": 17}))
    assert steps_after_resume(tmp_path, 3, 17) == 19  # two steps were skipped: the guard counted them
    assert steps_after_resume(tmp_path, 4, 17) == 17  # another save: not this manifest's
    assert steps_after_resume(tmp_path, 3, 18) == 18  # another count: not this manifest's either


def test_a_rollback_restores_the_optimizer_state_but_keeps_the_trainers_lr_and_momentum():
    from lrguard.guard.session_adapter import OptimizerState

    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.ones(2, 3)).sum().backward()
    opt.step()
    wrapped = OptimizerState(opt)
    saved = copy.deepcopy(wrapped.state_dict())  # what a snapshot holds
    before = [s["momentum_buffer"].clone() for s in opt.state.values()]
    opt.step()  # the momentum moves on
    opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"] = 0.05, 0.8  # the trainer's warmup / schedule
    wrapped.load_state_dict(saved)
    assert all(torch.equal(s["momentum_buffer"], b) for s, b in zip(opt.state.values(), before, strict=True))
    assert (opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"]) == (0.05, 0.8)


def test_the_ema_state_holds_its_weights_and_update_count_and_follows_a_replaced_ema():
    import types

    from lrguard.guard.session_adapter import EMAState

    holder = types.SimpleNamespace(ema=types.SimpleNamespace(ema=torch.nn.Linear(2, 1), updates=7))
    state = EMAState(lambda: holder.ema)
    saved = {"ema": {k: v.clone() for k, v in state.state_dict()["ema"].items()}, "updates": 7}
    holder.ema = types.SimpleNamespace(ema=torch.nn.Linear(2, 1), updates=9)  # the trainer built a new one
    state.load_state_dict(saved)
    assert holder.ema.updates == 7
    assert all(torch.equal(v, saved["ema"][k]) for k, v in holder.ema.ema.state_dict().items())
