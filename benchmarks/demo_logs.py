"""What the demo's agent logs cost `make demo`: load_demo with logs vs without, same run.

The baseline is the same load with `log_days=0` (no log events, no build_commands); the
measured side generates the agent log events of the last LOG_RETENTION_DAYS (7) days'
builds and parses them with ciwb.codebuild.agent_log into build_commands. Rounds alternate to
share the machine's noise; CPU seconds are printed beside wall seconds because other work
on a shared machine sways wall time most.

    python benchmarks/demo_logs.py [--builds 50000] [--rounds 2] [--log-days 7]

Prints both times, the log volume and the ratio with / without (target: ≤ 1.10).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from ciwb.demo import load_demo
from ciwb.demo.generator import LOG_RETENTION_DAYS


def timed_load(db: Path, builds: int, log_days: int) -> tuple[float, float, dict[str, int]]:
    """Wall and CPU seconds (CPU is less swayed by other work on a shared machine)."""
    wall, cpu = time.perf_counter(), time.process_time()
    summary = load_demo(db, builds=builds, seed=7, log_days=log_days)
    return time.perf_counter() - wall, time.process_time() - cpu, summary.rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--builds", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=2, help="alternating runs per side")
    parser.add_argument("--log-days", type=int, default=LOG_RETENTION_DAYS)
    args = parser.parse_args()
    days = args.log_days
    times: dict[int, list[float]] = {0: [], days: []}
    cpu: dict[int, list[float]] = {0: [], days: []}
    rows: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            for log_days in times:
                db = Path(tmp) / f"demo-{log_days}-{round_}.duckdb"
                seconds, cpu_s, got = timed_load(db, args.builds, log_days)
                times[log_days].append(seconds)
                cpu[log_days].append(cpu_s)
                print(
                    f"  round {round_ + 1} log_days={log_days:2d}:"
                    f" {seconds:6.2f}s wall, {cpu_s:6.2f}s CPU"
                )
                if log_days:
                    rows = got
                db.unlink()
    print(f"load_demo {args.builds:,} builds, median of {args.rounds} alternating rounds")
    for label, series in (("wall", times), ("CPU", cpu)):
        without = statistics.median(series[0])
        with_logs = statistics.median(series[days])
        print(
            f"  {label:4s} without logs (baseline) {without:6.2f}s, with {days} days"
            f" of logs {with_logs:6.2f}s: ratio {with_logs / without:.3f} (target ≤ 1.10)"
        )
    print(f"  build_commands rows: {rows.get('build_commands', 0):,}")


if __name__ == "__main__":
    main()
