"""Run the security corpus through lrguard, picklescan, fickling and torch.load(weights_only=True).

Usage::

    python bench/compare_scanners.py [--scanner-python PY] [--realruns DIR] [--json OUT]

The corpus is the test corpus (``tests/_pickle_attacks.py``: hand-made attacks, benign pickles;
``tests/_benign_torch.py``: benign files written by real torch and Lightning when torch is installed)
plus every ``*.pt`` under ``--realruns`` (real YOLOv5 / Ultralytics checkpoints). picklescan and
fickling are never project dependencies: install them into a separate virtual environment and pass its
interpreter as ``--scanner-python`` (default: ``$LRGUARD_SCANNER_PYTHON``). A tool that is not
importable is reported as such. ``weights_only`` needs torch in this interpreter; it counts as flagging
a file when it refuses to load it. Each scanner runs in its own process; at the end the script checks
that no payload ran (each one would create a marker file) and prints the table for the README.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

WORKER = r"""
import json, sys
tool, paths = sys.argv[1], json.load(open(sys.argv[2]))
out = {}
if tool == "picklescan":
    from picklescan.scanner import scan_file_path
    for p in paths:
        try:
            r = scan_file_path(p)
            out[p] = "flagged" if (r.issues_count or r.infected_files) else ("error" if r.scan_err else "clean")
        except Exception as exc:
            out[p] = "error"
elif tool == "fickling":
    import fickling
    for p in paths:
        try:
            r = fickling.scan_file(p, graceful=True)
            out[p] = "clean" if r.severity.name == "LIKELY_SAFE" else "flagged"
        except Exception:
            out[p] = "error"
elif tool == "weights_only":
    import os, warnings
    warnings.simplefilter("ignore")
    import torch
    for p in paths:
        try:
            torch.load(p, weights_only=True, map_location="cpu")
            out[p] = "clean"
        except Exception:
            out[p] = "flagged"
print(json.dumps(out))
"""


def build_corpus(root: Path, realruns: Path | None) -> tuple[Path, dict[str, Path], dict[str, Path]]:
    import _pickle_attacks as A

    marker = root / "PWNED"
    mal = {k: v.path for k, v in A.write_malicious(root / "malicious", marker).items()}
    ben = dict(A.write_benign(root / "benign"))
    try:
        from _benign_torch import write_torch_benign

        ben.update({f"torch/{k}": v for k, v in write_torch_benign(root / "torch").items()})
    except ImportError:
        print("torch not importable: no real-torch benign files", file=sys.stderr)
    if realruns and realruns.is_dir():
        ben.update({f"realruns/{p.relative_to(realruns)}": p for p in sorted(realruns.rglob("*.pt"))})
    return marker, mal, ben


def run_tool(tool: str, python: str, paths: list[Path]) -> dict[str, str] | None:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump([str(p) for p in paths if p.is_file()], fh)
    proc = subprocess.run([python, "-c", WORKER, tool, fh.name], capture_output=True, text=True, timeout=3600)
    os.unlink(fh.name)
    if proc.returncode != 0:
        print(f"{tool}: not run ({proc.stderr.strip().splitlines()[-1:] or ['?']})", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def lrguard_verdicts(paths: list[Path]) -> dict[str, str]:
    from lrguard.checkpoint.scan import scan_path
    from lrguard.errors import InputError

    out = {}
    for p in paths:
        try:
            out[str(p)] = "clean" if scan_path(p).verdict == "safe" else "flagged"
        except InputError:
            out[str(p)] = "error"
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scanner-python", default=os.environ.get("LRGUARD_SCANNER_PYTHON"))
    ap.add_argument("--realruns", type=Path, default=os.environ.get("LRGUARD_REALRUNS_CACHE"))
    ap.add_argument("--json", type=Path, help="write per-file results here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        marker, mal, ben = build_corpus(Path(tmp), Path(args.realruns) if args.realruns else None)
        # directories (HF checkpoints) are scanned file by file by the other tools: compare files only
        mal_files = [p for p in mal.values() if p.is_file()]
        ben_files = [p for p in ben.values() if p.is_file()]
        everything = mal_files + ben_files
        results: dict[str, dict[str, str] | None] = {"lrguard": lrguard_verdicts(everything)}
        for tool in ("picklescan", "fickling"):
            results[tool] = run_tool(tool, args.scanner_python, everything) if args.scanner_python else None
        results["weights_only"] = run_tool("weights_only", sys.executable, everything)
        ran = marker.exists()
        rows = []
        for tool, res in results.items():
            if res is None:
                rows.append((tool, "not available", "", "", ""))
                continue
            caught = sum(res.get(str(p)) == "flagged" for p in mal_files)
            errors = sum(res.get(str(p)) == "error" for p in mal_files)
            false = sum(res.get(str(p)) == "flagged" for p in ben_files)
            missed = [k for k, p in mal.items() if p.is_file() and res.get(str(p)) != "flagged"]
            rows.append(
                (tool, f"{caught}/{len(mal_files)}", str(errors), f"{false}/{len(ben_files)}", ", ".join(missed[:6]))
            )
        print("| tool | malicious flagged | malicious errors (no verdict) | benign flagged | first misses |")
        print("|---|---|---|---|---|")
        for r in rows:
            print("| " + " | ".join(r) + " |")
        print(f"\npayload executions observed: {int(ran)}")
        if args.json:
            args.json.write_text(
                json.dumps({"malicious": {k: str(v) for k, v in mal.items()}, "results": results}, indent=1)
            )
    return 1 if ran else 0


if __name__ == "__main__":
    raise SystemExit(main())
