"""Diagnosis latency per runbook leaf, deterministic mode: ``python -m bench.bench_diagnosis``.

For every sandbox fault: a fresh in-process sandbox (untimed), the fault injected (untimed), then
the agent timed from the trigger to its first proposal, or to the end when it proposes nothing.
``agent_ms`` is that span: every tool call, node and checkpoint write the agent makes. ``open_ms``
is opening the agent (SQLite store, checkpointer, graph compile, the registry's client), which a
running bot pays once, reported apart. Runbooks are parsed once, as in the bot. Rounds go over all
faults in turn so that machine noise spreads over every leaf instead of hitting one.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.stats import percentile, summary_ms
from bot.agent.types import Trigger
from bot.compose import open_app
from bot.runbooks.loader import RunbookSet, default_runbook_dir, load_runbooks
from bot.service.models import OpenRequest
from bot.settings import Settings
from sandbox.faults import FAULTS
from sandbox.registry import template_db
from sandbox.runtime import Sandbox

TARGET_P95_S = 1.0
APPROVER = "bench-approver"


@dataclass
class LeafTimes:
    """The timings of one fault over every round."""

    fault_id: str
    leaf: str
    agent_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)
    open_s: list[float] = field(default_factory=list)
    first: str = ""  # what the run stopped at: a proposal's tool or the final state

    def row(self) -> dict[str, object]:
        agent = summary_ms(self.agent_s)
        return {
            "fault": self.fault_id,
            "leaf": self.leaf,
            "runs": len(self.agent_s),
            **agent,
            "cpu_p50_ms": summary_ms(self.cpu_s)["p50_ms"],
            "open_p50_ms": summary_ms(self.open_s)["p50_ms"],
            "stopped_at": self.first,
            "within_target": agent["p95_ms"] <= TARGET_P95_S * 1000,
        }


def _target(fault_id: str) -> str:
    # A fleet-wide fault is reported by whoever sees one agent fail (as in the agent tests).
    target = FAULTS[fault_id].default_target
    return "qa_agent" if target == "*" else target


@dataclass
class OneRun:
    open_s: float
    agent_s: float
    cpu_s: float  # process CPU time in the agent span: wall minus this is waiting or preemption
    stopped: str


async def time_one(
    fault_id: str, runbooks: RunbookSet, workdir: Path, profiler: cProfile.Profile | None = None
) -> OneRun:
    """One fault once, from the trigger to the first proposal (or the end)."""
    sandbox = await Sandbox.start(workdir=workdir / "sandbox")
    try:
        await sandbox.inject(fault_id)
        settings = Settings(
            state_dir=workdir / "state",
            approvers=[APPROVER],
            tool_timeout_s=5.0,
            tool_retries=0,
            max_verify_wait_s=0.0,
        )
        opened = time.perf_counter()
        async with open_app(settings, sandbox=sandbox, runbooks=runbooks) as app:
            await app.platform.registry.connect()  # once per bot, as the store is: part of open
            if profiler is not None:
                profiler.enable()
            cpu = time.process_time()
            started = time.perf_counter()
            request = OpenRequest(trigger=Trigger(target=_target(fault_id)), requester="bench")
            view = await app.service.open(request)
            ended = time.perf_counter()
            cpu = time.process_time() - cpu
            if profiler is not None:
                profiler.disable()
        if view.pending is not None:
            stopped = f"proposal:{view.pending.tool}"
        else:
            assert view.outcome is not None, view
            stopped = f"end:{view.outcome.final_state.value}"
        return OneRun(started - opened, ended - started, cpu, stopped)
    finally:
        await sandbox.close()


async def run(
    rounds: int, faults: list[str], profiler: cProfile.Profile | None = None
) -> list[LeafTimes]:
    """Every fault ``rounds`` times, after one untimed warm-up incident."""
    template_db()  # the MLflow template is built once per machine; never inside a timing
    runbooks = load_runbooks(default_runbook_dir())
    times = {
        f: LeafTimes(f, f"{runbooks.leaf_ref(f).runbook.id}/{runbooks.leaf_ref(f).node_name}")
        for f in faults
    }
    root = Path(tempfile.mkdtemp(prefix="bench-diagnosis-"))
    try:
        # Lazy imports and first-use caches are paid by the first incident of a process, once.
        await time_one(faults[0], runbooks, root / "warmup")
        for r in range(rounds):
            for f in faults:
                one = await time_one(f, runbooks, root / f"{r}-{f}", profiler)
                times[f].open_s.append(one.open_s)
                times[f].agent_s.append(one.agent_s)
                times[f].cpu_s.append(one.cpu_s)
                times[f].first = one.stopped
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return list(times.values())


def report(leaves: list[LeafTimes], rounds: int) -> dict[str, object]:
    """The overall figures over every run of every leaf."""
    every = [s for leaf in leaves for s in leaf.agent_s]
    worst = max(leaves, key=lambda leaf: percentile(leaf.agent_s, 95))
    return {
        "bench": "diagnosis_latency",
        "faults": len(leaves),
        "rounds": rounds,
        "cpus": os.cpu_count(),
        **summary_ms(every),
        "cpu_p50_ms": summary_ms([s for leaf in leaves for s in leaf.cpu_s])["p50_ms"],
        "open_p50_ms": summary_ms([s for leaf in leaves for s in leaf.open_s])["p50_ms"],
        "worst_leaf": worst.fault_id,
        "worst_leaf_p95_ms": summary_ms(worst.agent_s)["p95_ms"],
        "target_p95_ms": TARGET_P95_S * 1000,
        "within_target": all(percentile(leaf.agent_s, 95) <= TARGET_P95_S for leaf in leaves),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", "--rounds", type=int, default=5, help="runs per fault (default 5)")
    parser.add_argument("--fault", action="append", help="only this fault (repeatable)")
    parser.add_argument("--json", action="store_true", help="print one JSON line instead")
    parser.add_argument(
        "--profile", type=Path, metavar="PATH", help="cProfile the timed spans into PATH"
    )
    args = parser.parse_args()
    faults = args.fault or sorted(FAULTS)

    profiler = cProfile.Profile() if args.profile else None
    leaves = asyncio.run(run(args.rounds, faults, profiler))
    if profiler is not None:
        profiler.dump_stats(args.profile)
        stats = pstats.Stats(str(args.profile))
        stats.sort_stats("cumulative").print_stats(30)
        stats.sort_stats("tottime").print_stats(20)
    overall = report(leaves, args.rounds)
    if args.json:
        print(json.dumps({**overall, "leaves": [leaf.row() for leaf in leaves]}))
        return
    print(f"{len(faults)} faults x {args.rounds} runs ({os.cpu_count()} CPUs); agent = trigger to")
    print("first proposal (or end); open = store, checkpointer, graph, registry client (per bot)")
    print("cpu = process CPU time of the agent span (p50); wall far above it is waiting/preemption")
    print(
        f"{'fault':38} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'cpu ms':>8} {'open ms':>8}"
        "  stopped at"
    )
    for leaf in leaves:
        row = leaf.row()
        mark = "" if row["within_target"] else "  OVER TARGET"
        print(
            f"{leaf.fault_id:38} {row['p50_ms']:>8} {row['p95_ms']:>8} {row['max_ms']:>8} "
            f"{row['cpu_p50_ms']:>8} {row['open_p50_ms']:>8}  {leaf.first}{mark}"
        )
    print(
        f"{'overall':38} {overall['p50_ms']:>8} {overall['p95_ms']:>8} {overall['max_ms']:>8} "
        f"{overall['cpu_p50_ms']:>8} {overall['open_p50_ms']:>8}"
    )
    verdict = "met" if overall["within_target"] else "MISSED"
    print(
        f"target p95 <= {TARGET_P95_S * 1000:.0f} ms per leaf: {verdict} "
        f"(worst {overall['worst_leaf']}: {overall['worst_leaf_p95_ms']} ms)"
    )


if __name__ == "__main__":
    main()
