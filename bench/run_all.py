"""Every benchmark, one after another: ``python -m bench.run_all`` (``make bench``).

Each benchmark runs in its own process, so one's imports and caches never flatter another's
figures (the memory benchmark above all). ``--json PATH`` writes every benchmark's figures to one
file instead of printing the tables.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

BENCHMARKS: list[tuple[str, list[str]]] = [
    ("bench.bench_startup", []),
    ("bench.bench_diagnosis", []),
    ("bench.bench_memory", []),
    ("bench.bench_evals", []),
    ("bench.bench_intake", []),
    ("bench.bench_slack", []),
]


def run_one(module: str, extra: list[str], as_json: bool) -> tuple[int, float, object]:
    """Run one benchmark module; its figures when ``as_json``, else its output goes to ours."""
    command = [sys.executable, "-m", module, *extra, *(["--json"] if as_json else [])]
    started = time.perf_counter()
    if as_json:
        done = subprocess.run(command, capture_output=True, text=True)
        figures: object = None
        if done.returncode == 0:
            figures = json.loads(done.stdout.strip().splitlines()[-1])
        else:
            sys.stderr.write(done.stderr)
        return done.returncode, time.perf_counter() - started, figures
    code = subprocess.run(command).returncode
    return code, time.perf_counter() - started, None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", type=Path, metavar="PATH", help="write all figures here")
    parser.add_argument("--only", action="append", help="only this module (repeatable)")
    args = parser.parse_args()

    chosen = [(m, x) for m, x in BENCHMARKS if not args.only or m in args.only]
    results: dict[str, object] = {}
    failed: list[str] = []
    for module, extra in chosen:
        print(f"== {module}", flush=True)
        code, elapsed, figures = run_one(module, extra, args.json is not None)
        print(f"== {module}: exit {code} after {elapsed:.1f} s\n", flush=True)
        if code != 0:
            failed.append(module)
        results[module] = figures
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"figures written to {args.json}")
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
