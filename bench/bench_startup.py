"""Start-up cost of the CLI, as a person pays it: ``python -m bench.bench_startup``.

Each figure is the wall time of a fresh ``model-incident`` process, from spawn to exit:

- ``help``: ``model-incident --help``, which should import nothing but the command-line layer;
- ``diagnose``: ``model-incident diagnose qa_agent --dry-run`` on the embedded sandbox, in one
  state directory: imports, the sandbox and its MLflow registry, the store, the diagnosis itself.
  The first run in a fresh state directory (which fills the seeded-registry and bytecode
  caches) is reported apart from the runs after it;
- ``python``: ``python -c pass``, the interpreter's own start, the floor under both.

Wall time is the target; the CPU time of each process (user + system) is printed next to it
because it hardly changes when other work shares the machine, while wall time does.

Processes run one after another with stdin closed, so a proposal is never waited on.

Every process reads and writes its bytecode in one cache of the benchmark's own
(``PYTHONPYCACHEPREFIX``), as an installed command does after its first run, even where the
environment says ``PYTHONDONTWRITEBYTECODE``: otherwise each start would compile every imported
module from source again (about 4 s of the diagnose run on this machine), which no installed bot
pays. The first ``--help`` and the first ``diagnose`` fill that cache; the first ``diagnose`` is
reported apart, ``--help``'s first run is not timed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.stats import percentile

HELP_TARGET_S = 0.5
DIAGNOSE_TARGET_S = 3.0
DIAGNOSE_TARGET = "qa_agent"


def cli_command() -> list[str]:
    """The installed entry point next to this interpreter, else the module itself."""
    script = Path(sys.executable).with_name("model-incident")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_run(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one process (CPU time barely moves when other work shares the
    machine, wall time does); a failing command stops the benchmark with its output."""
    cpu_before = _children_cpu_s()
    started = time.perf_counter()
    done = subprocess.run(command, env=env, stdin=subprocess.DEVNULL, capture_output=True)
    elapsed = time.perf_counter() - started
    cpu = _children_cpu_s() - cpu_before
    if done.returncode != 0:
        raise SystemExit(
            f"{' '.join(command)} exited {done.returncode}:\n"
            f"{done.stdout.decode()[-2000:]}\n{done.stderr.decode()[-2000:]}"
        )
    return elapsed, cpu


def figures(runs: list[tuple[float, float]], target_s: float | None = None) -> dict[str, object]:
    """Median, p95 and max wall time of ``runs`` (seconds), the median CPU time, and whether the
    wall p95 meets the target."""
    samples = [wall for wall, _ in runs]
    row: dict[str, object] = {
        "runs": len(samples),
        "p50_s": round(percentile(samples, 50), 3),
        "p95_s": round(percentile(samples, 95), 3),
        "max_s": round(max(samples), 3),
        "cpu_p50_s": round(percentile([cpu for _, cpu in runs], 50), 3),
    }
    if target_s is not None:
        row["target_s"] = target_s
        row["within_target"] = percentile(samples, 95) <= target_s
    return row


def measure(help_runs: int, diagnose_runs: int) -> dict[str, object]:
    """Every figure of the module docstring, in one fresh state directory."""
    state_dir = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    env = {
        **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
        "PYTHONPYCACHEPREFIX": str(state_dir / "pycache"),
        "STATE_DIR": str(state_dir),
        "PLATFORM": "sandbox",
        "LLM_MODE": "off",
    }
    cli = cli_command()
    try:
        floor = [timed_run([sys.executable, "-c", "pass"], env) for _ in range(help_runs)]
        timed_run([*cli, "--help"], env)  # fills the bytecode cache of the command line
        helps = [timed_run([*cli, "--help"], env) for _ in range(help_runs)]
        diagnose = [*cli, "diagnose", DIAGNOSE_TARGET, "--dry-run"]
        first = timed_run(diagnose, env)
        warm = [timed_run(diagnose, env) for _ in range(diagnose_runs)]
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)
    return {
        "bench": "cli_startup",
        "cpus": os.cpu_count(),
        "command": "model-incident" if len(cli) == 1 else "python -m bot.cli",
        "python": figures(floor),
        "help": figures(helps, HELP_TARGET_S),
        "diagnose_first_s": round(first[0], 3),
        "diagnose": figures(warm, DIAGNOSE_TARGET_S),
    }


def print_table(result: dict[str, object]) -> None:
    print(f"{result['command']} on {result['cpus']} CPUs, wall time per process")
    print(f"{'measure':40} {'runs':>5} {'p50 s':>7} {'p95 s':>7} {'max s':>7} {'cpu s':>7}  target")
    for key, label in [
        ("python", "python -c pass (interpreter floor)"),
        ("help", "--help"),
        ("diagnose", f"diagnose {DIAGNOSE_TARGET} --dry-run"),
    ]:
        row = result[key]
        assert isinstance(row, dict)
        target = ""
        if "target_s" in row:
            verdict = "met" if row["within_target"] else "MISSED"
            target = f"p95 <= {row['target_s']} s: {verdict}"
        print(
            f"{label:40} {row['runs']:>5} {row['p50_s']:>7} {row['p95_s']:>7} {row['max_s']:>7}"
            f" {row['cpu_p50_s']:>7}  {target}"
        )
    print(
        "diagnose, first run in a fresh state directory and bytecode cache: "
        f"{result['diagnose_first_s']} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--help-runs", type=int, default=10, help="runs of --help (default 10)")
    parser.add_argument("-n", "--runs", type=int, default=7, help="diagnose runs (default 7)")
    parser.add_argument("--json", action="store_true", help="print one JSON line instead")
    args = parser.parse_args()
    result = measure(args.help_runs, args.runs)
    if args.json:
        print(json.dumps(result))
        return
    print_table(result)


if __name__ == "__main__":
    main()
