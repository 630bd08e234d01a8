"""Import: raw archives (`--save-raw`), AWS CLI JSON and EventBridge events."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from ciwb.collect import CollectOptions, collect, import_events, import_paths
from ciwb.errors import CiwbError
from support.aws import REGION
from support.collect_history import history
from support.queries import query as _q

BUILD_COLUMNS = "* EXCLUDE (ingested_at, raw)"


def _options(db_path, **kw):
    return CollectOptions(regions=[REGION], db=db_path, batches=False, reports=False, **kw)


def test_save_raw_archive_imports_to_the_same_rows_as_the_live_run(codebuild_server, tmp_path):
    projects, builds = history(400)
    codebuild_server.seed(projects, builds)
    live_db, imported_db, raw = tmp_path / "live.duckdb", tmp_path / "imp.duckdb", tmp_path / "raw"

    summary = collect(_options(live_db, save_raw=raw))
    pages = [json.loads(line) for line in open(summary.raw_archive)]
    # every page but the STS identity call, made before the run (and its archive) starts
    assert (
        len(pages) == sum(summary.api_calls.values()) - summary.api_calls["sts.GetCallerIdentity"]
    )
    assert {p["operation"] for p in pages} >= {
        "ListBuildsForProject",
        "BatchGetBuilds",
        "GetMetricData",
        "BatchGetProjects",
    }

    result = import_paths([raw], imported_db)

    assert result.records["builds"] == sum(len(b) for b in builds.values())
    for table, order in (
        ("projects", "project_arn"),
        ("builds", "build_arn"),
        ("build_phases", "build_arn, seq"),
        ("build_metrics", "build_arn, metric_name"),
    ):
        cols = "* EXCLUDE (ingested_at)" if table in ("projects", "builds") else "*"
        live = _q(live_db, f"SELECT {cols} FROM {table} ORDER BY {order}")
        assert live and _q(imported_db, f"SELECT {cols} FROM {table} ORDER BY {order}") == live


@pytest.mark.parametrize("timestamps", ["iso", "epoch"])
def test_aws_cli_batch_get_json_imports_like_the_api(codebuild_server, tmp_path, timestamps):
    projects, builds = history(100)
    codebuild_server.seed(projects, builds)
    live_db = tmp_path / "live.duckdb"
    collect(_options(live_db, metrics=False))
    client = codebuild_server.client()
    ids = [b["id"] for bs in builds.values() for b in bs]

    def dump(value):  # as `aws codebuild ...` prints timestamps (cli_timestamp_format)
        return value.isoformat() if timestamps == "iso" else value.timestamp()

    out = tmp_path / "export"
    out.mkdir()
    for n in range(0, len(ids), 100):
        response = client.batch_get_builds(ids=ids[n : n + 100])
        response.pop("ResponseMetadata")
        (out / f"builds-{n}.json").write_text(json.dumps(response, indent=4, default=dump))
    response = client.batch_get_projects(names=[p["name"] for p in projects])
    response.pop("ResponseMetadata")
    (out / "projects.json").write_text(json.dumps(response, indent=4, default=dump))

    imported = tmp_path / "cli.duckdb"
    result = import_paths([out], imported)

    assert result.records == {"builds": len(ids), "projects": len(projects)}
    for table, order in (("builds", "build_arn"), ("projects", "project_arn")):
        assert _q(imported, f"SELECT {BUILD_COLUMNS} FROM {table} ORDER BY {order}") == _q(
            live_db, f"SELECT {BUILD_COLUMNS} FROM {table} ORDER BY {order}"
        )
    assert _q(imported, "SELECT * FROM build_phases ORDER BY 1, 2") == _q(
        live_db, "SELECT * FROM build_phases ORDER BY 1, 2"
    )


def test_archive_with_a_truncated_last_line_loads_the_complete_lines(tmp_path, db_path):
    archive = tmp_path / "ciwb-raw-x.ndjson"
    line = {
        "v": 1,
        "service": "codebuild",
        "operation": "BatchGetProjects",
        "region": REGION,
        "request": {},
        "response": {
            "projects": [
                {
                    "name": "p",
                    "arn": f"arn:aws:codebuild:{REGION}:123456789012:project/p",
                    "environment": {"type": "ARM_CONTAINER"},
                }
            ]
        },
    }
    archive.write_text(json.dumps(line) + "\n" + json.dumps(line)[:40])

    assert import_paths([archive], db_path).records == {"projects": 1}
    assert _q(db_path, "SELECT name, arch FROM projects") == [("p", "arm64")]


def test_import_of_something_else_is_one_clear_error(tmp_path, db_path):
    bad = tmp_path / "notes.json"
    bad.write_text('{"hello": "world"}')
    with pytest.raises(CiwbError, match="no CodeBuild records found"):
        import_paths([bad], db_path)
    with pytest.raises(CiwbError, match="no such file"):
        import_paths([tmp_path / "missing.json"], db_path)


ARN = (
    "arn:aws:codebuild:us-west-2:123456789012:build/"
    "my-sample-project:8745a7a9-c340-456a-9166-edf953571bEX"
)


def _event(status, complete, phases, current):
    # Shape from the CodeBuild user guide's "Build State Change" sample.
    return {
        "version": "0",
        "id": "bfdc1220-60ff-44dc-9b93-aef9a0e6a5b9",
        "detail-type": "CodeBuild Build State Change",
        "source": "aws.codebuild",
        "account": "123456789012",
        "time": "2017-09-01T16:14:21Z",
        "region": "us-west-2",
        "resources": [ARN],
        "detail": {
            "build-status": status,
            "project-name": "my-sample-project",
            "build-id": ARN,
            "current-phase": current,
            "current-phase-context": "[]",
            "version": "1",
            "additional-information": {
                "artifact": {"location": "arn:aws:s3:::codebuild-artifact/out.zip"},
                "environment": {
                    "image": "aws/codebuild/standard:7.0",
                    "privileged-mode": False,
                    "compute-type": "BUILD_GENERAL1_SMALL",
                    "type": "ARM_CONTAINER",
                    "environment-variables": [],
                },
                "timeout-in-minutes": 60,
                "build-complete": complete,
                "initiator": "MyCodeBuildDemoUser",
                "build-start-time": "Sep 1, 2017 4:12:29 PM",
                "source": {"location": "codebuild-src/app.zip", "type": "S3"},
                "logs": {
                    "group-name": "/aws/codebuild/my-sample-project",
                    "stream-name": "8745a7a9-c340-456a-9166-edf953571bEX",
                },
                "build-number": 7.0,
                "phases": phases,
            },
        },
    }


def _phase(kind, start, end=None, seconds=None, status="SUCCEEDED", context=None):
    phase = {"phase-context": context or [], "start-time": start, "phase-type": kind}
    if end:
        phase.update({"end-time": end, "duration-in-seconds": seconds, "phase-status": status})
    return phase


def test_eventbridge_state_change_events_become_builds_and_phases(tmp_path, db_path):
    done = [
        _phase("SUBMITTED", "Sep 1, 2017 4:12:29 PM", "Sep 1, 2017 4:12:29 PM", 0),
        _phase("PROVISIONING", "Sep 1, 2017 4:12:29 PM", "Sep 1, 2017 4:13:05 PM", 36),
        _phase(
            "BUILD",
            "Sep 1, 2017 4:13:05 PM",
            "Sep 1, 2017 4:14:20 PM",
            75,
            "FAILED",
            [": Error while executing command: make. Reason: exit status 2"],
        ),
        _phase("COMPLETED", "Sep 1, 2017 4:14:21 PM"),
    ]
    running = [done[0], _phase("PROVISIONING", "Sep 1, 2017 4:12:29 PM")]
    phase_change = {
        "detail-type": "CodeBuild Build Phase Change",
        "source": "aws.codebuild",
        "detail": {"completed-phase": "BUILD"},
    }
    events = tmp_path / "events.ndjson"
    # the final event first: the complete record must win whatever the order
    events.write_text(
        "\n".join(
            json.dumps(e)
            for e in (
                _event("FAILED", True, done, "COMPLETED"),
                phase_change,
                _event("IN_PROGRESS", False, running, "PROVISIONING"),
            )
        )
        + "\n"
    )

    result = import_events(events, db_path)

    assert result.records == {"builds": 1}
    assert result.ignored == {"CodeBuild Build Phase Change": 1}
    build = _q(
        db_path,
        "SELECT status, build_complete, start_time, end_time, total_s, arch, "
        "build_number, log_stream, region FROM builds",
    )[0]
    assert build == (
        "FAILED",
        True,
        datetime(2017, 9, 1, 16, 12, 29),
        datetime(2017, 9, 1, 16, 14, 21),
        112.0,
        "arm64",
        7,
        "8745a7a9-c340-456a-9166-edf953571bEX",
        "us-west-2",
    )
    phases = _q(
        db_path,
        "SELECT phase_type, status, duration_s, context_message FROM build_phases ORDER BY seq",
    )
    assert phases[1] == ("PROVISIONING", "SUCCEEDED", 36.0, None)
    assert phases[2] == (
        "BUILD",
        "FAILED",
        75.0,
        "Error while executing command: make. Reason: exit status 2",
    )
    assert len(phases) == 4


def test_events_file_with_a_broken_line_names_the_line(tmp_path, db_path):
    events = tmp_path / "events.ndjson"
    events.write_text('{"detail-type": "x"}\n{not json\n')
    with pytest.raises(CiwbError, match=r"events.ndjson:2: not valid JSON"):
        import_events(events, db_path)
