"""`collect --org` against moto over HTTP: an organisation of member accounts, each read
through its role, concurrently; a member without the role and a suspended member skipped.

moto files the keys AssumeRole hands out under the account in the role ARN and serves each
request from that account's backends (support/org.py), so a row's account id is right only if
the collector really used that member's session for it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import boto3
import duckdb
import pytest
from botocore.credentials import _local_now

from ciwb.collect import CollectOptions, collect
from support.aws import ACCOUNT, REGION
from support.collect_history import history
from support.org import ORG_ROLE, create_org, install_sts_checks, rehome
from support.queries import query as _q

CIWB = [str(Path(sys.executable).parent / "ciwb")]
REGIONS = ["eu-west-1", REGION]
STAGES_OFF = ["--no-batches", "--no-reports", "--no-metrics"]


def _seed_account(seeded, account: str, seed: int, builds: int) -> dict[tuple[str, str], int]:
    """A demo history in `account`, its projects split over two regions; builds per region."""
    projects, by_project = history(builds, seed=seed)
    where: dict[tuple[str, str], int] = {}
    for i, project in enumerate(projects):
        region = REGIONS[i % 2]
        record = rehome(rehome(project, account), region, REGION)
        records = [rehome(rehome(b, account), region, REGION) for b in by_project[project["name"]]]
        seeded.add_project(record)
        seeded.add_builds(records)
        where[(account, region)] = where.get((account, region), 0) + len(records)
    return where


@pytest.fixture
def org_server(codebuild_server, monkeypatch):
    """Management account (moto's default) + dev, staging, prod, sandbox, all seeded:
    staging has no ciwb role, sandbox is suspended."""
    install_sts_checks(monkeypatch.setattr)
    org = create_org(codebuild_server.endpoint, ["dev", "staging", "prod", "sandbox"])
    expected: dict[tuple[str, str], int] = {}
    expected.update(_seed_account(codebuild_server, ACCOUNT, 10, 150))
    for seed, (name, account) in enumerate(sorted(org.members.items()), start=11):
        where = _seed_account(codebuild_server, account, seed, 150)
        if name not in ("staging", "sandbox"):
            expected.update(where)
    org.remove_role(org.members["staging"])
    org.suspend(org.members["sandbox"])
    return codebuild_server, org, expected


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIWB_")}
    env.update(extra)
    return env


def _run(args, **kw):
    return subprocess.run(
        CIWB + args, env=_env(), capture_output=True, text=True, timeout=300, **kw
    )


def _by_account_region(db) -> dict[tuple[str, str], int]:
    return {
        (a, r): n
        for a, r, n in _q(db, "SELECT account_id, region, count(*) FROM builds GROUP BY ALL")
    }


def test_org_collects_every_active_account_through_its_role(org_server, tmp_path):
    seeded, org, expected = org_server
    db = tmp_path / "org.duckdb"
    staging, sandbox = org.members["staging"], org.members["sandbox"]

    result = _run(
        ["collect", "--org", *(f"--region={r}" for r in REGIONS), *STAGES_OFF]
        + ["--concurrency", "4", "--db", str(db), "--json"]
    )

    assert result.returncode == 1, result.stderr  # PARTIAL: one account skipped
    summary = json.loads(result.stdout)
    assert summary["status"] == "PARTIAL"
    # the member whose role is missing is named, and nothing else is skipped
    assert [
        (s["account_id"], s["target"], s["operation"], s["code"]) for s in summary["skipped"]
    ] == [(staging, "account", "AssumeRole", "AccessDenied")]
    assert summary["inactive_accounts"] == [sandbox]
    readable = sorted({a for a, _ in expected})
    assert summary["accounts"] == readable and staging not in readable
    assert summary["concurrency"] == 4
    # every build of every readable account-region, under its own account id
    assert _by_account_region(db) == expected
    assert _q(
        db, "SELECT count(*) FROM builds WHERE split_part(build_arn, ':', 5) <> account_id"
    ) == [(0,)]
    assert _q(
        db, "SELECT count(*) FROM projects WHERE project_arn NOT LIKE '%:' || account_id || ':%'"
    ) == [(0,)]
    # one AssumeRole per member (staging's refused, the caller's own account needs none)
    members = len(org.members) - 1  # sandbox is not tried
    assert summary["api_calls"]["sts.AssumeRole"] == members
    assert summary["api_calls"]["organizations.ListAccounts"] == 1

    # the hourly resync: one ListBuildsForProject per project, nothing fetched
    projects = _q(db, "SELECT count(*) FROM projects")[0][0]
    again = json.loads(
        _run(
            ["collect", "--org", *(f"--region={r}" for r in REGIONS), *STAGES_OFF]
            + ["--db", str(db), "--json"]
        ).stdout
    )
    assert again["api_calls"]["codebuild.ListBuildsForProject"] == projects
    assert "codebuild.BatchGetBuilds" not in again["api_calls"]
    assert again["builds_fetched"] == 0


def test_accounts_and_exclude_select_by_id_or_name(org_server, db_path):
    seeded, org, expected = org_server

    summary = collect(
        CollectOptions(
            regions=REGIONS,
            db=db_path,
            batches=False,
            reports=False,
            metrics=False,
            org=True,
            accounts=["dev", "pr*", ACCOUNT],
            exclude=[ACCOUNT],
        )
    )

    chosen = sorted([org.members["dev"], org.members["prod"]])
    assert summary.status == "SUCCEEDED"
    assert summary.accounts == chosen
    assert _by_account_region(db_path) == {k: n for k, n in expected.items() if k[0] in chosen}
    assert summary.api_calls["sts.AssumeRole"] == 2


def test_org_options_need_org(aws_env, db_path):
    from ciwb.errors import CiwbError

    with pytest.raises(CiwbError, match="--accounts needs --org"):
        collect(CollectOptions(regions=[REGION], db=db_path, accounts=["dev"]))


class _Gate:
    """Holds every CodeBuild request once `after` BatchGetBuilds answers have been served,
    so the collector is stopped mid-run (not racing to its end) when the test kills it."""

    def __init__(self, after: int) -> None:
        self.after = after
        self.served = 0
        self.lock = threading.Lock()
        self.closed = threading.Event()  # set once a request is being held
        self.release = threading.Event()

    def install(self, monkeypatch) -> None:
        from moto.codebuild import responses as cb_responses

        original = cb_responses.CodeBuildResponse.call_action
        gate = self

        def call_action(self):
            with gate.lock:
                hold = gate.served >= gate.after
                if not hold and self._get_action() == "BatchGetBuilds":
                    gate.served += 1
            if hold:
                gate.closed.set()
                gate.release.wait()
            return original(self)

        monkeypatch.setattr(cb_responses.CodeBuildResponse, "call_action", call_action)


def _rows(db: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {
            "builds": con.execute(
                "SELECT * EXCLUDE (ingested_at) FROM builds ORDER BY build_arn"
            ).fetchall(),
            "build_phases": con.execute(
                "SELECT * FROM build_phases ORDER BY build_arn, seq"
            ).fetchall(),
            "projects": con.execute(
                "SELECT * EXCLUDE (ingested_at) FROM projects ORDER BY project_arn"
            ).fetchall(),
            "collect_cursors": con.execute(
                "SELECT * EXCLUDE (updated_at) FROM collect_cursors"
                " ORDER BY account_id, region, project_name"
            ).fetchall(),
        }
    finally:
        con.close()


def _committed_builds(db: Path) -> int:
    """Builds committed so far, read once the (held) collector's writer lets go of the file."""
    from ciwb.store import connect

    if not db.exists():
        return 0
    with connect(db, read_only=True, lock_timeout_s=60) as con:
        return con.execute("SELECT count(*) FROM builds").fetchall()[0][0]


def _committed_builds_eventually(db: Path, within_s: float = 60.0) -> int:
    """Builds committed, polled until there are some or `within_s` has passed."""
    deadline = time.monotonic() + within_s
    while (committed := _committed_builds(db)) == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    return committed


@pytest.mark.slow
def test_sigkill_during_a_concurrent_org_run_then_rerun_gives_the_same_rows(
    org_server, tmp_path, monkeypatch
):
    seeded, org, expected = org_server
    args = ["collect", "--org", *(f"--region={r}" for r in REGIONS), *STAGES_OFF, "--quiet"]
    reference = tmp_path / "reference.duckdb"
    assert _run([*args, "--concurrency", "8", "--db", str(reference)]).returncode == 1
    want = _rows(reference)
    assert len(want["builds"]) == sum(expected.values())
    batch_gets = len(expected)  # ~150 builds per account over two regions: ≥ 1 per walk

    for after in (0, 1, batch_gets // 2, batch_gets - 1):
        db = tmp_path / f"killed-{after}.duckdb"
        gate = _Gate(after)
        with monkeypatch.context() as patch:
            gate.install(patch)
            proc = subprocess.Popen(
                CIWB + [*args, "--concurrency", "8", "--db", str(db)],
                env=_env(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            assert gate.closed.wait(120), "the run never reached the gate"
            if after:
                # what was answered before the gate is written before the kill: the writer
                # commits it, then lets the file go while every walk waits on the gate (on a
                # loaded machine the answer may still be on its way to the writer: poll)
                assert _committed_builds_eventually(db) > 0
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
            gate.release.set()

        rerun = _run([*args, "--concurrency", "8", "--db", str(db)])
        assert rerun.returncode == 1, rerun.stderr  # PARTIAL: staging, as in the reference
        assert _rows(db) == want, f"killed after {after} BatchGetBuilds"
        ledger = _q(db, "SELECT status FROM collect_runs ORDER BY started_at")
        assert ledger == [("INTERRUPTED",), ("PARTIAL",)]


def test_assumed_role_credentials_are_refreshed_before_they_expire(org_server):
    """A session that outlives its assumed role's credentials: botocore assumes the role again
    (the clock is moved, not waited for); credentials copied once would be refused."""
    from ciwb.collect.aws import CallCounter, assumed_role_credentials, session_with

    seeded, org, expected = org_server
    dev = org.members["dev"]
    offset = [timedelta(0)]
    counter = CallCounter()
    creds = assumed_role_credentials(
        boto3.Session(region_name=REGION),
        f"arn:aws:iam::{dev}:role/{ORG_ROLE}",
        counter=counter,
        region=REGION,
        time_fetcher=lambda: _local_now() + offset[0],
    )
    session = session_with(creds, None, REGION)
    client = counter.attach(session.client("codebuild", region_name=REGION))
    assert (
        len(client.list_projects()["projects"]) == 9
    )  # dev's us-east-1 projects, the demo's 2026 ones included
    first = creds.get_frozen_credentials()
    frozen = boto3.Session(
        aws_access_key_id=first.access_key,
        aws_secret_access_key=first.secret_key,
        aws_session_token=first.token,
        region_name=REGION,
    ).client("codebuild")

    # an hour later (less botocore's 15-minute margin): AWS has expired the first key
    _expire(first.access_key)
    offset[0] = timedelta(minutes=47)
    with pytest.raises(Exception, match="ExpiredTokenException"):
        frozen.list_projects()
    assert len(client.list_projects()["projects"]) == 9
    assert counter.calls["sts.AssumeRole"] >= 2
    assert creds.get_frozen_credentials().access_key != first.access_key


def _expire(access_key: str) -> None:
    from datetime import datetime

    from moto.sts import models as sts_models

    for account in list(sts_models.sts_backends):
        for backend in sts_models.sts_backends[account].values():
            role = backend.get_assumed_role_from_access_key(access_key)
            if role is not None:
                role.expiration = datetime(2000, 1, 1)
                return
    raise AssertionError(f"no assumed role with key {access_key}")


def test_org_outside_an_organisation_is_one_line(aws_env, db_path):
    from ciwb.errors import CollectAwsError

    with pytest.raises(CollectAwsError, match="is not in an organisation"):
        collect(CollectOptions(regions=[REGION], db=db_path, org=True))
