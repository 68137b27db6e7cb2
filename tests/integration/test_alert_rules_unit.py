"""The alert rules' own unit tests (deploy/prometheus/tests/), run by the real promtool: every
threshold from both sides, and the guide's split of pages and tickets."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def test_promtool_rule_tests_pass() -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: run scripts/ensure-services.sh"
    tests = sorted(str(p) for p in (DEPLOY / "tests").glob("*.yml"))
    assert tests
    run = subprocess.run(
        [promtool, "test", "rules", *tests], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout + run.stderr
