"""``model-incident diagnose`` as a person runs it: a real process, its exit code, its output and
the rows it leaves in the database."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

REGRESSION = "performance.new_version_regression"
ENDPOINT = "sentiment-endpoint"


def run_cli(tmp_path: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "STATE_DIR": str(tmp_path / "state"),
        "APPROVERS": json.dumps(["alice"]),
        "DATABASE_URL": "",
        "PLATFORM": "sandbox",
    }
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def rows(tmp_path: Path, query: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(tmp_path / "state" / "bot.db") as db:
        return db.execute(query).fetchall()


def test_empty_target_is_a_one_line_error_with_exit_2_before_anything_starts(
    tmp_path: Path,
) -> None:
    done = run_cli(tmp_path, "diagnose", "")
    assert done.returncode == 2, done
    assert done.stderr.strip().splitlines() == ["error: TARGET: empty"]
    assert "Traceback" not in done.stdout + done.stderr
    assert not (tmp_path / "state").exists(), "nothing may start for bad input"


def test_overlong_target_names_the_limit(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "diagnose", "x" * 10_000)
    assert done.returncode == 2, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "at most 200 characters" in lines[0], lines
    assert not (tmp_path / "state").exists()


def test_a_refused_approver_is_recorded_once_and_the_cli_exits_3(tmp_path: Path) -> None:
    """The attack: ``--approve-as`` someone who may not approve. The answer used to be re-sent
    without end (hundreds of rejection rows a minute)."""
    done = run_cli(
        tmp_path,
        "diagnose",
        ENDPOINT,
        "--fault",
        f"{REGRESSION}:{ENDPOINT}",
        "--approve-as",
        "mallory",
    )
    assert done.returncode == 3, done.stdout + done.stderr
    assert "mallory may not approve" in done.stdout
    refusals = rows(tmp_path, "SELECT kind, actor FROM audit WHERE actor = 'mallory'")
    assert refusals == [("rejection", "mallory")]
    assert rows(tmp_path, "SELECT status FROM proposals") == [("pending",)]
    assert rows(tmp_path, "SELECT COUNT(*) FROM ledger") == [(0,)]


def test_dry_run_shows_every_proposal_and_changes_nothing(tmp_path: Path) -> None:
    done = run_cli(
        tmp_path, "diagnose", ENDPOINT, "--fault", f"{REGRESSION}:{ENDPOINT}", "--dry-run"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "--dry-run: nothing is executed" in done.stdout
    assert rows(tmp_path, "SELECT COUNT(*) FROM ledger") == [(0,)]
    statuses = rows(tmp_path, "SELECT DISTINCT status FROM proposals")
    assert statuses == [("rejected",)], statuses
