"""Run ``lrguard`` in a forked child process, optionally as an unprivileged user.

Tests of unreadable input need a user that file permissions apply to: as root, ``chmod 000`` blocks
nothing. When the tests run as root, the child drops its effective user and group to ``nobody``
(``os.seteuid``; the saved user id stays root so that Python can still import its own modules from
folders only root may read, such as an interpreter installed under root's home). Every file access
the command itself makes is checked against ``nobody``'s permissions, as for a real user.

The child runs :func:`lrguard.cli.main.main` exactly as the console script does: an exception that
escapes it prints a traceback and exits 1, like Python would.
"""

from __future__ import annotations

import builtins
import importlib
import io
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

UNREACHABLE = 77  # the child cannot reach its working folder as the unprivileged user


@dataclass
class Result:
    """What the command did: exit code, stdout, stderr."""

    rc: int
    out: str
    err: str


def nobody_ids() -> tuple[int, int] | None:
    """``(uid, gid)`` of the unprivileged user, or ``None`` when there is none."""
    try:
        import pwd

        entry = pwd.getpwnam("nobody")
    except (ImportError, KeyError):
        return None
    return entry.pw_uid, entry.pw_gid


def permissions_testable() -> str | None:
    """``None`` when unreadable files can be tested here, else the reason they cannot."""
    if os.geteuid() != 0:
        return None
    if nobody_ids() is None:
        return "running as root and there is no 'nobody' user to drop privileges to"
    return None


def shared_tmpdir() -> Path:
    """A fresh temporary folder that an unprivileged user can enter (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="lrguard-cli-"))
    path.chmod(0o755)
    return path


def _drop_privileges(reach: Path) -> None:
    uid, gid = nobody_ids() or (65534, 65534)
    depth = [0]
    real_import = builtins.__import__
    real_import_module = importlib.import_module

    def as_root(fn):
        def wrapped(*args, **kwargs):
            if depth[0] == 0:
                os.seteuid(0)
            depth[0] += 1
            try:
                return fn(*args, **kwargs)
            finally:
                depth[0] -= 1
                if depth[0] == 0:
                    os.seteuid(uid)

        return wrapped

    builtins.__import__ = as_root(real_import)
    importlib.import_module = as_root(real_import_module)
    os.setgroups([])
    os.setegid(gid)
    os.seteuid(uid)
    try:
        os.listdir(reach)
    except OSError:
        os._exit(UNREACHABLE)


def run_cli(argv: Sequence[str], *, unprivileged: bool = False, cwd: Path | None = None, timeout: float = 60) -> Result:
    """Run ``lrguard argv`` in a child process and collect what it printed.

    Args:
        argv: Arguments after ``lrguard``.
        unprivileged: As root, run the command as ``nobody`` so file permissions apply.
        cwd: Working directory of the command (must be reachable by ``nobody`` when ``unprivileged``).
        timeout: Seconds before the child is killed (the test then fails: the command hung).
    """
    import lrguard.cli.main as cli_main

    for name in cli_main.SUBCOMMAND_MODULES:  # imported before any privilege change
        importlib.import_module(f"lrguard.cli.{name}")
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # child
            rc = 1
            try:
                os.dup2(out.fileno(), 1)
                os.dup2(err.fileno(), 2)
                sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), write_through=True)
                sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), write_through=True)
                if cwd is not None:
                    os.chdir(cwd)
                if unprivileged and os.geteuid() == 0:
                    _drop_privileges(Path.cwd())
                try:
                    rc = cli_main.main(list(argv))
                except SystemExit as exc:
                    rc = exc.code if isinstance(exc.code, int) else 1
                except BaseException:
                    traceback.print_exc()
                    rc = 1
            finally:
                try:
                    sys.stdout.flush()
                    sys.stderr.flush()
                finally:
                    os._exit(rc)
        deadline = time.monotonic() + timeout
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                raise AssertionError(f"lrguard {' '.join(argv)} did not finish within {timeout:g} s")
            time.sleep(0.02)
        rc = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Result(rc, out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"))
