"""Every run of the wild corpus (runs real users committed to public repositories) gets its expected causes.

The corpus lives outside the repository, at ``../shared/realruns-wild`` from the repo root; each run has an
``expected.json`` judged by reading its LR columns row by row (see that folder's README). For every run:

- the causes named at warning or above (``got``) contain every id in ``causes``, one of ``causes_any``
  when given, and nothing outside ``causes | causes_any | allowed_extra``; a clean run gets no cause
  outside ``allowed_extra``;
- where ``first_jump_line`` is given, the first warning whose cause is one of the expected ones points at
  that line: the first row whose LR rose.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lrguard.diagnosis import diagnose
from lrguard.model import Severity
from lrguard.readers import read_run
from lrguard.reports.jsonreport import finding_dict

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "realruns-wild"
RUNS = sorted(p.name for p in CORPUS.iterdir() if (p / "expected.json").is_file()) if CORPUS.is_dir() else []

pytestmark = pytest.mark.skipif(
    not RUNS, reason=f"the wild corpus is not at {CORPUS.name} beside the repository (../shared/realruns-wild)"
)


def check_run(run_dir: Path) -> list[str]:
    """The ways the diagnosis of ``run_dir`` departs from its expected.json (empty when it matches)."""
    expected = json.loads((run_dir / "expected.json").read_text())
    diagnosis = diagnose(read_run(run_dir))
    lines = diagnosis.run.table.line_numbers
    flagged = [finding_dict(f, lines) for f in diagnosis.findings if f.severity.rank >= Severity.WARNING.rank]
    got = {f["cause"] for f in flagged}
    need = set(expected.get("causes", []))
    anyof = set(expected.get("causes_any", []))
    allowed = need | anyof | set(expected.get("allowed_extra", []))
    problems = []
    if got - allowed:
        problems.append(f"unexpected causes {sorted(got - allowed)}")
    if not expected.get("clean"):
        if not need <= got:
            problems.append(f"missing causes {sorted(need - got)}")
        if anyof and not anyof & got:
            problems.append(f"none of {sorted(anyof)}")
    jump = expected.get("first_jump_line")
    if jump is not None:
        lines_of = [f["line"] for f in flagged if f["cause"] in need | anyof and f["line"] is not None]
        if not lines_of or min(lines_of) != jump:
            problems.append(f"first expected finding at line {min(lines_of) if lines_of else None}, expected {jump}")
    return problems


@pytest.mark.parametrize("name", RUNS)
def test_wild_run_gets_its_expected_causes(name: str) -> None:
    assert check_run(CORPUS / name) == []


def test_wild_corpus_is_complete() -> None:
    # The README promises 52 runs; a partial copy would make the parametrised test pass vacuously.
    assert len(RUNS) == 52
