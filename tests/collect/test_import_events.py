"""`ciwb import-events` on events as people save them: AWS's published examples as printed,
Firehose's concatenated (gzipped) objects in S3, NDJSON, arrays, directories; phase-change
events updating their build."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import boto3

from ciwb.collect import import_events
from support.queries import query as _q

FIXTURES = Path(__file__).parents[1] / "fixtures" / "aws_events"
STATE = FIXTURES / "build-state-change.json"
PHASE = FIXTURES / "build-phase-change.json"
ARN = (
    "arn:aws:codebuild:us-west-2:123456789012:build/"
    "my-sample-project:8745a7a9-c340-456a-9166-edf953571bEX"
)
BUILD_COLUMNS = (
    "SELECT build_arn, status, build_complete, current_phase, start_time, end_time, total_s,"
    " log_stream FROM builds"
)
PHASES = (
    "SELECT phase_type, status, start_time, end_time, duration_s FROM build_phases ORDER BY seq"
)
# The published build: SUCCEEDED, 4:12:29 PM → COMPLETED at 4:14:26 PM.
PUBLISHED_BUILD = (
    ARN,
    "SUCCEEDED",
    True,
    "COMPLETED",
    datetime(2017, 9, 1, 16, 12, 29),
    datetime(2017, 9, 1, 16, 14, 26),
    117.0,
    "8745a7a9-c340-456a-9166-edf953571bEX",
)


def _published_phases() -> list[tuple]:
    phases = json.loads(STATE.read_text())["detail"]["additional-information"]["phases"]
    return [p["phase-type"] for p in phases]


def test_the_documented_state_change_example_imports_as_published(db_path):
    result = import_events(STATE, db_path)

    assert result.records == {"builds": 1} and result.ignored == {}
    assert _q(db_path, BUILD_COLUMNS) == [PUBLISHED_BUILD]
    phases = _q(db_path, PHASES)
    assert [p[0] for p in phases] == _published_phases()
    assert phases[5] == (
        "BUILD",
        "SUCCEEDED",
        datetime(2017, 9, 1, 16, 13, 10),
        datetime(2017, 9, 1, 16, 14, 21),
        71.0,  # from the phase's times, like API records; the event rounds it down to 70
    )


def test_the_documented_phase_change_example_alone_makes_the_complete_build(db_path):
    result = import_events(PHASE, db_path)

    assert result.records == {"builds": 1} and result.ignored == {}
    # the status is inferred from the phases (a phase-change event carries none)
    assert _q(db_path, BUILD_COLUMNS) == [PUBLISHED_BUILD]
    assert [p[0] for p in _q(db_path, PHASES)] == _published_phases()


def _in_progress_state_event() -> dict:
    """The published example as it was sent when PROVISIONING began."""
    event = json.loads(STATE.read_text())
    detail = event["detail"]
    info = detail["additional-information"]
    detail["build-status"] = "IN_PROGRESS"
    detail["current-phase"] = "PROVISIONING"
    info["build-complete"] = False
    info["phases"] = info["phases"][:1] + [
        {"start-time": "Sep 1, 2017 4:12:29 PM", "phase-type": "PROVISIONING"}
    ]
    event["time"] = "2017-09-01T16:12:30Z"
    return event


def test_a_phase_change_event_completes_an_in_progress_build_in_the_store(tmp_path, db_path):
    first = tmp_path / "first.json"
    first.write_text(json.dumps(_in_progress_state_event(), indent=2))
    import_events(first, db_path)
    assert _q(db_path, "SELECT status, build_complete, end_time FROM builds") == [
        ("IN_PROGRESS", False, None)
    ]
    assert [p[:2] for p in _q(db_path, PHASES)] == [
        ("SUBMITTED", "SUCCEEDED"),
        ("PROVISIONING", None),
    ]

    result = import_events(PHASE, db_path)

    assert result.records == {"builds": 1}
    assert _q(db_path, BUILD_COLUMNS) == [PUBLISHED_BUILD]
    assert [p[:2] for p in _q(db_path, PHASES)][:3] == [
        ("SUBMITTED", "SUCCEEDED"),
        ("PROVISIONING", "SUCCEEDED"),
        ("DOWNLOAD_SOURCE", "SUCCEEDED"),
    ]
    assert len(_q(db_path, PHASES)) == len(_published_phases())


def test_a_failed_phase_in_a_phase_change_event_fails_the_build(tmp_path, db_path):
    event = json.loads(PHASE.read_text())
    for phase in event["detail"]["additional-information"]["phases"]:
        if phase["phase-type"] == "BUILD":
            phase["phase-status"] = "FAILED"
    path = tmp_path / "failed.json"
    path.write_text(json.dumps(event))

    import_events(path, db_path)

    assert _q(db_path, "SELECT status, build_complete FROM builds") == [("FAILED", True)]


def _compact(path: Path) -> str:
    return json.dumps(json.loads(path.read_text()), separators=(",", ":"))


def test_every_saved_shape_gives_the_same_build(tmp_path):
    shapes = {
        "ndjson": _compact(PHASE) + "\n" + _compact(STATE) + "\n",
        "pretty": PHASE.read_text() + "\n" + STATE.read_text(),
        "array": json.dumps([json.loads(PHASE.read_text()), json.loads(STATE.read_text())]),
        "concatenated": _compact(PHASE) + _compact(STATE),
    }
    expected = None
    for name, text in shapes.items():
        path = tmp_path / f"{name}.json"
        path.write_text(text)
        db = tmp_path / f"{name}.duckdb"
        result = import_events(path, db)
        assert result.pages == 2 and result.records == {"builds": 1}, name
        rows = (_q(db, BUILD_COLUMNS), _q(db, PHASES))
        expected = expected or rows
        assert rows == expected, name
    assert expected[0] == [PUBLISHED_BUILD]

    gz_dir = tmp_path / "dir"
    (gz_dir / "2017" / "09").mkdir(parents=True)
    (gz_dir / "2017" / "09" / "events-1").write_bytes(
        gzip.compress(shapes["concatenated"].encode())
    )
    result = import_events(gz_dir, tmp_path / "dir.duckdb")
    assert result.pages == 2 and result.files == 1
    assert (_q(tmp_path / "dir.duckdb", BUILD_COLUMNS), _q(tmp_path / "dir.duckdb", PHASES)) == (
        expected
    )


def test_a_firehose_gzip_object_in_s3_imports(aws_env, db_path):
    """Firehose writes records concatenated with no separator, gzipped, under a dated prefix."""
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="events-archive")
    body = gzip.compress((_compact(STATE) + _compact(PHASE)).encode())
    s3.put_object(
        Bucket="events-archive",
        Key="codebuild/2017/09/01/16/events-1-2017-09-01-16-14-28-0f8e3c0e",
        Body=body,
    )

    result = import_events("s3://events-archive/codebuild/", db_path)

    assert result.files == 1 and result.pages == 2 and result.records == {"builds": 1}
    assert _q(db_path, BUILD_COLUMNS) == [PUBLISHED_BUILD]


def test_import_events_cli_takes_the_published_files_and_says_where_it_wrote(tmp_path, db_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CIWB_"))}
    run = subprocess.run(
        [sys.executable, "-m", "ciwb", "import-events", str(STATE), str(PHASE)]
        + ["--db", str(db_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert run.returncode == 0, run.stderr
    assert "2 pages/lines from 2 file(s); builds 1" in run.stdout
    assert f"store: {db_path}" in run.stdout
    assert _q(db_path, BUILD_COLUMNS) == [PUBLISHED_BUILD]
