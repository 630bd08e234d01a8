"""Fleets and the 2026 build fields: Stubber-valid records in, columns out, old stores kept."""

from __future__ import annotations

import json
from datetime import timedelta

import boto3
import duckdb
from botocore.stub import Stubber

from ciwb.codebuild.normalise import NormalisedBatch, normalise_build, normalise_project
from ciwb.collect.importer import import_paths
from ciwb.store import connect, migrate
from ciwb.store.migrations import MIGRATIONS
from ciwb.store.writes import write_batch
from support.fleet_records import T0, build, fleet, fleet_arn, runner_project

_FLEET_MIGRATION = next(m.version for m in MIGRATIONS if "fleets" in m.name)

NEXT_ARN = "arn:aws:codebuild:us-east-1:111122223333:build/flaky:r1"
RETRY_0 = build(
    "flaky",
    1,
    T0,
    status="FAILED",
    retry={
        "autoRetryLimit": 2,
        "autoRetryNumber": 0,
        "nextAutoRetry": NEXT_ARN,
    },
)
RUNNER = build(
    "gha-runner",
    7,
    T0,
    variables=[
        {
            "name": "CODEBUILD_WEBHOOK_LABEL",
            "value": "codebuild-gha-runner-4242-1",
            "type": "PLAINTEXT",
        },
        {"name": "CODEBUILD_WEBHOOK_RUN_ID", "value": "4242", "type": "PLAINTEXT"},
        {"name": "CODEBUILD_WEBHOOK_JOB_ID", "value": "99001", "type": "PLAINTEXT"},
        {"name": "CODEBUILD_WEBHOOK_WORKFLOW_NAME", "value": "ci", "type": "PLAINTEXT"},
    ],
)
ATTRIBUTE = build(
    "abc",
    3,
    T0,
    compute="ATTRIBUTE_BASED_COMPUTE",
    compute_configuration={"vCpu": 4, "memory": 8, "disk": 64, "machineType": "GENERAL"},
    extra_environment={
        "hostKernel": "LINUX_KERNEL_6",
        "dockerServer": {
            "computeType": "BUILD_GENERAL1_LARGE",
            "status": {"status": "RUNNING", "message": ""},
        },
    },
)
ATTRIBUTE["cache"] = {"type": "S3", "location": "bucket/cache", "cacheNamespace": "shared-ns"}
ARM_FLEET_BUILD = build("arm", 1, T0, environment="ARM_EC2", fleet="arm-fleet")
NEW_BUILDS = [RETRY_0, RUNNER, ATTRIBUTE, ARM_FLEET_BUILD]


def _client():
    return boto3.client(
        "codebuild",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_every_new_shape_validates_against_botocore_codebuild_model():
    stubber = Stubber(_client())
    stubber.add_response("batch_get_builds", {"builds": NEW_BUILDS})
    stubber.add_response(
        "batch_get_fleets",
        {
            "fleets": [
                fleet(),
                fleet("abc-fleet", compute="ATTRIBUTE_BASED_COMPUTE", environment="LINUX_EC2"),
            ]
        },
    )
    stubber.add_response("list_fleets", {"fleets": [fleet_arn("shared")]})
    stubber.add_response("batch_get_projects", {"projects": [runner_project()]})


def test_new_build_fields_become_columns():
    rows = {r.project_name: r for r in (normalise_build(b)[0] for b in NEW_BUILDS)}
    retry = rows["flaky"]
    assert (retry.auto_retry_number, retry.auto_retry_limit, retry.next_auto_retry) == (
        0,
        2,
        NEXT_ARN,
    )
    assert retry.previous_auto_retry is None
    runner = rows["gha-runner"]
    assert (runner.runner_kind, runner.runner_run_id, runner.runner_job_id) == (
        "GITHUB_ACTIONS",
        "4242",
        "99001",
    )
    assert runner.runner_workflow == "ci" and runner.runner_label == "codebuild-gha-runner-4242-1"
    abc = rows["abc"]
    assert (abc.compute_vcpu, abc.compute_memory_gb, abc.compute_disk_gb) == (4, 8, 64)
    assert abc.compute_machine_type == "GENERAL"
    assert (abc.docker_server_compute_type, abc.docker_server_status) == (
        "BUILD_GENERAL1_LARGE",
        "RUNNING",
    )
    assert (abc.cache_namespace, abc.host_kernel) == ("shared-ns", "LINUX_KERNEL_6")
    assert rows["arm"].arch == "arm64" and rows["arm"].fleet_arn == fleet_arn("arm-fleet")
    assert rows["abc"].runner_kind is None


def test_runner_project_is_recognised_by_its_webhook():
    row = normalise_project(runner_project())
    assert row.runner_kind == "GITHUB_ACTIONS" and row.auto_retry_limit == 0


def test_build_facts_carry_the_new_columns_and_project_runner_kind(db_path):
    batch = NormalisedBatch()
    for record in NEW_BUILDS:
        batch.add_build(record, origin="aws")
    plain_runner = build("gha-runner", 8, T0 + timedelta(hours=1))  # no runner variables
    batch.add_build(plain_runner, origin="aws")
    batch.projects.append(normalise_project(runner_project()))
    with connect(db_path) as con:
        write_batch(con, batch)
        facts = dict(
            con.execute(
                "SELECT build_number, runner_kind FROM build_facts WHERE project_name = 'gha-runner'"
            ).fetchall()
        )
    assert facts == {7: "GITHUB_ACTIONS", 8: "GITHUB_ACTIONS"}


def test_store_at_previous_version_migrates_in_place_keeping_rows(db_path):
    # A store written by the ciwb before fleets: schema at the previous migration, rows whose
    # raw JSON already holds the new fields (AWS sent them; old ciwb ignored them).
    con = duckdb.connect(str(db_path))
    migrate(con, target=_FLEET_MIGRATION - 1)
    for i, record in enumerate(NEW_BUILDS):
        con.execute(
            "INSERT INTO builds (build_arn, build_id, account_id, region, project_name, origin,"
            " status, build_complete, arch, fleet_arn, raw, ingested_at)"
            " VALUES (?, ?, '111122223333', 'us-east-1', ?, 'aws', ?, true, ?, ?, ?, now())",
            [
                record["arn"],
                record["id"],
                record["projectName"],
                record["buildStatus"],
                "arm64" if i == 3 else "x86_64",
                (record["environment"].get("fleet") or {}).get("fleetArn"),
                json.dumps(record, default=str),
            ],
        )
    project = runner_project()
    con.execute(
        "INSERT INTO projects (project_arn, account_id, region, name, source_type, arch, origin,"
        " raw, ingested_at) VALUES (?, '111122223333', 'us-east-1', ?, 'GITHUB', 'x86_64',"
        " 'aws', ?, now())",
        [project["arn"], project["name"], json.dumps(project, default=str)],
    )
    before = con.execute("SELECT build_arn, status, raw FROM builds ORDER BY 1").fetchall()
    con.close()
    with connect(db_path) as con:
        after = con.execute("SELECT build_arn, status, raw FROM builds ORDER BY 1").fetchall()
        derived = {
            r[0]: r[1:]
            for r in con.execute(
                "SELECT project_name, auto_retry_limit, next_auto_retry, runner_kind,"
                " runner_job_id, compute_vcpu, cache_namespace, host_kernel,"
                " docker_server_status FROM build_facts"
            ).fetchall()
        }
        project_kind = con.execute("SELECT runner_kind FROM projects").fetchall()
        fleets = con.execute("SELECT count(*) FROM fleets").fetchall()[0][0]
    assert after == before
    assert derived["flaky"][:2] == (2, NEXT_ARN)
    assert derived["gha-runner"][2:4] == ("GITHUB_ACTIONS", "99001")
    assert derived["abc"][4:] == (4, "shared-ns", "LINUX_KERNEL_6", "RUNNING")
    assert project_kind == [("GITHUB_ACTIONS",)]
    assert fleets == 0


def test_import_reads_batch_get_fleets_output(tmp_path, db_path):
    # What `aws codebuild batch-get-fleets --names shared` prints: ISO timestamps.
    doc = {"fleets": [fleet(capacity=3)], "fleetsNotFound": []}
    path = tmp_path / "fleets.json"
    path.write_text(json.dumps(doc, default=lambda d: d.isoformat()))
    summary = import_paths([path], db_path)
    assert summary.records == {"fleets": 1}
    with connect(db_path, read_only=True) as con:
        row = con.execute(
            "SELECT name, base_capacity, overflow_behavior, status, max_capacity,"
            " target_utilisation, created FROM fleets"
        ).fetchall()
    assert row == [("shared", 3, "ON_DEMAND", "ACTIVE", 6, 80.0, T0.replace(tzinfo=None))]


def test_collect_fleets_lists_then_batch_gets_every_fleet(db_path):
    from ciwb.collect.stages import collect_fleets
    from ciwb.store.writer import StoreWriter

    client = _client()
    stubber = Stubber(client)
    stubber.add_response("list_fleets", {"fleets": [fleet_arn("fa")], "nextToken": "t"})
    stubber.add_response("list_fleets", {"fleets": [fleet_arn("fb")]}, {"nextToken": "t"})
    stubber.add_response(
        "batch_get_fleets",
        {
            "fleets": [
                fleet("fa"),
                fleet("fb", environment="ARM_EC2", compute="BUILD_GENERAL1_LARGE"),
            ]
        },
        {"names": [fleet_arn("fa"), fleet_arn("fb")]},
    )
    writer = StoreWriter(db_path)
    with stubber:
        written, skips = collect_fleets(client, "111122223333", "us-east-1", writer, T0)
    writer.close()
    stubber.assert_no_pending_responses()
    assert (written, skips) == (2, [])
    with connect(db_path, read_only=True) as con:
        rows = con.execute("SELECT name, arch FROM fleets ORDER BY name").fetchall()
    assert rows == [("fa", "x86_64"), ("fb", "arm64")]
