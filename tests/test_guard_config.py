"""GuardConfig: defaults that need no configuration, and one clear line for every bad value."""

from __future__ import annotations

import pytest

from lrguard.guard.config import GuardConfig
from lrguard.signals.spike import LIVE_RULE, SpikeRule


def test_defaults():
    c = GuardConfig()
    assert c.policy == "warn"
    assert c.action("nonfinite") == "skip"
    assert c.action("loss-spike") == c.action("grad-spike") == "log"
    assert c.action("lr-off-plan") == "log"
    assert c.check_every >= 1 and not c.strict
    assert c.spike == LIVE_RULE and c.spike != SpikeRule()  # measured for live use, not the diagnosis rule


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"policy": "resume"}, "guard policy 'resume'"),
        ({"actions": {"nan": "skip"}}, "guard signal 'nan'"),
        ({"actions": {"nonfinite": "explode"}}, "guard action 'explode'"),
        ({"actions": {"nonfinite": "lower-lr"}}, "does not apply to nonfinite"),
        ({"actions": {"nonfinite": "rollback"}}, "does not apply to nonfinite"),
        ({"rollback_patience": 0}, "rollback_patience"),
        ({"max_rollbacks": -1}, "max_rollbacks"),
        ({"actions": {"grad-spike": "skip"}}, "check_every=1"),
        ({"check_every": 0}, "check_every"),
        ({"lr_rel_tol": -1}, "lr_rel_tol"),
        ({"lower_lr_factor": 2.0}, "below 1"),
        ({"lower_lr_steps": 0}, "lower_lr_steps"),
    ],
)
def test_bad_config_is_one_clear_line(kwargs, fragment):
    with pytest.raises(ValueError, match=None) as info:
        GuardConfig(**kwargs)
    message = str(info.value)
    assert fragment in message and "\n" not in message


def test_spike_skip_allowed_with_a_sync_per_step():
    assert GuardConfig(actions={"grad-spike": "skip"}, check_every=1).action("grad-spike") == "skip"


def test_from_dict():
    c = GuardConfig.from_dict({"policy": "stop", "spike": {"window": 16}, "actions": {"loss-spike": "stop"}})
    assert c.policy == "stop" and c.spike.window == 16 and c.action("loss-spike") == "stop"
    with pytest.raises(ValueError, match="guard config key 'polcy'"):
        GuardConfig.from_dict({"polcy": "stop"})
    with pytest.raises(ValueError, match="guard spike"):
        GuardConfig.from_dict({"spike": {"windows": 3}})
