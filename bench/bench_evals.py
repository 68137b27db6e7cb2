"""Time the whole public eval set in deterministic mode: ``python -m bench.bench_evals``.

The issue's budget is 60 s for the public set on a 2-core machine; this prints scenarios/s and the
total, plus the slowest scenarios so a regression has a name.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from evals.metrics import aggregate
from evals.runner import PUBLIC_SCENARIOS, load_all, run_all

BUDGET_S = 60.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", action="store_true", help="print one JSON line instead")
    args = parser.parse_args()

    started = time.perf_counter()
    loaded, errors = load_all([PUBLIC_SCENARIOS])
    if errors:
        raise SystemExit("\n".join(str(e) for e in errors))
    load_s = time.perf_counter() - started
    results = run_all(loaded, workers=args.workers)
    total = time.perf_counter() - started
    row = {
        "bench": "evals_public_set",
        "scenarios": len(results),
        "workers": args.workers,
        "cpus": os.cpu_count(),
        "load_s": round(load_s, 2),
        "total_s": round(total, 2),
        "scenarios_per_s": round(len(results) / total, 2),
        "budget_s": BUDGET_S,
        "within_budget": total <= BUDGET_S,
        "passed": aggregate(results)["passed"],
    }
    if args.json:
        print(json.dumps(row))
        return
    print(f"{row['scenarios']} scenarios on {args.workers} workers ({os.cpu_count()} CPUs)")
    print(f"load + validate: {load_s:.2f} s")
    print(f"total: {total:.2f} s ({row['scenarios_per_s']} scenarios/s; budget {BUDGET_S:.0f} s)")
    slowest = sorted(results, key=lambda r: r.duration_s, reverse=True)[:5]
    for r in slowest:
        print(f"  {r.duration_s:6.2f} s  {r.id}")


if __name__ == "__main__":
    main()
