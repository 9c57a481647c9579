"""Launch a test script on two CPU ranks with torchrun, retrying once when gloo's teardown aborts a rank."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"


def torchrun_two_ranks(script: Path, work: Path, *args: str, timeout: float = 240) -> Path:
    """Run ``script OUT_DIR *args`` under ``torchrun --standalone --nproc-per-node 2``; return OUT_DIR.

    gloo's teardown at process exit sometimes aborts a rank after training finished (with or without
    the guard): a failed launch is retried once in a fresh directory. Raises AssertionError with the
    tail of stderr when both launches fail.
    """
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), env.get("PYTHONPATH", "")) if p)
    stderr = ""
    for attempt in range(2):
        out = work / f"try{attempt}"
        out.mkdir(parents=True)
        # --standalone: torchrun picks its own free port
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
        cmd += [str(script), str(out), *args]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=out)
        if proc.returncode == 0:
            return out
        stderr = proc.stderr
    raise AssertionError(stderr[-3000:])
