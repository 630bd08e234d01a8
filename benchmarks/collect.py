"""Collector cost on the local endpoint: API calls vs the minimum, wall time, builds/s.

A separate process serves moto (ThreadedMotoServer over HTTP) seeded with P projects × B
builds through the same seeded backend the tests use (tests/support/seeded_codebuild.py),
and CloudWatch answering GetMetricData. This process then runs:

1. baseline: the minimum API calls alone (list pages, ⌈builds/100⌉ BatchGetBuilds), no
   normalising or storing — what any collector must spend on the wire;
2. `collect` from empty (projects, builds, metrics; batches and reports are not in moto);
3. `collect` again with nothing new (the hourly resync).

    python benchmarks/collect.py                      # 50 projects × 2,000 builds
    python benchmarks/collect.py --projects 10 --builds 200

Prints API calls made vs the minimum (target equal), wall times, builds per second, and
the ratio full-run / baseline.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HELPERS = ROOT / "tests"  # the tests' helpers, imported as support.*


def _serve(projects: int, builds: int) -> None:
    """Server process: seed moto, print READY and its endpoint, serve until killed."""
    import logging
    import random

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    sys.path.insert(0, str(HELPERS))
    from support.aws import moto_endpoint
    from support.builds import build_record, project_record
    from support.seeded_codebuild import SeededCodeBuild, install

    rng = random.Random(5)
    end = datetime.now(UTC) - timedelta(hours=1)
    spacing = timedelta(days=60) / builds  # every build within CloudWatch's 63-day range
    with moto_endpoint() as endpoint:  # port 0: the server binds the port the OS gives it
        seeded = SeededCodeBuild(endpoint)
        install(seeded, setattr)
        for p in range(projects):
            name = f"svc-{p:03d}"
            arm = p % 3 == 0
            seeded.add_project(project_record(name, arm=arm))
            first = end - spacing * builds
            seeded.add_builds(
                [
                    build_record(
                        name,
                        n + 1,
                        first + spacing * n,
                        rng=rng,
                        environment_type="ARM_CONTAINER" if arm else "LINUX_CONTAINER",
                        compute_type="BUILD_GENERAL1_MEDIUM",
                        cache_type="LOCAL",
                        cache_modes=["LOCAL_DOCKER_LAYER_CACHE"],
                    )
                    for n in range(builds)
                ]
            )
        print("READY", endpoint, flush=True)
        while True:
            time.sleep(3600)


def _baseline(endpoint: str) -> tuple[float, int]:
    """The minimum calls, nothing stored: list every page, fetch every build 100 at a time."""
    import boto3

    client = boto3.client("codebuild", region_name="us-east-1", endpoint_url=endpoint)
    start = time.perf_counter()
    calls = 0
    for name in client.list_projects()["projects"]:
        token = None
        while True:
            page = client.list_builds_for_project(
                projectName=name, **({"nextToken": token} if token else {})
            )
            calls += 1
            for i in range(0, len(page["ids"]), 100):
                client.batch_get_builds(ids=page["ids"][i : i + 100])
                calls += 1
            token = page.get("nextToken")
            if not token:
                break
    return time.perf_counter() - start, calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=50)
    parser.add_argument("--builds", type=int, default=2000, help="builds per project")
    parser.add_argument("--no-metrics", action="store_true", help="skip GetMetricData")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve(args.projects, args.builds)
        return

    server = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--projects",
            str(args.projects),
            "--builds",
            str(args.builds),
            "--serve",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        t0 = time.perf_counter()
        ready, _, endpoint = server.stdout.readline().strip().partition(" ")
        if ready != "READY":
            raise SystemExit("server failed to start")
        print(
            f"seeded {args.projects} projects × {args.builds:,} builds "
            f"in {time.perf_counter() - t0:.1f}s"
        )
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench",
                "AWS_DEFAULT_REGION": "us-east-1",
            }
        )
        _run(args, endpoint)
    finally:
        server.kill()
        server.wait()


def _run(args: argparse.Namespace, endpoint: str) -> None:
    from ciwb.collect import CollectOptions, collect

    total = args.projects * args.builds
    base_s, base_calls = _baseline(endpoint)
    print(
        f"baseline (minimum list + BatchGetBuilds calls, nothing stored): {base_calls:,} "
        f"calls in {base_s:.1f}s = {total / base_s:,.0f} builds/s"
    )

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        options = CollectOptions(
            regions=["us-east-1"], db=db, batches=False, reports=False, metrics=not args.no_metrics
        )
        t = time.perf_counter()
        full = collect(options)
        full_s = time.perf_counter() - t
        t = time.perf_counter()
        resync = collect(options)
        resync_s = time.perf_counter() - t

        import duckdb

        con = duckdb.connect(str(db), read_only=True)
        eligible = con.execute(
            "SELECT count(*) FROM builds WHERE build_complete AND total_s >= 60"
        ).fetchall()[0][0]
        stored = con.execute("SELECT count(*) FROM builds").fetchall()[0][0]
        con.close()

    list_pages = args.projects * max(1, math.ceil(args.builds / 100))
    minimum = {
        "sts.GetCallerIdentity": 1,
        "codebuild.ListProjects": 1,
        "codebuild.BatchGetProjects": math.ceil(args.projects / 100),
        "codebuild.ListBuildsForProject": list_pages,
        "codebuild.BatchGetBuilds": math.ceil(total / 100),
    }
    if not args.no_metrics:
        minimum["cloudwatch.GetMetricData"] = math.ceil(eligible * 6 / 500)
    print(f"\nfull run: {stored:,} builds stored, {full.status}")
    print(f"  {'operation':34} {'made':>8} {'minimum':>8}")
    for op in sorted(set(minimum) | set(full.api_calls)):
        print(f"  {op:34} {full.api_calls.get(op, 0):>8,} {minimum.get(op, 0):>8,}")
    made, least = sum(full.api_calls.values()), sum(minimum.values())
    print(f"  {'total':34} {made:>8,} {least:>8,}   made/minimum = {made / least:.3f}")
    stages = full.stage_seconds or {}
    builds_s = stages.get("builds", full_s)
    print(f"  wall {full_s:.1f}s = {stored / full_s:,.0f} builds/s overall; stages (s): {stages}")
    print(
        f"  builds stage {builds_s:.1f}s = {stored / builds_s:,.0f} builds/s; "
        f"builds stage / baseline = {builds_s / base_s:.2f}"
    )
    print(f"\nresync with nothing new: {resync_s:.2f}s, calls {resync.api_calls}")
    print(
        f"  ListBuildsForProject {resync.api_calls.get('codebuild.ListBuildsForProject', 0)} "
        f"(one per project: {args.projects}), BatchGetBuilds "
        f"{resync.api_calls.get('codebuild.BatchGetBuilds', 0)} (target 0)"
    )
    print(f"  resync / full run = {resync_s / full_s:.4f}")


if __name__ == "__main__":
    main()
