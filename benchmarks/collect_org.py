"""`collect --org` over 40 account-regions with per-call latency: sequential vs concurrent.

A separate process serves moto (ThreadedMotoServer over HTTP) with an organisation of A
member accounts, each holding P projects × B builds in each of R regions (support/org.py,
support/seeded_codebuild.py). This process first runs `collect --org` once against moto,
untimed and undelayed, while the server records every answer (replay_endpoint.py). The
timed runs then go to the replay endpoint, which sleeps `--latency-ms` in every request and
answers the recorded bytes: a far-away AWS endpoint costs the collector wall time but no CPU,
whereas moto's own parsing and serialising (~5 s of CPU for this run) would share this
machine's cores with the collector. `--server moto` (or `both`) times moto itself, delayed
the same way. Each timed run goes into an empty store (its schema made before the clock;
`--fresh-store` times that too):

1. `--concurrency 1`: the account × region walks one after the other;
2. `--concurrency 16` (`--workers`): the walks on a pool of 16 threads.

Prints wall time of each, the collector's and the server's CPU, the load average when it
started, the ratio (target ≥ 8× at 16 workers), and the API calls each made against the
minimum any collector needs (target equal in both): ListAccounts pages, GetCallerIdentity,
one AssumeRole per member; per account-region ListProjects, ⌈P/100⌉ BatchGetProjects,
ListFleets (no fleets, so no BatchGetFleets), ⌈B/100⌉ ListBuildsForProject pages per project
and ⌈P·B/100⌉ BatchGetBuilds. Every timed run must store the recorded run's rows (row count
and a hash of every table, write times aside), and the replay endpoint must have been asked
nothing it did not record.
With `--repeat N`, a summary follows the N pairs: the ratio of each side's best run and
the median and range of the pairs' ratios.

    python benchmarks/collect_org.py                  # 10 accounts × 4 regions, 50 ms a call
    python benchmarks/collect_org.py --latency-ms 50 100 200 --repeat 2
    python benchmarks/collect_org.py --accounts 5 --regions 2 --server both
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
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
    """Server process: an organisation seeded in moto behind a `Recorder`, and a `ReplayServer`
    of what moto answered; then commands on stdin (`moto-delay S`, `replay-delay S`,
    `recording on|off`, `misses`), each acknowledged on stdout, until killed."""
    import logging
    import random

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    sys.path.insert(0, str(HELPERS))
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication
    from replay_endpoint import Recorder, ReplayServer

    from support.aws import moto_endpoint
    from support.builds import build_record, project_record
    from support.org import create_org, install_sts_checks, rehome
    from support.seeded_codebuild import SeededCodeBuild, install

    answer = DomainDispatcherApplication.__call__
    recorder = Recorder()

    def recorded(self, environ, start_response):  # type: ignore[no-untyped-def]
        return recorder.handle(lambda e, s: answer(self, e, s), environ, start_response)

    DomainDispatcherApplication.__call__ = recorded  # type: ignore[method-assign]
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
        recorder.answers.clear()  # the seeding's own requests
        replay = ReplayServer(recorder)
        print("READY", endpoint, replay.endpoint, org.management, flush=True)
        for line in sys.stdin:
            command, _, value = line.strip().partition(" ")
            if command == "moto-delay":
                recorder.delay_s = float(value)
            elif command == "replay-delay":
                replay.delay_s = float(value)
            elif command == "recording":
                recorder.recording = value == "on"
            if command == "misses":
                print(replay.misses, len(recorder.answers), flush=True)
            else:
                print("ok", flush=True)


def _minimum(args: argparse.Namespace) -> int:
    walks = args.accounts * args.regions
    per_walk = (
        1  # ListProjects
        + math.ceil(args.projects / 100)  # BatchGetProjects
        + 1  # ListFleets (no fleets seeded: no BatchGetFleets)
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


# Columns that hold when a run wrote the row, not what it read.
_VOLATILE = ("ingested_at", "updated_at")


def _fingerprint(db: Path) -> dict[str, tuple[int, str]]:
    """Per table of the store: row count and an order-independent hash of its rows (without
    the write-time columns); the ledger and the schema's own tables left out."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = [
            t
            for (t,) in con.execute(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_type = 'BASE TABLE' ORDER BY table_name"
            ).fetchall()
            if t not in ("collect_runs", "schema_migrations")
        ]
        out = {}
        for table in tables:
            columns = [
                c
                for (c,) in con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = ?",
                    [table],
                ).fetchall()
                if c not in _VOLATILE
            ]
            cols = ", ".join(f'"{c}"' for c in columns)
            count, digest = con.execute(
                f"SELECT count(*), md5(coalesce(string_agg(r, chr(10) ORDER BY r), ''))"
                f" FROM (SELECT CAST(t AS VARCHAR) AS r FROM (SELECT {cols} FROM {table}) t)"
            ).fetchall()[0]
            out[table] = (int(count), str(digest))
        return out
    finally:
        con.close()


class _Server:
    """The `--serve` process and its stdin commands."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, *sys.argv[1:], "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        ready, self.moto, self.replay, self.management = self.process.stdout.readline().split()
        if ready != "READY":
            raise SystemExit("server failed to start")

    def command(self, line: str) -> str:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().strip()

    def cpu_s(self) -> float:
        return _cpu_s(self.process.pid)

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


def _timed(
    server: _Server,
    args: argparse.Namespace,
    concurrency: int,
    db: Path,
    reference: dict[str, tuple[int, str]],
) -> float:
    """One timed collect into an empty store; checks it against the recorded run."""
    walks = args.accounts * args.regions
    if not args.fresh_store:
        from ciwb.store import connect

        with connect(db):  # the schema, made before the clock: a new store's one-time cost
            pass
    load = os.getloadavg()[0]
    cpu, server_cpu = time.process_time(), server.cpu_s()
    seconds, summary = _collect(server.management, REGIONS[: args.regions], concurrency, db)
    cpu, server_cpu = time.process_time() - cpu, server.cpu_s() - server_cpu
    calls = sum(summary.api_calls.values())
    same = _fingerprint(db) == reference
    print(
        f"  --concurrency {concurrency:>2}: {seconds:6.2f}s  {summary.status}"
        f"  API calls {calls} (minimum {_minimum(args)})"
        f"  CPU collector {cpu:.1f}s server {server_cpu:.1f}s"
        f"  load {load:.1f}  rows {'identical' if same else 'DIFFER'}",
        flush=True,
    )
    assert summary.status == "SUCCEEDED", summary.skipped or summary.errors
    assert summary.builds_fetched == walks * args.projects * args.builds
    assert same, "a timed run stored other rows than the recorded run"
    db.unlink()
    return seconds


def _summary(pairs: list[dict[int, float]], workers: int) -> None:
    """Over the repeated pairs: each side's best time and their ratio (the least disturbed
    run of each, as the other benchmarks report), and the median of the pairs' ratios."""
    best = {c: min(p[c] for p in pairs) for c in (1, workers)}
    ratios = sorted(p[1] / p[workers] for p in pairs)
    median = statistics.median(ratios)
    print(
        f"  over {len(pairs)} pairs: best sequential {best[1]:.2f}s, best concurrent"
        f" {best[workers]:.2f}s, ratio of the bests {best[1] / best[workers]:.1f}×;"
        f" median of the pairs' ratios {median:.1f}× (range {ratios[0]:.1f}-{ratios[-1]:.1f}×)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10, help="member accounts")
    parser.add_argument("--regions", type=int, default=4, choices=range(1, len(REGIONS) + 1))
    parser.add_argument("--projects", type=int, default=2, help="projects per account-region")
    parser.add_argument("--builds", type=int, default=50, help="builds per project")
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[50.0])
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument(
        "--server",
        choices=("replay", "moto", "both"),
        default="replay",
        help="the timed runs' endpoint: the replay of moto's answers, or moto itself",
    )
    parser.add_argument("--repeat", type=int, default=1, help="sequential/concurrent pairs")
    parser.add_argument(
        "--fresh-store",
        action="store_true",
        help="time the schema's creation too (default: each run's store has it, and no rows)",
    )
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
    t0 = time.perf_counter()
    server = _Server()
    try:
        walks = args.accounts * args.regions
        print(
            f"seeded {args.accounts} accounts × {args.regions} regions = {walks} account-regions,"
            f" {args.projects} projects × {args.builds} builds each,"
            f" in {time.perf_counter() - t0:.1f}s"
        )
        with tempfile.TemporaryDirectory() as tmp:
            # The untimed pass: moto answers, the server records (and imports get warm here).
            os.environ["AWS_ENDPOINT_URL"] = server.moto
            db = Path(tmp) / "recorded.duckdb"
            seconds, summary = _collect(server.management, REGIONS[: args.regions], 16, db)
            assert summary.status == "SUCCEEDED", summary.skipped or summary.errors
            reference = _fingerprint(db)
            print(
                f"recorded run (moto, no delay): {seconds:.1f}s,"
                f" {sum(summary.api_calls.values())} API calls, stored "
                + ", ".join(f"{t} {n:,}" for t, (n, _) in reference.items() if n)
            )
            server.command("recording off")
            kinds = ["replay", "moto"] if args.server == "both" else [args.server]
            for latency in args.latency_ms:
                for kind in kinds:
                    delay = f"{latency / 1000:.6f}"
                    server.command(f"replay-delay {delay if kind == 'replay' else 0}")
                    server.command(f"moto-delay {delay if kind == 'moto' else 0}")
                    os.environ["AWS_ENDPOINT_URL"] = (
                        server.replay if kind == "replay" else server.moto
                    )
                    print(f"{kind} endpoint, {latency:.0f} ms a call:")
                    pairs: list[dict[int, float]] = []
                    for n in range(args.repeat):
                        times = {
                            c: _timed(
                                server, args, c, Path(tmp) / f"{kind}-{n}-{c}.duckdb", reference
                            )
                            for c in (1, args.workers)
                        }
                        pairs.append(times)
                        print(
                            f"  speed-up at {args.workers} workers: "
                            f"{times[1] / times[args.workers]:.1f}× (target ≥ 8×)",
                            flush=True,
                        )
                    if len(pairs) > 1:
                        _summary(pairs, args.workers)
        misses, recorded = server.command("misses").split()
        print(f"replay: {recorded} answers recorded, {misses} requests not recorded")
        assert misses == "0", "the replay endpoint was asked for requests it never recorded"
    finally:
        server.stop()


if __name__ == "__main__":
    main()
