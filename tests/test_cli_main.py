"""The top-level CLI: lazy sub-commands, --version, --help and usage errors."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lrguard import __version__
from lrguard.cli.main import SUBCOMMANDS, build_parser, main

SRC = Path(__file__).resolve().parents[1] / "src"


def _loaded_after(argv: list[str]) -> list[str]:
    """Run main(argv) in a fresh interpreter; return the lrguard modules it imported."""
    code = (
        "import contextlib, io, json, sys\n"
        "from lrguard.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        "    try:\n"
        f"        main({argv!r})\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('lrguard') or m in ('numpy', 'yaml', 'rich'))))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_version_imports_no_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"lrguard {__version__}"
    assert _loaded_after(["--version"]) == ["lrguard", "lrguard.cli", "lrguard.cli.main"]


@pytest.mark.parametrize("argv", [["--help"], [], ["no-such-command"]])
def test_help_and_usage_errors_import_no_subcommand(argv: list[str]) -> None:
    assert _loaded_after(argv) == ["lrguard", "lrguard.cli", "lrguard.cli.main"]


def test_chosen_subcommand_imports_only_its_module() -> None:
    loaded = _loaded_after(["plan", "--help"])
    assert "lrguard.cli.plan" in loaded
    assert not {"lrguard.cli.diagnose", "lrguard.cli.ckpt", "lrguard.cli.watch", "lrguard.cli.continue_"} & set(loaded)


def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name, (_, summary) in SUBCOMMANDS.items():
        assert name in out and summary.split()[0] in out


def test_unknown_command_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "invalid choice: 'frobnicate'" in err


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


@pytest.mark.parametrize("name", list(SUBCOMMANDS))
def test_table_matches_each_modules_own_parser(name: str) -> None:
    """The help line shown without importing a module is the one the module registers itself."""
    module_name, summary = SUBCOMMANDS[name]
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    importlib.import_module(f"lrguard.cli.{module_name}").add_parser(sub)
    [action] = [a for a in sub._choices_actions if a.dest == name]
    assert action.help == summary
    full = build_parser(name)
    args = full.parse_args(_minimal_argv(name))
    assert callable(args.handler)


def _minimal_argv(name: str) -> list[str]:
    return {
        "diagnose": ["diagnose", "run"],
        "ckpt": ["ckpt", "show", "x.pt"],
        "plan": ["plan", "epochs=10"],
        "continue": ["continue", "run", "--epochs", "5"],
        "watch": ["watch", "run"],
        "export": ["export", "run"],
        "run": ["run", "--", "python", "train.py"],
    }[name]
