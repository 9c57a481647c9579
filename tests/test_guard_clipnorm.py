"""The guard reuses the norm of the trainer's own clip_grad_norm_ only when it covers exactly the gradients it steps."""

from __future__ import annotations

import pytest

from _needs import needs

torch = needs("torch")

from lrguard.guard import clipnorm_adapter
from lrguard.guard.config import GuardConfig
from lrguard.guard.hooks_adapter import attach
from test_guard_torch import _data, _model


@pytest.fixture(autouse=True)
def _installed():
    clipnorm_adapter.install()
    yield
    clipnorm_adapter._LAST.clear()


def _backward(model, scale=1.0):
    model.zero_grad()
    x, y = _data()
    (scale * torch.nn.functional.mse_loss(model(x), y)).backward()
    return [p.grad for p in model.parameters()]


def _norm(grads):
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.float()) for g in grads]))


@pytest.mark.parametrize("max_norm", [1e9, 1e-3], ids=["unclipped", "clipped"])
def test_take_is_the_norm_of_the_clipped_gradients(max_norm):
    model = _model()
    grads = _backward(model, scale=100.0)
    before = _norm(grads)
    total = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=max_norm)
    assert torch.equal(total, before) or torch.allclose(total, before, rtol=1e-6)  # the original's result, unchanged
    taken = clipnorm_adapter.take(list(reversed(grads)))  # the order does not matter
    assert taken is not None
    seen, known = taken
    assert seen.dtype == known.dtype == torch.float32
    assert torch.allclose(seen, before, rtol=1e-6)  # the norm before the clip, as the trainer logs it
    assert torch.allclose(known, _norm(grads), rtol=1e-5)  # the norm of the gradients as clipped
    if max_norm < 1:
        assert float(known) == pytest.approx(max_norm, rel=1e-3)
    assert clipnorm_adapter.take(grads) is None  # consumed


def test_take_refuses_changed_or_different_gradients():
    model = _model()
    grads = _backward(model)
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    grads[0].mul_(2.0)  # an in-place change after the clip (an unscale, an accumulation)
    assert clipnorm_adapter.take(grads) is None

    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    assert clipnorm_adapter.take(grads[1:]) is None  # a subset

    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    fresh = _backward(model)  # zero_grad + backward: new tensors
    assert clipnorm_adapter.take(fresh) is None

    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0, norm_type=float("inf"))
    assert clipnorm_adapter.take(fresh) is None  # only an L2 clip is recorded

    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    torch.optim.SGD(model.parameters(), lr=0.0).step()  # any optimizer step drops the record
    assert clipnorm_adapter.take(fresh) is None


def test_the_matched_order_is_checked_again_at_every_take():
    model = _model()
    grads = _backward(model)
    for order in (grads, grads[::-1], grads[::-1], grads):  # a cached order that no longer fits is matched again
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        assert clipnorm_adapter.take(list(order)) is not None
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    other = [*grads[:-1], grads[-1].clone()]  # the same length and order, one tensor not the clipped one
    assert clipnorm_adapter.take(other) is None
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    assert clipnorm_adapter.take([*grads[:-1], grads[0]]) is None  # a duplicate in place of one


def test_the_record_does_not_keep_freed_gradients_alive():
    import gc
    import weakref

    model = _model()
    _backward(model)
    ref = weakref.ref(model[0].weight.grad)
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)  # then no step (a skipped AMP step)
    model.zero_grad(set_to_none=True)
    gc.collect()
    assert ref() is None
    assert clipnorm_adapter.take(_backward(model)) is None


def test_a_nonfinite_gradient_gives_a_nonfinite_norm():
    model = _model()
    grads = _backward(model)
    grads[1][0] = float("nan")
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=10.0)
    taken = clipnorm_adapter.take(grads)
    assert taken is not None and not any(map(torch.isfinite, taken))
    grads = _backward(model)
    grads[0][0, 0] = float("inf")
    torch.nn.utils.clip_grad_norm_(iter(model.parameters()), max_norm=10.0)  # an iterator, as trainers pass
    taken = clipnorm_adapter.take(grads)
    assert taken is not None
    seen, known = taken
    assert seen == float("inf") and torch.isnan(known)  # inf * 0: the clipped gradients hold a NaN
    assert torch.isnan(grads[0][0, 0]) and not torch.isfinite(_norm(grads))


def test_a_finite_total_gives_a_finite_clipped_norm():
    for total in (0.0, 1e-30, 3.0, 1e30, 3e38):
        seen = torch.tensor(total)
        clipped = seen * torch.clamp(10.0 / (seen + 1e-6), max=1.0)  # the factor take applies
        assert torch.isfinite(clipped) and float(clipped) <= 10.0 * (1 + 1e-6)


def _train(clip, steps=8, nan_step=None, max_norm=0.05, spike_step=None, config=None):
    """A clip + step loop through the hooks; returns the guard, how often it took the norm itself, the
    window's grad norms and the norms before the clip. ``spike_step``: that step's gradients x50."""
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
    hooks = attach(opt, config=config or GuardConfig(check_every=100), console=None)
    own = []
    original = torch._foreach_norm

    def counting(*args, **kwargs):
        own.append(1)
        return original(*args, **kwargs)

    x, y = _data()
    rows = []
    for step in range(steps):
        xb = x.clone()
        if step == nan_step:
            xb[0, 0] = float("nan")
        hooks.set_loss(loss := torch.nn.functional.mse_loss(model(xb), y))
        loss.backward()
        if step == spike_step:
            for p in model.parameters():
                p.grad.mul_(50.0)
        grads = [p.grad.clone() for p in model.parameters()]  # before the clip
        if clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=max_norm)
        torch._foreach_norm = counting
        try:
            opt.step()
        finally:
            torch._foreach_norm = original
        rows.append(_norm(grads))
        opt.zero_grad()
    values = hooks.guard._values[:steps, 1].clone()
    hooks.close()
    return hooks, len(own), values, torch.stack(rows)


def test_the_guard_reuses_the_clip_norm_and_records_the_norm_before_the_clip():
    _, own, values, expected = _train(clip=True)
    assert own == 0  # no second pass over the gradients
    assert torch.allclose(values, expected, rtol=1e-5)  # the trainer's total, not the clipped 0.05
    assert float(values.min()) > 0.05 * 1.5  # every step was clipped, none reads the max_norm
    _, own, values, expected = _train(clip=False)
    assert own == 8  # without a clip the guard takes the norm itself
    assert torch.allclose(values, expected, rtol=1e-5)


_SPIKE = GuardConfig(check_every=100)


@pytest.mark.parametrize("clip", [True, False], ids=["clipped", "no-clip"])
def test_a_gradient_spike_behind_the_trainers_clip_is_a_grad_spike(clip):
    """Every step is clipped to max_norm (the clipped norm is flat); a x50 gradient shows in the pre-clip total."""
    hooks, own, values, expected = _train(clip=clip, steps=24, max_norm=0.05, spike_step=16, config=_SPIKE)
    assert own == (0 if clip else 24)
    assert torch.allclose(values, expected, rtol=1e-5)
    events = [e for e in hooks.guard.events if e.signal == "grad-spike"]
    assert [e.step for e in events] == [16]
    assert events[0].value == pytest.approx(float(expected[16]), rel=1e-5)
    assert events[0].value > 0.05 * 40  # the norm before the clip, not max_norm
    assert ("before the trainer's clip" in events[0].message) is clip
    assert hooks.skipped_steps == []


def test_before_the_change_the_clipped_norm_hid_the_spike():
    """The same run judged on the clipped norms (what the window held before): no grad-spike."""
    from lrguard.guard.core import GuardCore

    _, _, values, _ = _train(clip=True, steps=24, max_norm=0.05, spike_step=16, config=_SPIKE)
    core = GuardCore(_SPIKE)
    clipped = values * torch.clamp(0.05 / (values + 1e-6), max=1.0)
    assert float(clipped.max() - clipped.min()) < 1e-6
    assert not [d for i, v in enumerate(clipped.tolist()) for d in core.observe(i, grad_norm=v)]
    core = GuardCore(_SPIKE)
    found = [d.event.step for i, v in enumerate(values.tolist()) for d in core.observe(i, grad_norm=v)]
    assert found == [16]


def test_an_inf_gradient_behind_the_clip_is_skipped_bit_exactly():
    """inf before the clip: the clipped gradients hold a NaN; the step is skipped, the weights unchanged."""
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
    hooks = attach(opt, config=GuardConfig(check_every=100), console=None)
    x, y = _data()
    try:
        for step in range(4):
            hooks.set_loss(loss := torch.nn.functional.mse_loss(model(x), y))
            loss.backward()
            if step == 2:
                model[0].weight.grad[0, 0] = float("inf")
                before = [t.clone() for t in model.parameters()]
                state = [v.clone() for s in opt.state.values() for v in s.values() if torch.is_tensor(v)]
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.05)
            opt.step()
            if step == 2:
                assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
                after = [v for s in opt.state.values() for v in s.values() if torch.is_tensor(v)]
                assert all(torch.equal(a, b) for a, b in zip(state, after, strict=True))
            opt.zero_grad()
        values = hooks.guard._values[:4].clone()
    finally:
        hooks.close()
    assert hooks.skipped_steps == [2]
    assert values[2, 1] == float("inf") and values[2, 2] == 0.0  # the pre-clip total, and the flag
    assert bool(torch.isfinite(values[[0, 1, 3], 1]).all()) and bool((values[[0, 1, 3], 2] == 1.0).all())
    [event] = [e for e in hooks.guard.events if e.signal == "nonfinite"]
    assert event.step == 2 and event.message.startswith("grad norm inf")


def test_a_nan_step_after_a_clip_is_skipped():
    hooks, own, _, _ = _train(clip=True, nan_step=5)
    assert hooks.skipped_steps == [5]
    assert own == 0


def test_uninstall_puts_the_original_back_and_install_is_idempotent():
    wrapped = torch.nn.utils.clip_grad_norm_
    original = wrapped._lrguard_original
    clipnorm_adapter.install()
    assert torch.nn.utils.clip_grad_norm_ is wrapped
    clipnorm_adapter.uninstall()
    try:
        assert torch.nn.utils.clip_grad_norm_ is original
        model = _model()
        grads = _backward(model)
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        assert clipnorm_adapter.take(grads) is None  # nothing recorded without the wrapper
    finally:
        clipnorm_adapter.install()
