"""``lrguard run``'s guard options (lrguard.cli.guard_options): the file, --action over it, one-line errors."""

from __future__ import annotations

import json

import pytest

from lrguard.cli.guard_options import DEFAULT_CHECK_EVERY, guard_settings, parse_action
from lrguard.cli.main import main
from lrguard.errors import LrguardError


def test_an_action_is_signal_equals_action():
    assert parse_action("loss-spike=rollback") == ("loss-spike", "rollback")
    assert parse_action(" nonfinite = stop ") == ("nonfinite", "stop")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("nonfinite", "expected SIGNAL=ACTION"),
        ("=stop", "expected SIGNAL=ACTION"),
        ("nan=stop", "unknown signal 'nan': expected one of nonfinite, loss-spike, grad-spike, lr-off-plan"),
        ("nonfinite=halt", "unknown action 'halt'"),
    ],
)
def test_a_bad_action_is_one_line_naming_the_option(text, problem):
    with pytest.raises(LrguardError) as info:
        parse_action(text)
    line = info.value.one_line()
    assert line.startswith(f"run: --action {text!r}") and problem in line and "\n" not in line


def test_without_options_the_guard_has_its_defaults():
    raw, config = guard_settings(None, None, None)
    assert raw == {"check_every": DEFAULT_CHECK_EVERY} and config.actions == {} and config.check_every == 50


def test_the_command_line_overrides_the_file_per_signal_and_for_check_every(tmp_path):
    path = tmp_path / "guard.yaml"
    path.write_text(
        "actions:\n  nonfinite: stop\n  loss-spike: lower-lr\ncheck_every: 10\nlower_lr_factor: 0.5\n"
        "spike: {window: 20}\n",
        encoding="utf-8",
    )
    raw, config = guard_settings(str(path), ["loss-spike=rollback"], 4)
    assert config.actions == {"nonfinite": "stop", "loss-spike": "rollback"}
    assert (config.check_every, config.lower_lr_factor, config.spike.window) == (4, 0.5, 20)
    assert json.loads(json.dumps(raw)) == raw  # what travels to the training process, as JSON
    _, from_file = guard_settings(str(path), None, None)
    assert from_file.actions["loss-spike"] == "lower-lr" and from_file.check_every == 10


def test_a_json_file_is_read_too(tmp_path):
    path = tmp_path / "guard.json"
    path.write_text(json.dumps({"actions": {"grad-spike": "clip"}, "check_every": 1, "clip_norm": 5}))
    _, config = guard_settings(str(path), None, None)
    assert config.action("grad-spike") == "clip" and config.clip_norm == 5


def test_the_command_line_can_make_a_file_valid(tmp_path):
    path = tmp_path / "guard.yaml"
    path.write_text("actions: {grad-spike: clip}\n")  # clip needs check_every 1
    _, config = guard_settings(str(path), None, 1)
    assert config.check_every == 1


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("check_evry: 3\n", "guard config key 'check_evry': expected one of"),
        ("actions: [stop]\n", "actions: expected a mapping of signal: action, found list"),
        ("actions: {nonfinite: lower-lr}\n", "guard action 'lower-lr' does not apply to nonfinite"),
        ("clip_norm: -1\n", "guard clip_norm -1: expected a number > 0"),
        ("policy: stop\n", "policy: the resume policy of lrguard run is its --policy option"),
        ("- 1\n- 2\n", "expected a YAML mapping, found list"),
        ("actions: {a: [\n", "YAML does not parse"),
    ],
)
def test_a_bad_file_is_one_line_naming_the_file(tmp_path, text, problem):
    path = tmp_path / "guard.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LrguardError) as info:
        guard_settings(str(path), None, None)
    line = info.value.one_line()
    assert line.startswith(f"{path}: ") and problem in line and "\n" not in line, line


def test_a_conflict_of_options_names_the_options():
    with pytest.raises(LrguardError, match=r"^run: --action and --check-every: guard action 'clip' for loss-spike"):
        guard_settings(None, ["loss-spike=clip"], 5)
    with pytest.raises(LrguardError, match=r"^run: --check-every 0: expected a whole number >= 1"):
        guard_settings(None, None, 0)


def test_the_help_explains_the_options_with_an_example(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--action SIGNAL=ACTION" in text and "--guard-config FILE" in text
    assert "lrguard run --action nonfinite=stop --action loss-spike=lower-lr -- python train.py" in text
    assert "exit code 3" in text


def test_a_bad_option_is_exit_code_2_before_the_command_runs(tmp_path, capsys):
    marker = tmp_path / "ran"
    code = main(["run", "--action", "nonfinite=halt", "--", "python", "-c", f"open({str(marker)!r}, 'w')"])
    assert code == 2 and not marker.exists()
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("lrguard: run: --action 'nonfinite=halt': unknown action")


def test_the_training_process_stops_with_lrguard_runs_stop_code():
    from lrguard.cli.run import EXIT_STOPPED
    from lrguard.guard import zero_code

    assert zero_code.EXIT_STOPPED == EXIT_STOPPED == 3 and zero_code.EXIT_REFUSED == 2
