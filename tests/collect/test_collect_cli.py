"""`ciwb collect` as a user runs it: a real subprocess talking HTTP to the local endpoint."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from support.aws import REGION
from support.collect_history import history
from support.ports import refused_port

CIWB = [str(Path(sys.executable).parent / "ciwb")]
QUIET_ARGS = ["--region", REGION, "--no-batches", "--no-reports", "--no-metrics"]


def _run(args, env, **kw):
    return subprocess.run(CIWB + args, env=env, capture_output=True, text=True, timeout=300, **kw)


def _env(aws_env, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CIWB_"))}
    env.update(aws_env)
    env.update(extra)
    return env


def _rows(db_path: Path) -> dict[str, list[tuple]]:
    """Every data row a collect writes, minus the columns that record when it was written."""
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return {
            "projects": con.execute(
                "SELECT * EXCLUDE (ingested_at) FROM projects ORDER BY project_arn"
            ).fetchall(),
            "builds": con.execute(
                "SELECT * EXCLUDE (ingested_at) FROM builds ORDER BY build_arn"
            ).fetchall(),
            "build_phases": con.execute(
                "SELECT * FROM build_phases ORDER BY build_arn, seq"
            ).fetchall(),
            "collect_cursors": con.execute(
                "SELECT * EXCLUDE (updated_at) FROM collect_cursors ORDER BY project_name"
            ).fetchall(),
        }
    finally:
        con.close()


def test_cli_json_summary_names_the_skipped_project_and_exits_1(codebuild_server, tmp_path):
    projects, builds = history(150)
    codebuild_server.seed(projects, builds)
    codebuild_server.denied.add("docs-site")

    result = _run(
        ["collect", *QUIET_ARGS, "--db", str(tmp_path / "c.duckdb"), "--json"],
        _env(codebuild_server_env(codebuild_server)),
    )

    assert result.returncode == 1, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "PARTIAL"
    assert [s["target"] for s in summary["skipped"]] == ["docs-site"]
    readable = [b for name, bs in builds.items() if name != "docs-site" for b in bs]
    assert summary["builds_fetched"] == len(readable)
    # What the summary says was written, and what the run ledger keeps: one builds row per
    # readable build, one build_phases row per phase of those records.
    # Every project record is read (BatchGetProjects is allowed), a cursor per readable one.
    written = {"builds": len(readable), "build_phases": sum(len(b["phases"]) for b in readable)}
    written |= {"projects": len(projects), "collect_cursors": len(projects) - 1}
    assert {t: n for t, n in summary["rows_written"].items() if n} == written
    con = duckdb.connect(str(tmp_path / "c.duckdb"), read_only=True)
    (ledger,) = con.execute("SELECT rows_written FROM collect_runs").fetchone()
    con.close()
    assert json.loads(ledger) == summary["rows_written"]


def codebuild_server_env(seeded) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith("AWS_")}


def test_cli_progress_bar_on_stderr_and_quiet_silences_it(codebuild_server, tmp_path):
    projects, builds = history(100)
    codebuild_server.seed(projects, builds)
    env = _env(codebuild_server_env(codebuild_server))

    loud = _run(["collect", *QUIET_ARGS, "--db", str(tmp_path / "a.duckdb")], env)
    quiet = _run(["collect", *QUIET_ARGS, "--db", str(tmp_path / "b.duckdb"), "--quiet"], env)

    assert loud.returncode == 0 and quiet.returncode == 0
    # one line for the run, one per account naming its regions (not one bar per region)
    total = sum(map(len, builds.values()))
    lines = loud.stderr.splitlines()
    assert re.match(rf"account-regions .* 1/1 accounts: 1 done +{total} builds", lines[0])
    assert re.match(rf"123456789012 .* 1/1 {REGION} done +{total} builds", lines[1])
    assert "SUCCEEDED" in loud.stdout
    records = [b for bs in builds.values() for b in bs]
    phases = sum(len(b["phases"]) for b in records)
    assert (
        f"rows written: projects {len(projects)}, builds {len(records)}, "
        f"build_phases {phases:,}, collect_cursors {len(projects)}"
    ) in loud.stdout
    assert quiet.stderr == "" and quiet.stdout == ""


def _one_line_error(result) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_missing_credentials_are_one_line(aws_env, tmp_path):
    env = _env(aws_env)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        env.pop(key)
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    line = _one_line_error(
        _run(["collect", "--region", REGION, "--db", str(tmp_path / "x.duckdb")], env)
    )
    assert "no AWS credentials found" in line


def test_unknown_profile_and_unknown_region_are_one_line(aws_env, tmp_path):
    env = _env(aws_env)
    db = ["--db", str(tmp_path / "x.duckdb")]
    assert "profile not found" in _one_line_error(
        _run(["collect", "--profile", "nope", "--region", REGION, *db], env)
    )
    assert "unknown region 'mars-north-1'" in _one_line_error(
        _run(["collect", "--region", "mars-north-1", *db], env)
    )


def test_unreachable_endpoint_is_one_line(aws_env, tmp_path):
    with refused_port() as port:  # bound, not listening: connections are refused
        env = _env(aws_env, AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}", AWS_MAX_ATTEMPTS="1")
        line = _one_line_error(
            _run(["collect", "--region", REGION, "--db", str(tmp_path / "x.duckdb")], env)
        )
    assert f"cannot reach AWS endpoint http://127.0.0.1:{port}" in line


def test_expired_credentials_explained_in_one_line():
    import boto3
    from botocore.stub import Stubber

    from ciwb.collect.aws import explain_aws_error
    from ciwb.errors import CollectAwsError

    sts = boto3.client("sts", region_name=REGION, aws_access_key_id="a", aws_secret_access_key="b")
    with Stubber(sts) as stub:
        stub.add_client_error(
            "get_caller_identity",
            "ExpiredToken",
            "The security token included in the request is expired",
        )
        with pytest.raises(Exception) as raised:
            sts.get_caller_identity()
    explained = explain_aws_error(raised.value, "prod")
    assert isinstance(explained, CollectAwsError)
    assert str(explained).startswith("AWS credentials expired (prod)")


@pytest.mark.slow
def test_sigkill_at_any_point_then_rerun_gives_the_uninterrupted_rows(codebuild_server, tmp_path):
    projects, builds = history(700)  # ~8 BatchGetBuilds, ~12 list pages
    codebuild_server.seed(projects, builds)
    env = _env(codebuild_server_env(codebuild_server))

    reference = tmp_path / "reference.duckdb"
    ref_raw = tmp_path / "reference-raw"
    codebuild_server.hold_at(None)
    assert (
        _run(
            ["collect", *QUIET_ARGS, "--quiet", "--db", str(reference), "--save-raw", str(ref_raw)],
            env,
        ).returncode
        == 0
    )
    expected = _rows(reference)
    assert len(expected["builds"]) == sum(len(b) for b in builds.values())
    lookups = codebuild_server.lookups

    # Kill while the run waits for the server's answer to lookup n+1: while listing,
    # mid-fetch, near the end. The server holds that request, so the run is known to be
    # alive and mid-way when the SIGKILL lands (no polling that a fast run can outpace).
    try:
        for kill_after in sorted({2, lookups // 3, (2 * lookups) // 3, lookups - 1}):
            db = tmp_path / f"killed-{kill_after}.duckdb"
            raw = tmp_path / f"raw-{kill_after}"
            codebuild_server.hold_at(kill_after)
            proc = subprocess.Popen(
                CIWB + ["collect", *QUIET_ARGS, "--quiet", "--db", str(db), "--save-raw", str(raw)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            reached = codebuild_server.held.wait(120)
            alive = proc.poll() is None
            proc.send_signal(signal.SIGKILL)
            _, err = proc.communicate()
            codebuild_server.release.set()
            assert reached and alive, f"run ended before lookup {kill_after + 1}: {err[-500:]}"

            codebuild_server.hold_at(None)
            rerun = _run(["collect", *QUIET_ARGS, "--quiet", "--db", str(db)], env)
            assert rerun.returncode == 0, rerun.stderr
            assert _rows(db) == expected, f"killed after {kill_after} lookups"
            con = duckdb.connect(str(db), read_only=True)
            ledger = con.execute("SELECT status FROM collect_runs ORDER BY started_at").fetchall()
            con.close()
            assert ledger == [("INTERRUPTED",), ("SUCCEEDED",)]
    finally:
        codebuild_server.hold_at(None)
        codebuild_server.release.set()


def test_import_and_import_events_commands(codebuild_server, tmp_path):
    projects, builds = history(100)
    codebuild_server.seed(projects, builds)
    env = _env(codebuild_server_env(codebuild_server))
    raw = tmp_path / "raw"
    assert (
        _run(
            [
                "collect",
                *QUIET_ARGS,
                "--quiet",
                "--db",
                str(tmp_path / "a.duckdb"),
                "--save-raw",
                str(raw),
            ],
            env,
        ).returncode
        == 0
    )

    imported = _run(["import", str(raw), "--db", str(tmp_path / "b.duckdb"), "--json"], env)

    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["records"]["builds"] == sum(map(len, builds.values()))
    bad = _run(
        ["import-events", str(tmp_path / "none.ndjson"), "--db", str(tmp_path / "b.duckdb")], env
    )
    assert "none.ndjson: no such file" in _one_line_error(bad)
