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
    known = clipnorm_adapter.take(list(reversed(grads)))  # the order does not matter
    assert known is not None and known.dtype == torch.float32
    assert torch.allclose(known, _norm(grads), rtol=1e-5)
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
    known = clipnorm_adapter.take(grads)
    assert known is not None and not torch.isfinite(known)
    grads = _backward(model)
    grads[0][0, 0] = float("inf")
    torch.nn.utils.clip_grad_norm_(iter(model.parameters()), max_norm=10.0)  # an iterator, as trainers pass
    known = clipnorm_adapter.take(grads)
    assert known is not None and not torch.isfinite(known)


def _train(clip, steps=8, nan_step=None):
    """A clip + step loop through the hooks; returns the guard and how often it took the norm itself."""
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
    hooks = attach(opt, config=GuardConfig(check_every=100), console=None)
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
        if clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.05)
        grads = [p.grad.clone() for p in model.parameters()]
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


def test_the_guard_reuses_the_clip_norm_and_records_the_same_value():
    _, own, values, expected = _train(clip=True)
    assert own == 0  # no second pass over the gradients
    assert torch.allclose(values, expected, rtol=1e-5)
    assert float(values.max()) == pytest.approx(0.05, rel=1e-3)
    _, own, values, expected = _train(clip=False)
    assert own == 8  # without a clip the guard takes the norm itself
    assert torch.allclose(values, expected, rtol=1e-5)


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
