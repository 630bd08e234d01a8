"""`collect --org` over 40 account-regions with per-call latency: sequential vs concurrent.

A separate process serves moto (ThreadedMotoServer over HTTP, one thread per request) with an
organisation of A member accounts, each holding P projects × B builds in each of R regions
(support/org.py, support/seeded_codebuild.py), and sleeps `--latency-ms` in every request
before answering, as a far-away AWS endpoint would. This process then runs the same
`collect --org` twice, each into an empty store:

1. `--concurrency 1`: the account × region walks one after the other;
2. `--concurrency 16` (`--workers`): the walks on a pool of 16 threads.

Prints wall time of each, the ratio (target ≥ 8× at 16 workers), and the API calls each made
against the minimum any collector needs (target equal in both): ListAccounts pages,
GetCallerIdentity, one AssumeRole per member; per account-region ListProjects,
⌈P/100⌉ BatchGetProjects, ⌈B/100⌉ ListBuildsForProject pages per project and
⌈P·B/100⌉ BatchGetBuilds.

    python benchmarks/collect_org.py                  # 10 accounts × 4 regions, 50 ms a call
    python benchmarks/collect_org.py --accounts 5 --regions 2 --latency-ms 100
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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HELPERS = ROOT / "tests"  # the tests' helpers, imported as support.*
REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"]


def _serve(args: argparse.Namespace) -> None:
    """Server process: an organisation seeded in moto, every request delayed; until killed."""
    import logging
    import random

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    sys.path.insert(0, str(HELPERS))
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    from support.aws import moto_endpoint
    from support.builds import build_record, project_record
    from support.org import create_org, install_sts_checks, rehome
    from support.seeded_codebuild import SeededCodeBuild, install

    delay = args.latency_ms / 1000
    answer = DomainDispatcherApplication.__call__

    def delayed(self, environ, start_response):  # type: ignore[no-untyped-def]
        time.sleep(delay)  # the round trip to a real endpoint; other requests go on meanwhile
        return answer(self, environ, start_response)

    DomainDispatcherApplication.__call__ = delayed  # type: ignore[method-assign]
    rng = random.Random(7)
    end = datetime.now(UTC) - timedelta(hours=1)
    with moto_endpoint() as endpoint:
        seeded = SeededCodeBuild(endpoint)
        install(seeded, setattr)
        install_sts_checks(setattr)
        org = create_org(endpoint, [f"team-{i:02d}" for i in range(args.accounts)])
        for account in org.members.values():
            for region in REGIONS[: args.regions]:
                for p in range(args.projects):
                    name = f"svc-{p:02d}"
                    project = project_record(name, region=region)
                    seeded.add_project(rehome(project, account))
                    builds = [
                        build_record(
                            name,
                            n + 1,
                            end - timedelta(hours=args.builds - n),
                            rng=rng,
                            region=region,
                        )
                        for n in range(args.builds)
                    ]
                    seeded.add_builds([rehome(b, account) for b in builds])
        print("READY", endpoint, org.management, flush=True)
        while True:
            time.sleep(3600)


def _minimum(args: argparse.Namespace) -> int:
    walks = args.accounts * args.regions
    per_walk = (
        1  # ListProjects
        + math.ceil(args.projects / 100)  # BatchGetProjects
        + args.projects * max(1, math.ceil(args.builds / 100))  # ListBuildsForProject pages
        + math.ceil(args.projects * args.builds / 100)  # BatchGetBuilds, packed across projects
    )
    org_calls = math.ceil((args.accounts + 1) / 20) + 1 + args.accounts  # ListAccounts, STS
    return walks * per_walk + org_calls


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _collect(management: str, regions: list[str], concurrency: int, db: Path) -> tuple[float, Any]:
    from ciwb.collect import CollectOptions, collect

    options = CollectOptions(
        regions=regions,
        db=db,
        batches=False,
        reports=False,
        metrics=False,
        org=True,
        exclude=[management],  # the walks are the members' account-regions
        concurrency=concurrency,
    )
    start = time.perf_counter()
    summary = collect(options)
    return time.perf_counter() - start, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10, help="member accounts")
    parser.add_argument("--regions", type=int, default=4, choices=range(1, len(REGIONS) + 1))
    parser.add_argument("--projects", type=int, default=2, help="projects per account-region")
    parser.add_argument("--builds", type=int, default=50, help="builds per project")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve(args)
        return

    os.environ.update(  # fake credentials for both processes, no ~/.aws
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": "/nonexistent/ciwb-bench-config",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/ciwb-bench-credentials",
        }
    )
    os.environ.pop("AWS_PROFILE", None)
    server = subprocess.Popen(
        [sys.executable, __file__, *sys.argv[1:], "--serve"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        t0 = time.perf_counter()
        ready, endpoint, management = server.stdout.readline().split()
        if ready != "READY":
            raise SystemExit("server failed to start")
        walks = args.accounts * args.regions
        print(
            f"seeded {args.accounts} accounts × {args.regions} regions = {walks} account-regions,"
            f" {args.projects} projects × {args.builds} builds each,"
            f" {args.latency_ms:.0f} ms a call, in {time.perf_counter() - t0:.1f}s"
        )
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        minimum = _minimum(args)
        regions = REGIONS[: args.regions]
        results = {}
        with tempfile.TemporaryDirectory() as tmp:
            from ciwb.collect import collect  # noqa: F401 - imported before the clock starts

            for concurrency in (1, args.workers):
                cpu, server_cpu = time.process_time(), _cpu_s(server.pid)
                seconds, summary = _collect(
                    management, regions, concurrency, Path(tmp) / f"c{concurrency}.duckdb"
                )
                cpu, server_cpu = time.process_time() - cpu, _cpu_s(server.pid) - server_cpu
                calls = sum(summary.api_calls.values())
                results[concurrency] = seconds
                print(
                    f"--concurrency {concurrency:>2}: {seconds:6.1f}s  {summary.status}"
                    f"  {summary.builds_fetched:,} builds  API calls {calls} (minimum {minimum})"
                )
                print(f"   CPU: collector {cpu:.1f}s, moto server {server_cpu:.1f}s")
                assert summary.status == "SUCCEEDED", summary.skipped or summary.errors
                assert summary.builds_fetched == walks * args.projects * args.builds
        ratio = results[1] / results[args.workers]
        print(f"speed-up at {args.workers} workers: {ratio:.1f}× (target ≥ 8×)")
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
