"""``lrguard run``'s guard options: ``--guard-config FILE``, ``--action SIGNAL=ACTION``, ``--check-every N``.

The result is a :meth:`~lrguard.guard.config.GuardConfig.from_dict` mapping for the injected guard,
checked before the training command runs: a bad option or file is one :class:`~lrguard.errors.LrguardError`
line (exit code 2). This module never imports torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lrguard.errors import LrguardError
from lrguard.guard.config import ACTIONS, SIGNALS, GuardConfig

#: What ``--check-every`` is when neither the command line nor ``--guard-config`` sets it.
DEFAULT_CHECK_EVERY = 50


def parse_action(text: str) -> tuple[str, str]:
    """``"SIGNAL=ACTION"`` -> ``(signal, action)``, both names as :class:`GuardConfig` defines them.

    Raises:
        LrguardError: Not of that form, or an unknown signal or action (one line naming ``--action``).
    """
    signal, sep, action = text.partition("=")
    signal, action = signal.strip(), action.strip()
    if not sep or not signal or not action:
        raise LrguardError(None, f"run: --action {text!r}: expected SIGNAL=ACTION, e.g. nonfinite=stop")
    if signal not in SIGNALS:
        raise LrguardError(
            None, f"run: --action {text!r}: unknown signal {signal!r}: expected one of {', '.join(SIGNALS)}"
        )
    if action not in ACTIONS:
        raise LrguardError(
            None, f"run: --action {text!r}: unknown action {action!r}: expected one of {', '.join(ACTIONS)}"
        )
    return signal, action


def guard_settings(
    config_file: str | None, actions: list[str] | None, check_every: int | None
) -> tuple[dict[str, Any], GuardConfig]:
    """The injected guard's configuration: ``config_file``'s mapping, then the command line's options over it.

    Args:
        config_file: A YAML or JSON file holding a mapping of :class:`GuardConfig` fields (``None``: none).
        actions: ``--action`` values (``SIGNAL=ACTION``); each overrides the file's action for that signal.
        check_every: ``--check-every`` (``None``: the file's, else :data:`DEFAULT_CHECK_EVERY`).

    Returns:
        The plain mapping (what travels to the training process) and the validated configuration.

    Raises:
        LrguardError: An unreadable file, a bad option or a configuration the guard refuses (one line
            naming the file or the option).
    """
    raw: dict[str, Any] = {}
    if config_file is not None:
        from lrguard.readers.yamlfile import load_yaml_mapping

        raw = load_yaml_mapping(Path(config_file))
        if not all(isinstance(k, str) for k in raw):
            raise LrguardError(config_file, "expected a mapping of guard settings with text keys")
        if "actions" in raw and not isinstance(raw["actions"], dict):
            raise LrguardError(
                config_file, f"actions: expected a mapping of signal: action, found {type(raw['actions']).__name__}"
            )
        if "policy" in raw:
            raise LrguardError(config_file, "policy: the resume policy of lrguard run is its --policy option")
    merged = dict(raw)
    cli_actions = dict(parse_action(a) for a in actions or [])
    if cli_actions:
        merged["actions"] = {**(raw.get("actions") or {}), **cli_actions}
    if check_every is not None:
        if isinstance(check_every, bool) or not isinstance(check_every, int) or check_every < 1:
            raise LrguardError(None, f"run: --check-every {check_every}: expected a whole number >= 1")
        merged["check_every"] = check_every
    merged.setdefault("check_every", DEFAULT_CHECK_EVERY)
    try:
        config = GuardConfig.from_dict(merged)
    except (ValueError, TypeError) as exc:
        problem = _problem(raw) if config_file is not None else None
        if problem is not None:
            raise LrguardError(config_file, problem) from None  # the file alone is wrong
        where = " and ".join(
            w
            for w, given in (
                ("--action", bool(cli_actions)),
                ("--check-every", check_every is not None),
                (f"--guard-config {config_file}", config_file is not None),
            )
            if given
        )
        raise LrguardError(None, f"run: {where or 'guard settings'}: {exc}") from None
    return merged, config


def _problem(raw: dict[str, Any]) -> str | None:
    """Why ``raw`` alone (the file, with the default ``check_every``) is not a valid configuration, or ``None``."""
    try:
        GuardConfig.from_dict({"check_every": DEFAULT_CHECK_EVERY, **raw})
    except (ValueError, TypeError) as exc:
        return str(exc)
    return None
